"""The code-version ledger: what went into each code version (our implementation's files, the config
slice, the user's step files), so `inspect` can say *why* a step is stale ("steps/train.py changed",
"steps.evaluate.validation_criteria changed").

A code version is computed when definitions load, and only noted in memory then: loading definitions
(`dagster definitions validate`, the UI, `inspect`) writes nothing. The notes are written to
`<recipe root>/metadata/code_versions/<version>.json` when a run starts (`write_noted`), by the runner and
by the IO manager of a run Dagster launched itself.
"""
from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from recipe_assets.core.atomic import write_text_atomically
from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.user_code import source_digest, step_file
from recipe_assets.core.versioning import code_version

LEDGER_DIR = ("metadata", "code_versions")
_NOTED: dict[tuple[str, str], tuple[list[str], list[str], list[str]]] = {}  # (root, version) -> ingredients


def step_code_version(implementation: "str | Path | list[Path]", config_parts: list[str], root: Path | str, user_modules: list[str]) -> str:
    """A step's code version, noted for the ledger."""
    digest = source_digest(Path(root), user_modules) if user_modules else ""
    files = [str(implementation)] if isinstance(implementation, (str, Path)) else [str(f) for f in implementation]
    version = code_version(files, "\n".join(config_parts), digest)
    _NOTED[(str(Path(root)), version)] = (files, list(config_parts), list(user_modules))
    return version


def write_noted(root: Path | str) -> None:
    """Write the ledger entries of the code versions noted for this recipe, once each. A recipe on a
    read-only or full disk just loses the explanation, never the run."""
    root = Path(root)
    for (noted_root, version), (files, config_parts, user_modules) in list(_NOTED.items()):
        if noted_root != str(root):
            continue
        target = root.joinpath(*LEDGER_DIR, f"{version}.json")
        if target.exists():
            continue
        try:
            write_text_atomically(target, json.dumps(ingredients(files, config_parts, root, user_modules), indent=1))
        except (OSError, RecipeDataError):
            pass


def read_entry(root: Path, version: str | None) -> dict[str, Any] | None:
    """What went into `version`: noted by this process (the definitions it loaded), else as a run wrote it."""
    if not version:
        return None
    noted = _NOTED.get((str(Path(root)), version))
    if noted is not None:
        files, config_parts, user_modules = noted
        return ingredients(files, config_parts, Path(root), user_modules)
    path = root.joinpath(*LEDGER_DIR, f"{version}.json")
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


def ingredients(implementation_files: list[str], config_parts: list[str], root: Path, user_modules: list[str]) -> dict[str, Any]:
    user_files = {}
    for module in sorted(set(user_modules)):
        path = step_file(root, module)
        user_files[f"steps/{module}.py"] = _sha(path.read_bytes()) if path.is_file() else "<missing>"
    paths = [Path(f) for f in implementation_files]
    return {
        "implementation": ", ".join(f"{p.parent.name}/{p.name}" for p in paths),
        "implementation_sha": _sha(b"".join(p.read_bytes() for p in paths)),
        "config": list(config_parts),
        "user_files": user_files,
    }
