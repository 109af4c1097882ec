"""One run of a recipe at a time.

Two runs of one recipe would write the same outputs, log two models and race to register them. A run
therefore holds `<recipe root>/metadata/recipe.lock` (an OS file lock: a killed process releases it with
its last file descriptor, so a crash never leaves the recipe locked). `recipe-assets run` waits for the
holder to finish, then re-checks what is stale, so a second run started at the same moment finds the
first one's outputs and has nothing to do. A run that Dagster starts itself (the `dagster` CLI, the UI, a
sensor through the daemon) takes the lock when its IO manager starts and fails at once, naming the holder,
when another run has it: a Dagster run cannot wait without holding a run slot.

Step subprocesses of a run that holds the lock (multiprocess executor) inherit HELD_ENV and do not take
it again.
"""
from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from recipe_assets.core.errors import RecipeError

LOCK_FILE = "recipe.lock"
HOLDER_FILE = "recipe.lock.holder"
HELD_ENV = "RECIPE_ASSETS_HELD_LOCK"
WAIT_ENV = "RECIPE_LOCK_WAIT_SECONDS"
DEFAULT_WAIT_SECONDS = 3600.0

_held_here: dict[str, object] = {}


class RecipeBusy(RecipeError):
    """Another run holds the recipe."""


def lock_path(metadata_dir: Path) -> Path:
    return Path(metadata_dir) / LOCK_FILE


def wait_seconds() -> float:
    text = os.environ.get(WAIT_ENV)
    try:
        return float(text) if text else DEFAULT_WAIT_SECONDS
    except ValueError:
        raise RecipeError(f"{WAIT_ENV}={text!r}: expected a number of seconds") from None


def is_held_by_this_run(path: Path) -> bool:
    return str(path) in _held_here or os.environ.get(HELD_ENV) == str(path)


def holder_text(path: Path) -> str:
    try:
        return (path.parent / HOLDER_FILE).read_text().strip() or "unknown process"
    except OSError:
        return "unknown process"


def busy_message(path: Path) -> str:
    return f"another run holds the recipe ({holder_text(path)}; lock {path}); try again when it has finished"


@contextmanager
def hold_recipe(metadata_dir: Path, wait: float = 0.0, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the recipe for the block; wait up to `wait` seconds for another run to let go."""
    path = lock_path(metadata_dir)
    if is_held_by_this_run(path):
        yield
        return
    release = acquire(path, wait, on_wait)
    try:
        yield
    finally:
        release()


def acquire(path: Path, wait: float = 0.0, on_wait: Callable[[str], None] | None = None) -> Callable[[], None]:
    """Take the lock (or fail with RecipeBusy); returns the function that gives it back."""
    from filelock import FileLock, Timeout

    path.parent.mkdir(parents=True, exist_ok=True)
    lock = FileLock(str(path), is_singleton=False)
    try:
        lock.acquire(timeout=0)
    except Timeout:
        if wait <= 0:
            raise RecipeBusy(busy_message(path)) from None
        if on_wait is not None:
            on_wait(f"waiting: another run holds the recipe ({holder_text(path)})")
        try:
            lock.acquire(timeout=wait)
        except Timeout:
            raise RecipeBusy(busy_message(path) + f" (waited {wait:.0f} s)") from None
    (path.parent / HOLDER_FILE).write_text(f"pid {os.getpid()}: {' '.join(sys.argv)[:200]}, since {time.strftime('%H:%M:%S')}\n")
    previous_env = os.environ.get(HELD_ENV)
    os.environ[HELD_ENV] = str(path)
    _held_here[str(path)] = lock

    def release() -> None:
        _held_here.pop(str(path), None)
        if previous_env is None:
            os.environ.pop(HELD_ENV, None)
        else:
            os.environ[HELD_ENV] = previous_env
        lock.release()

    return release


@contextmanager
def creating_instance(instance_dir: Path) -> Iterator[None]:
    """Two processes opening a new SQLite instance at once both create its tables, and one fails with
    `table secondary_indexes already exists`: creation is serialized."""
    from filelock import FileLock

    instance_dir.mkdir(parents=True, exist_ok=True)
    with FileLock(str(instance_dir / ".create.lock"), is_singleton=False):
        yield
