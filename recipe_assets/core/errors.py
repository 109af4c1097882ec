"""Errors a recipe author can fix: they carry the file, the key path or column, and what was expected."""
from __future__ import annotations

import os
import re
import sys
from pathlib import Path


class RecipeError(Exception):
    """A problem in the recipe directory (config, user code or data), reported without a traceback."""


class RecipeConfigError(RecipeError):
    def __init__(self, file: str, key_path: str | None, problem: str):
        self.file = file
        self.key_path = key_path
        self.problem = problem
        where = f"{file}: {key_path}" if key_path else file
        super().__init__(f"{where}: {problem}")


class NotSupportedYet(RecipeConfigError):
    """A valid MLflow Recipes key whose feature is not implemented: `<file>: not supported yet: <key path> (...)`."""

    def __init__(self, file: str, key_path: str, detail: str = ""):
        super().__init__(file, None, f"not supported yet: {key_path}" + (f" ({detail})" if detail else ""))
        self.key_path = key_path


class UserCodeError(RecipeError):
    """A user step function is missing, fails to import, or returns the wrong thing."""


class RecipeDataError(RecipeError):
    """Input data that does not fit the recipe: missing files, missing columns, empty splits."""


class DataNotFound(RecipeDataError):
    """A location that holds no data yet (no such file, folder or object; no matching files): data that
    has not landed, as opposed to data that cannot be read (credentials, permissions, a broken file)."""


# --- the user's own frames of an error raised in their step code ------------------------------------

_FRAME = re.compile(r'File "(?P<file>[^"]+)", line (?P<line>\d+)')
_OURS = (str(Path(__file__).resolve().parents[1]),)  # the whole recipe_assets package


def is_user_frame(filename: str) -> bool:
    """A frame of the recipe's own code: not this package, not an installed library, not Python's."""
    path = os.path.abspath(filename)
    if not path.endswith(".py") or not os.path.isfile(path):  # compiled code (.pyx) or frozen modules
        return False
    if path.startswith(_OURS) or "site-packages" in path or "dist-packages" in path or filename.startswith("<"):
        return False
    return not path.startswith((os.path.abspath(sys.base_prefix), os.path.abspath(sys.prefix)))


def user_frames(stack: list[str]) -> list[str]:
    """The formatted frames (traceback.format_list lines) that are the user's."""
    kept = []
    for entry in stack:
        match = _FRAME.search(entry)
        if match and is_user_frame(match.group("file")):
            kept.append(entry.rstrip("\n"))
    return kept


def user_traceback(cls_name: str | None, message: str, stack: list[str]) -> str | None:
    """`Traceback of your code` + the user's frames + `Type: message`, or None when none are the user's."""
    frames = user_frames(stack)
    if not frames:
        return None
    last = message.strip().splitlines()[-1] if message.strip() else cls_name or ""
    if cls_name and not last.startswith(cls_name) and f".{cls_name}:" not in last:
        last = f"{cls_name}: {last}"
    return "\n".join(["Traceback of your code (most recent call last):", *frames, last])


def user_traceback_of(exc: BaseException) -> str | None:
    """The same for a live exception: the first in its cause chain whose traceback reaches user code."""
    import traceback

    seen = exc
    while seen is not None:
        stack = traceback.format_list(traceback.extract_tb(seen.__traceback__))
        text = user_traceback(type(seen).__name__, f"{type(seen).__name__}: {seen}", stack)
        if text:
            return text
        seen = seen.__cause__ or seen.__context__
    return None
