"""The no-op answer of `recipe-assets run`, without opening Dagster.

A `run` that ends with every selected output up to date writes a stamp into the recipe's metadata folder
(beside the Dagster instance folder, whose every file it watches): a digest of everything that decides what Dagster would find stale (the recipe's files and step code,
the environment, our package and the installed packages, the instance's own files), the state of every file
and folder the recipe's sources read, and the lines the run printed as a no-op. The next `run` with the same
arguments compares those first and, when nothing differs, prints the lines again: answering "nothing to do"
costs a stat per watched file instead of importing Dagster and querying its instance (two seconds).

It is a cache in front of Dagster's staleness, so it errs towards falling back: any difference, a missing or
unreadable stamp, an instance that is not the local SQLite one, a tracking server or a source that is not a
local file (all refused when the stamp is written) means the full path runs, and the full path writes the
stamp again. Only the standard library is imported here, which is the point.
"""
from __future__ import annotations

import hashlib
import json
import os
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

STAMP_NAME = "recipe-assets-up-to-date.json"
STAMP_FORMAT = 1
PACKAGE_DIR = Path(__file__).resolve().parents[1]
# environment variables whose value can change what a run does or prints
WATCHED_ENV_PREFIXES = ("RECIPE_", "MLFLOW_", "DAGSTER_", "AWS_", "PYTHON")
WATCHED_ENV_NAMES = ("PATH", "HOME", "VIRTUAL_ENV")


def stamp_path(metadata_dir: Path) -> Path:
    return metadata_dir / STAMP_NAME


def _file_states(paths: Iterable[Path]) -> list[list]:
    """(path, size, inode, mtime, ctime) of each file, size -1 for a folder. A folder's times change when a
    file is added to it or removed, which is how a new file matching a glob is seen; ctime changes on every
    write and cannot be set back (cp -p, touch -d set mtime only), so same-size rewrites are seen too."""
    states = []
    for path in paths:
        try:
            status = path.stat()
        except OSError:
            states.append([str(path), None])
            continue
        size = -1 if path.is_dir() else status.st_size
        states.append([str(path), size, status.st_ino, status.st_mtime_ns, status.st_ctime_ns])
    return states


def _tree(folder: Path) -> list[Path]:
    """A folder with every file and subfolder under it (sorted), bytecode caches left out."""
    if not folder.is_dir():
        return [folder]
    found = [folder]
    for parent, folders, files in os.walk(folder):
        folders[:] = sorted(name for name in folders if name != "__pycache__")
        found += [Path(parent) / name for name in folders]
        found += [Path(parent) / name for name in sorted(files)]
    return found


def watched_environment() -> dict[str, str]:
    """The variables that can change what a run does or prints, as the process started with them (take it
    before a run: the run itself sets MLflow's variables)."""
    return {k: v for k, v in os.environ.items() if k.startswith(WATCHED_ENV_PREFIXES) or k in WATCHED_ENV_NAMES}


def recipe_key(root: Path, profile: str, step: str | None, instance_dir: Path, environment: dict[str, str]) -> str:
    """A digest of what decides staleness besides the source data: the arguments, the recipe's config, step
    code and own Dagster definitions (defs.py), the relevant environment, our package's files and the installed packages (each
    site-packages folder's mtime changes when a package is added, removed or upgraded), and the Dagster
    instance's files (a run or materialization from anywhere else changes them)."""
    digest = hashlib.sha256()
    digest.update(json.dumps([STAMP_FORMAT, str(root), profile, step, sys.executable]).encode())
    for path in [root / "recipe.yaml", root / "defs.py", *_tree(root / "profiles"), *_tree(root / "steps")]:
        if path.is_file():
            digest.update(str(path).encode() + b"\0" + path.read_bytes() + b"\0")
    digest.update(json.dumps(sorted(environment.items())).encode())
    site_folders = [Path(p) for p in sys.path if p.endswith("site-packages")]
    watched = [*_tree(PACKAGE_DIR), *_tree(PACKAGE_DIR.parent / "profiles"), *site_folders, *_tree(instance_dir)]
    digest.update(json.dumps(_file_states(watched)).encode())
    return digest.hexdigest()


def write_stamp(metadata_dir: Path, key: str, watched: Sequence[Path], lines: Sequence[str]) -> None:
    """Record a no-op answer. `watched`: every file and folder the recipe's sources read (see source_watch)."""
    from recipe_assets.core.atomic import write_text_atomically

    stamp = {"format": STAMP_FORMAT, "key": key, "watched": _file_states(watched), "lines": list(lines)}
    write_text_atomically(stamp_path(metadata_dir), json.dumps(stamp))


def forget_stamp(metadata_dir: Path) -> None:
    stamp_path(metadata_dir).unlink(missing_ok=True)


def stamped_answer(metadata_dir: Path, key: str) -> list[str] | None:
    """The lines of the recorded no-op when nothing it depends on changed, else None."""
    try:
        stamp = json.loads(stamp_path(metadata_dir).read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(stamp, dict) or stamp.get("format") != STAMP_FORMAT or stamp.get("key") != key:
        return None
    watched = stamp.get("watched") or []
    if _file_states(Path(state[0]) for state in watched) != watched:
        return None
    return stamp.get("lines")


def source_watch(files: Iterable[Path], locations: Iterable[Path]) -> list[Path]:
    """What to watch for a source: the files it read, and every folder under each location (for a glob,
    the folder before its first wildcard), so that a file added anywhere a location reaches is seen."""
    watched = list(files)
    for location in locations:
        text = str(location)
        cut = min([text.index(ch) for ch in "*?[" if ch in text], default=None)
        prefix = text[:cut] if cut is not None else None
        base = location if prefix is None else Path(prefix) if prefix.endswith("/") else Path(prefix).parent
        base = base if base.is_dir() else base.parent
        watched += [path for path in _tree(base) if path.is_dir()]
    return watched
