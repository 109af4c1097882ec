"""Where asset values live between steps: Parquet for DataFrames, pickles for fitted objects.

Every write goes to a temporary file in the same folder and is renamed into place, so a failed or
interrupted step never leaves a half-written output behind the previous good one.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from dagster import AssetKey, ConfigurableIOManager, DagsterInstance, InitResourceContext, InputContext, MetadataValue, OutputContext

from recipe_assets.core.atomic import write_atomically
from recipe_assets.core.code_ledger import write_noted
from recipe_assets.core.keys import asset_key
from recipe_assets.core.user_code import use_recipe_steps
from recipe_assets.data import remote_outputs
from recipe_assets.data.heap import release_freed_memory, share_heap_with_numpy
from recipe_assets.data.recipe_lock import acquire, is_held_by_this_run, lock_path
from recipe_assets.data.remote_outputs import is_remote
from recipe_assets.data.remote_outputs import write_output as write_remote_output
from recipe_assets.data.run_guards import check_running_instance

PARQUET = ".parquet"
PICKLE = ".pkl"
SHA256 = "sha256"  # materialization metadata of an output stored in S3: the digest its bytes must match
# an input (`AssetIn(metadata={DEFERRED: True})`) handed to the step as its StoredOutput, read when the step
# calls `.read()`: a step that may not need an input (evaluate's fast path) does not pay to unpickle it
DEFERRED = "recipe_assets/deferred"


def output_path(base_dir: Path, name: str) -> Path | None:
    """The stored file of an output, whichever format it was written in."""
    for suffix in (PARQUET, PICKLE):
        candidate = base_dir / f"{name}{suffix}"
        if candidate.exists():
            return candidate
    return None


class StoresOutputs(Protocol):
    """A recipe, as far as its stored outputs go (`RecipeSettings`, or the engine's loaded recipe)."""

    root: Path
    name: str  # the recipe's name: the first part of its asset keys
    outputs_base: str  # `execution.outputs_location` (s3://bucket/prefix) or `<recipe root>/metadata/outputs`


@dataclass(frozen=True)
class StoredOutput:
    """One output as the IO manager stored it: a file in the local folder or an object under the S3 prefix."""

    location: str  # a local path or an s3:// URL
    recipe_root: Path
    asset: str = ""  # the asset's key, for messages
    sha256: str | None = None  # of an object in S3: what its materialization recorded

    @property
    def is_table(self) -> bool:
        return self.location.endswith(PARQUET)

    def read(self) -> Any:
        if is_remote(self.location):
            value = remote_outputs.read_object(self.location, self.recipe_root, self.asset, self.sha256)
        else:
            value = read_output(Path(self.location), self.recipe_root)
        # what is read next (the step's body, or its other inputs) starts from a heap without what the last
        # step and this read freed (Arrow buffers, file bytes); releasing after writes too measured no lower
        # peak, only refaulted pages (+0.35 s at 1M rows)
        release_freed_memory()
        return value


def recorded_sha256(instance: DagsterInstance, key: AssetKey) -> str | None:
    """The SHA-256 the latest materialization of `key` recorded for its object in S3."""
    event = instance.get_latest_materialization_event(key)
    if event is None or event.asset_materialization is None:
        return None
    value = event.asset_materialization.metadata.get(SHA256)
    return None if value is None else str(value.value)


def stored_output_at(base_dir: str, key: AssetKey, recipe_root: Path, instance: DagsterInstance | None) -> StoredOutput | None:
    """The stored output of `key`; for an object in S3, with the digest `instance` recorded for it (none
    without an instance: such an object is then refused when read)."""
    name = key.path[-1]
    if is_remote(base_dir):
        url = remote_outputs.stored_url(base_dir, name)
        if url is None:
            return None
        return StoredOutput(url, recipe_root, key.to_user_string(), None if instance is None else recorded_sha256(instance, key))
    path = output_path(Path(base_dir), name)
    return None if path is None else StoredOutput(str(path), recipe_root, key.to_user_string())


def stored_output(recipe: StoresOutputs, name: str, instance: DagsterInstance) -> StoredOutput | None:
    """Output `name` of the recipe wherever its profile stores outputs, None when it is not stored: what
    `Recipe.get_artifact`, `get-artifact`, `clean` and the run summary read, as the steps do. Objects in S3
    are checked against the digest `instance` recorded for them when they are read."""
    return stored_output_at(recipe.outputs_base, asset_key(recipe.name, name), recipe.root, instance)


def remove_stored_output(recipe: StoresOutputs, name: str) -> None:
    base_dir = recipe.outputs_base
    if is_remote(base_dir):
        remote_outputs.remove_output(base_dir, name)
        return
    import shutil

    for suffix in (PARQUET, PICKLE):
        (Path(base_dir) / f"{name}{suffix}").unlink(missing_ok=True)
    # outputs stored as a folder of parts (batch scoring) go too
    folder = Path(base_dir) / name
    if folder.is_dir():
        shutil.rmtree(folder)


def sweep_temp_files(folders: list[tuple[Path, str]]) -> list[Path]:
    """Remove what a killed run left half-written: our temp files (`.<name>.*.tmp`) and staging folders
    (`.<name>.*`) in each (folder, name prefix). Only called while holding the recipe's lock, when no
    other run of it is writing."""
    import shutil

    removed = []
    for folder, prefix in folders:
        if not folder.is_dir():
            continue
        for path in folder.glob(f".{prefix}*"):
            if path.is_file() and path.name.endswith(".tmp"):
                path.unlink(missing_ok=True)
            elif path.is_dir() and path.name.count(".") >= 2 and not path.name.startswith((".git", ".ipynb")):
                shutil.rmtree(path, ignore_errors=True)
            else:
                continue
            removed.append(path)
    return removed


def read_output(path: Path, recipe_root: Path) -> Any:
    """A stored output. Pickled transformers and models refer to functions in the recipe's `steps/`
    by module name, so that package must be importable first, even in a fresh process."""
    if path.suffix == PARQUET:
        import pandas as pd

        return pd.read_parquet(path)
    import cloudpickle

    use_recipe_steps(recipe_root)
    return cloudpickle.loads(path.read_bytes())


_RELEASES: dict[int, object] = {}  # lock releases of the IO managers that took the recipe's lock


class RecipeIOManager(ConfigurableIOManager):
    """Stores each output under `<recipe root>/metadata/outputs/<asset name>`, or under the profile's
    `execution.outputs_location` (s3://bucket/prefix)."""

    base_dir: str
    recipe_root: str
    expected_instance: str = ""  # the recipe's Dagster instance (recipe_assets/engine/instance.py); empty: not checked
    instance_home: str = ""
    # steps on Celery or Kubernetes workers run in processes the launcher's lock cannot reach (no inherited
    # environment, often another machine): there the launcher alone holds the recipe
    lock_in_steps: bool = True

    def setup_for_execution(self, context: InitResourceContext) -> None:
        if self.expected_instance and context.instance is not None:
            # before any step writes: outputs and the versions recorded for them must stay together

            check_running_instance(context.instance, self.recipe_root, self.expected_instance, self.instance_home)
        share_heap_with_numpy()
        if self.lock_in_steps:
            self._hold_recipe()
        write_noted(self.recipe_root)  # a run Dagster launched itself: the ledger of the code versions it runs

    def _hold_recipe(self) -> None:
        """A run Dagster started itself (UI, `dagster` CLI, daemon) holds the recipe while it writes, or
        fails at once when another run does; `recipe-assets run` already holds it (recipe_lock.py)."""
        lock = lock_path(Path(self.recipe_root) / "metadata")
        if not is_held_by_this_run(lock):
            _RELEASES[id(self)] = acquire(lock)

    def teardown_after_execution(self, context: InitResourceContext) -> None:
        release = _RELEASES.pop(id(self), None)
        if release is not None:
            release()

    def _base(self) -> Path:
        return Path(self.base_dir)

    def handle_output(self, context: OutputContext, obj: Any) -> None:
        import pandas as pd

        name = context.asset_key.path[-1]
        if is_remote(self.base_dir):  # execution.outputs_location: s3://... (recipe_assets/data/remote_outputs.py)
            url, sha256 = write_remote_output(self.base_dir, name, obj)
            context.add_output_metadata({"path": MetadataValue.path(url), SHA256: MetadataValue.text(sha256)})
            return
        if isinstance(obj, pd.DataFrame):
            path = self._base() / f"{name}{PARQUET}"
            # the index is kept as MLflow Recipes kept it (a plain 0..n-1 index costs only a line of metadata):
            # the split's row hash covers it, and users' step code may read it
            write_atomically(path, lambda target: obj.to_parquet(target))
        else:
            import cloudpickle

            path = self._base() / f"{name}{PICKLE}"
            payload = cloudpickle.dumps(obj)
            write_atomically(path, lambda target: Path(target).write_bytes(payload))
        stale = path.with_suffix(PICKLE if path.suffix == PARQUET else PARQUET)
        stale.unlink(missing_ok=True)
        context.add_output_metadata({"path": MetadataValue.path(str(path))})

    def load_input(self, context: InputContext) -> Any:
        # the instance holds the digests of objects in S3; local outputs need none (and a test's context may have no instance)
        instance = context.instance if is_remote(self.base_dir) else None
        stored = stored_output_at(self.base_dir, context.asset_key, Path(self.recipe_root), instance)
        if stored is None:
            raise FileNotFoundError(
                f"no stored output for {context.asset_key.to_user_string()} under {self.base_dir}; "
                "materialize it first (it may have been cleaned)"
            )
        if context.definition_metadata.get(DEFERRED):
            return stored
        return stored.read()
