"""`python -m recipe_assets`: the `recipe-assets` command, for environments whose scripts folder is not on PATH
(a notebook kernel, a venv that is not activated)."""
from recipe_assets.app.cli import entry

if __name__ == "__main__":
    entry()
