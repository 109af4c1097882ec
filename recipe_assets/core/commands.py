"""Commands printed in hints, spelled so they work where the user stands: the executable that is running
(or `python -m ...`), its sibling console scripts, the MLflow UI on a recipe's store."""
from __future__ import annotations

import os
import shlex
import shutil
import sys


def on_users_path(executable: str) -> str:
    """`executable`'s bare name when the user's shell finds this very file by it, else its full path:
    a hint must work where the user stands. `uv run` puts the project's venv on PATH for its child only."""
    name = os.path.basename(executable)
    found = shutil.which(name)
    if found and "UV_RUN_RECURSION_DEPTH" not in os.environ and os.path.abspath(found) == os.path.abspath(executable):
        return name
    return shlex.quote(executable)


def python_command() -> str:
    """The interpreter running this command, which has mlflow and dagster installed beside us."""
    return on_users_path(sys.executable)


def this_command() -> str:
    """How the user can run `recipe-assets` again: the console script they ran, or `python -m recipe_assets`."""
    script = sys.argv[0] if sys.argv else ""
    if os.path.basename(script) == "recipe-assets":
        return on_users_path(os.path.abspath(script))
    return f"{python_command()} -m recipe_assets"


def sibling_command(name: str) -> str:
    """A console script installed beside this interpreter (dagster, dg, mlflow)."""
    return on_users_path(os.path.join(os.path.dirname(sys.executable), name))


def mlflow_ui_hint(tracking_uri: str) -> str:
    if tracking_uri.startswith(("http://", "https://")):
        return tracking_uri
    return f"{python_command()} -m mlflow ui --backend-store-uri {shlex.quote(tracking_uri)}"
