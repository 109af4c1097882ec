"""The `recipe-assets` command: MLflow Recipes' verbs, with Dagster doing the work."""
from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from recipe_assets.errors import RecipeError


def default_root() -> str:
    return os.environ.get("RECIPE_ROOT") or os.getcwd()


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe-root", default=None, help="recipe directory (default: $RECIPE_ROOT, else the current directory)")
    parser.add_argument("--profile", default=os.environ.get("RECIPE_PROFILE") or "local", help="profile name (default: local)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recipe-assets", description="MLflow Recipes, run as a Dagster asset graph.")
    verbs = parser.add_subparsers(dest="verb", required=True)
    run = verbs.add_parser("run", help="materialize what is missing or stale, up to --step (default: register)")
    add_common(run)
    run.add_argument("--step", default=None, help="run up to and including this step")
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    from recipe_assets.recipe import Recipe

    recipe = Recipe(profile=args.profile, recipe_root=args.recipe_root or default_root())
    print(f"recipe {recipe.root} (profile {args.profile}); Dagster instance {recipe.instance_dir}")
    summary = recipe.run(args.step, printer=print)
    return report(recipe, summary)


def report(recipe, summary) -> int:
    if summary.up_to_date:
        print(f"up to date: {', '.join(summary.up_to_date)}")
    if summary.materialized:
        print(f"materialized: {', '.join(summary.materialized)}")
    if not summary.success:
        print(f"error: {summary.error}", file=sys.stderr)
        return 1
    if not summary.materialized:
        print("nothing to do: every selected output is up to date")
    registered = recipe.latest_value("registered_model_version")
    if registered:
        print(
            f"registered model: {registered['model_uri']} (alias {registered['alias']}), "
            f"tracking store {recipe.mlflow.tracking_uri}"
        )
        print(f"browse it: uv run mlflow ui --backend-store-uri {recipe.mlflow.tracking_uri}")
    print(f"see the asset graph: DAGSTER_HOME={recipe.instance_dir} RECIPE_ROOT={recipe.root} uv run dagster dev")
    return 0


COMMANDS = {"run": cmd_run}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.verb](args)
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
