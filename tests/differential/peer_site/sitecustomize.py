"""Imported by MLflow Recipes' own Python processes when the differential harness runs it (PYTHONPATH).

Two changes to the peer's process, neither to what it computes:

1. Pool workers start from a forkserver. Its classification split forks a multiprocessing pool from each
   thread of a thread pool (mlflow/recipes/steps/split.py `_perform_stratified_split_per_class` ->
   `_parallelize`); a fork taken while another thread holds a lock deadlocks now and then (seen here: split
   asleep for 13 minutes, twice in one hour). The split's result does not depend on how its workers start.

2. Its rebalancing is seeded. `TrainStep._rebalance_classes` (steps/train.py) down-samples the majority class
   with `DataFrame.sample(n)` and then shuffles with `DataFrame.sample(frac=1)`, both without a seed, so its
   model and every metric after it changed from run to run (validation F1 of the published classification
   example: 0.858, 0.868, 0.903, 0.925 on four runs). While that method runs, a `sample` call that passes no
   `random_state` gets RESAMPLING_SEED, the seed recipe-assets uses for the same rule; nothing else in the
   process is touched. The peer's rows, counts and order are otherwise its own.
"""
import contextlib
import importlib.abc
import importlib.util
import multiprocessing
import sys

RESAMPLING_SEED = 42  # recipe_assets' RESAMPLING_SEED: both systems then keep the same rows in the same order
TRAIN_MODULE = "mlflow.recipes.steps.train"

try:
    multiprocessing.set_start_method("forkserver")
except RuntimeError:  # already set by the program itself
    pass


@contextlib.contextmanager
def seeded_frame_sampling(seed: int):
    """`DataFrame.sample` without a `random_state` uses `seed` (a fresh generator per call), inside the block."""
    import pandas as pd

    unseeded = pd.DataFrame.sample

    def sample(self, *args, **kwargs):
        if kwargs.get("random_state") is None and len(args) < 5:  # random_state is sample's 5th positional parameter
            kwargs["random_state"] = seed
        return unseeded(self, *args, **kwargs)

    pd.DataFrame.sample = sample
    try:
        yield
    finally:
        pd.DataFrame.sample = unseeded


def seed_rebalancing(module) -> None:
    step = module.TrainStep
    unseeded = step._rebalance_classes

    def _rebalance_classes(self, train_df):
        with seeded_frame_sampling(RESAMPLING_SEED):
            return unseeded(self, train_df)

    step._rebalance_classes = _rebalance_classes
    step._rebalance_classes_seeded_by_harness = True  # the harness's probe asserts the patch took effect


class SeedRebalancingOnImport(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Finds the peer's train module through the normal finders, then patches it right after it executes."""

    def find_spec(self, fullname, path, target=None):
        if fullname != TRAIN_MODULE:
            return None
        sys.meta_path.remove(self)  # let the real finders locate it
        try:
            spec = importlib.util.find_spec(fullname)
        finally:
            sys.meta_path.insert(0, self)
        if spec is None or spec.loader is None:
            return None
        self.real_loader = spec.loader
        spec.loader = self
        return spec

    def create_module(self, spec):
        return self.real_loader.create_module(spec)

    def exec_module(self, module):
        self.real_loader.exec_module(module)
        seed_rebalancing(module)


sys.meta_path.insert(0, SeedRebalancingOnImport())
