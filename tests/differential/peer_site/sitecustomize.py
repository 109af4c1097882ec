"""Imported by MLflow Recipes' own Python processes when the differential harness runs it (PYTHONPATH).

Its classification split forks a multiprocessing pool from each thread of a thread pool
(mlflow/recipes/steps/split.py `_perform_stratified_split_per_class` -> `_parallelize`); a fork taken
while another thread holds a lock deadlocks now and then (seen here: split asleep for 13 minutes, twice in
one hour). With "forkserver" the pool's workers start from a clean single-threaded server instead. The
split's result does not depend on how its workers start (each row's hash is computed the same way).
"""
import multiprocessing

try:
    multiprocessing.set_start_method("forkserver")
except RuntimeError:  # already set by the program itself
    pass
