"""The recipe's own `steps/*.py`, loaded the way MLflow Recipes loaded them.

The recipe root goes on `sys.path` and modules are imported as `steps.<name>`, so the recipe's own
tests (`from steps.transform import ...`) keep working. At definition load the files are only parsed,
not imported, so loading definitions does not pay for scikit-learn; import errors surface when the
step runs, with the file named.
"""
from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.machinery
import importlib.util
import sys
from collections.abc import Callable
from pathlib import Path

from recipe_assets.core.errors import UserCodeError


def step_file(root: Path, module: str) -> Path:
    return root / "steps" / f"{module}.py"


def check_function_defined(root: Path, module: str, function: str, key_path: str) -> None:
    """Fail at definition load when the file is missing, does not parse, or lacks the function."""
    path = step_file(root, module)
    if not path.is_file():
        raise UserCodeError(f"{key_path}: {function!r} is expected in {path}, but that file does not exist")
    try:
        tree = ast.parse(path.read_text(), filename=str(path))
    except SyntaxError as exc:
        raise UserCodeError(f"{path} line {exc.lineno}: does not parse ({exc.msg}); {key_path} needs it") from None
    if function not in _top_level_names(tree):
        raise UserCodeError(f"{key_path}: no function {function!r} in {path}")


def _top_level_names(tree: ast.Module) -> set[str]:
    names: set[str] = set()
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(node.name)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            names.update((alias.asname or alias.name).split(".")[0] for alias in node.names)
        elif isinstance(node, ast.Assign):
            names.update(t.id for t in node.targets if isinstance(t, ast.Name))
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.add(node.target.id)
    return names


def source_digest(root: Path, modules: list[str]) -> str:
    digest = hashlib.sha256()
    for module in sorted(set(modules)):
        path = step_file(root, module)
        digest.update(module.encode())
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def use_recipe_steps(root: Path) -> None:
    """Make `steps` this recipe's steps/ package and nothing else.

    The package is built from the recipe root alone rather than found on sys.path: another `steps` on
    sys.path (another recipe, or the code directory MLflow adds when it loads a logged model) would
    otherwise shadow a steps/ without __init__.py, as MLflow Recipes dirs often have it.
    """
    root_text = str(root)
    if root_text not in sys.path:
        sys.path.insert(0, root_text)
    steps_dir = root / "steps"
    current = sys.modules.get("steps")
    if current is not None and _package_dirs(current) == [steps_dir.resolve()]:
        _forget_edited_step_modules()
        return
    for name in [n for n in sys.modules if n == "steps" or n.startswith("steps.")]:
        del sys.modules[name]
    importlib.invalidate_caches()
    spec = importlib.machinery.PathFinder.find_spec("steps", [root_text])
    if spec is None:
        return
    package = importlib.util.module_from_spec(spec)
    package.__path__ = [str(steps_dir)]  # a plain list: a namespace path would be recomputed from sys.path
    sys.modules["steps"] = package
    if spec.loader is not None:
        spec.loader.exec_module(package)


def _forget_edited_step_modules() -> None:
    """A long-lived process (a notebook, a test session) keeps `steps.<name>` imported; once its file is
    edited, the old module must go, or unpickling a transformer or model would resolve the user's functions
    in the old code. Modules first seen here are fingerprinted as they are now."""
    for name in [n for n in sys.modules if n.startswith("steps.")]:
        module = sys.modules[name]
        path = getattr(module, "__file__", None)
        if not path or not Path(path).is_file():
            continue
        fingerprint = hashlib.sha256(Path(path).read_bytes()).hexdigest()
        recorded = getattr(module, "__recipe_fingerprint__", None)
        if recorded is None:
            module.__recipe_fingerprint__ = fingerprint
        elif recorded != fingerprint:
            del sys.modules[name]
            importlib.invalidate_caches()


def _package_dirs(module) -> list[Path]:
    return [Path(place).resolve() for place in getattr(module, "__path__", [])]


def load_function(root: Path, module: str, function: str) -> Callable:
    path = step_file(root, module)
    qualified = f"steps.{module}"
    source = path.read_bytes() if path.is_file() else b""
    fingerprint = hashlib.sha256(source).hexdigest()
    try:
        use_recipe_steps(root)
        current = sys.modules.get(qualified)
        if current is not None and getattr(current, "__recipe_fingerprint__", None) != fingerprint:
            del sys.modules[qualified]
            importlib.invalidate_caches()
        loaded = importlib.import_module(qualified)
    except Exception as exc:  # the user's module may raise anything while importing
        raise UserCodeError(f"{path}: failed to import: {type(exc).__name__}: {exc}") from exc
    loaded.__recipe_fingerprint__ = fingerprint
    try:
        return getattr(loaded, function)
    except AttributeError:
        raise UserCodeError(f"no function {function!r} in {path}") from None
