"""Errors a recipe author can fix: they carry the file, the key path or column, and what was expected."""
from __future__ import annotations


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
