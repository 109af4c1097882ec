"""The `recipe-assets` command: MLflow Recipes' verbs, with Dagster doing the work.

Each verb works on one recipe directory (--recipe-root, else $RECIPE_ROOT, else the current directory)
with one profile (--profile, else $RECIPE_PROFILE, else $MLFLOW_RECIPES_PROFILE, else local), and shares that recipe's Dagster
instance with the `dagster` CLI and UI (<recipe root>/metadata/dagster, or $DAGSTER_HOME).
Heavy libraries are imported inside the verbs, so `--help` stays instant.
"""
from __future__ import annotations

import argparse
import gc
import os
import shlex
import sys
import traceback

from recipe_assets.app.noop_answer import remember_noop, stamped_noop
from recipe_assets.core.commands import mlflow_ui_hint, sibling_command, this_command
from recipe_assets.core.errors import RecipeError, user_traceback_of
from recipe_assets.core.profile_choice import chosen_profile
from recipe_assets.core.up_to_date import watched_environment
from recipe_assets.engine.staleness import artifact_staleness

TEMPLATE_CHOICES = ("regression", "classification")
EXIT_FAILED_RUN = 1
EXIT_USER_ERROR = 2

CLEAN_HELP = (
    "forget outputs so the next run materializes them again: the step's and every later step's stored "
    "files and Dagster materialization history (no --step: all steps). MLflow runs and registered model "
    "versions are never deleted."
)


def default_root() -> str:
    return os.environ.get("RECIPE_ROOT") or os.getcwd()


def add_common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--recipe-root", default=None, help="recipe directory (default: $RECIPE_ROOT, else the nearest folder from here upwards with a recipe.yaml)")
    parser.add_argument(
        "--profile",
        default=None,
        help="profile name; --profile wins, else $RECIPE_PROFILE, else $MLFLOW_RECIPES_PROFILE (as MLflow Recipes read it), else local",
    )
    parser.add_argument("--verbose", action="store_true", help="on an error, also print the full traceback (ours and the libraries')")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="recipe-assets", description="MLflow Recipes, run as a Dagster asset graph.")
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="{run,inspect,clean,get-artifact,init,promote,rollback}")
    run = verbs.add_parser("run", help="materialize what is missing or stale, up to --step (default: register)")
    run.add_argument("--step", default=None, help="run up to and including this step")
    inspect = verbs.add_parser("inspect", help="the graph with each output's state, or with --step that step's card")
    inspect.add_argument("--step", default=None, help="show this step's card")
    clean = verbs.add_parser("clean", help=CLEAN_HELP, description=CLEAN_HELP)
    clean.add_argument("--step", default=None, help="clean this step and the steps after it")
    artifact = verbs.add_parser("get-artifact", help="print where an output is (a file path or an MLflow URI)")
    artifact.add_argument("name", help="ingested_data, training_data, ..., model, run, registered_model_version, scored_data, or a custom step's name")
    init = verbs.add_parser("init", help="create a new recipe directory from a bundled template")
    init.add_argument("directory", nargs="?", default=None, help="the new recipe directory (default: --recipe-root)")
    init.add_argument("--template", choices=TEMPLATE_CHOICES, default="regression", help="bundled template (default: regression)")
    promote = verbs.add_parser("promote", help="move the champion alias (steps.register.alias) to a registered version; batch scoring follows it")
    promote.add_argument("version", help="the registered model version")
    promote.add_argument("--force", action="store_true", help="promote a version its validation criteria REJECTED")
    rollback = verbs.add_parser("rollback", help="move the champion alias back to the version that held it before")
    for verb in (run, inspect, clean, artifact, init, promote, rollback):
        add_common(verb)
    return parser


def open_recipe(args: argparse.Namespace):
    from recipe_assets.app.recipe import Recipe

    # without either, Recipe looks for recipe.yaml from the current directory upwards
    return Recipe(profile=args.profile, recipe_root=args.recipe_root or os.environ.get("RECIPE_ROOT"))


def cmd_run(args: argparse.Namespace) -> int:
    # a no-op answered from the stamp the last run left, when nothing it depends on changed (app/noop_answer.py)
    environment = watched_environment()
    answer = stamped_noop(args.recipe_root, args.profile, args.step, environment)
    if answer is not None:
        print("\n".join(answer))
        return 0
    from recipe_assets.app.recipe import RecipeRunError

    recipe = open_recipe(args)
    header = f"recipe {recipe.root} (profile {args.profile}); Dagster instance {recipe.instance_dir}"
    print(header)
    try:
        summary = recipe.run(args.step, printer=print)
    except RecipeRunError as failure:
        print_summary(failure.summary)
        print(f"error: {failure}", file=sys.stderr)
        if args.verbose and failure.summary.traceback:
            print(f"full traceback:\n{failure.summary.traceback}", file=sys.stderr)
        elif failure.summary.traceback:
            print("(--verbose shows the full traceback)", file=sys.stderr)
        return EXIT_FAILED_RUN
    print_summary(summary)
    where = where_lines(recipe)
    print("\n".join(([] if summary.materialized else [NOTHING_TO_DO]) + where))
    # what this very command prints next time, when nothing changed by then
    remember_noop(recipe, args.profile, args.step, environment, [header, f"up to date: {', '.join(summary.selected)}", NOTHING_TO_DO, *where])
    return 0


def print_summary(summary) -> None:
    if summary.up_to_date:
        print(f"up to date: {', '.join(summary.up_to_date)}")
    if summary.materialized:
        print(f"materialized: {', '.join(summary.materialized)}")


NOTHING_TO_DO = "nothing to do: every selected output is up to date"


def where_lines(recipe) -> list[str]:
    """Where the registered model and the asset graph are, after a successful run."""
    lines = []
    registered = recipe.latest_value("registered_model_version")
    if registered:
        moved = "moved to it" if registered.get("promoted", True) else "not moved: " + str(registered.get("promotion"))
        lines.append(f"registered model: {registered['model_uri']} (alias {registered['alias']} {moved}), tracking store {recipe.mlflow.tracking_uri}")
        lines.append(f"browse it: {mlflow_ui_hint(recipe.mlflow.tracking_uri)}")
    lines.append(
        f"see the asset graph: DAGSTER_HOME={shlex.quote(str(recipe.instance_dir))} RECIPE_ROOT={shlex.quote(str(recipe.root))} "
        f"{sibling_command('dagster')} dev -m recipe_assets.definitions"
    )
    return lines


def cmd_inspect(args: argparse.Namespace) -> int:
    shown = open_recipe(args).inspect(args.step)
    print(shown, end="" if shown.endswith("\n") else "\n")
    return 0


def cmd_clean(args: argparse.Namespace) -> int:
    recipe = open_recipe(args)
    cleaned = recipe.clean(args.step)
    print(f"cleaned: {', '.join(cleaned)}")
    print(f"the next `{this_command()} run` materializes them again; MLflow runs and registered versions were kept")
    return 0


def cmd_get_artifact(args: argparse.Namespace) -> int:
    from recipe_assets.app.recipe import check_artifact_name

    recipe = open_recipe(args)
    check_artifact_name(args.name, recipe.loaded.catalog)  # a recipe's custom steps add outputs
    step_of = recipe.loaded.catalog.step_of
    location = recipe.artifact_location(args.name)
    if location is None:
        print(f"error: {args.name} is not materialized yet; run `{this_command()} run --step {step_of(args.name)}`", file=sys.stderr)
        return EXIT_FAILED_RUN
    print(location)

    stale = artifact_staleness(recipe, args.name)
    if stale:
        print(f"warning: {stale} (`{this_command()} run --step {step_of(args.name)}`)", file=sys.stderr)
    return 0


def cmd_init(args: argparse.Namespace) -> int:
    from recipe_assets.app.recipe import create_recipe

    target = create_recipe(args.directory or args.recipe_root or default_root(), args.template)
    print(f"created a {args.template} recipe in {target}")
    print(f"next: {this_command()} run --recipe-root {shlex.quote(str(target))} --profile {args.profile}")
    return 0


def cmd_promote(args: argparse.Namespace) -> int:
    recipe = open_recipe(args)
    name, alias = recipe.champion_alias()
    previous = recipe.promote(args.version, force=args.force)
    if previous == str(args.version):
        print(f"{name} version {args.version} already holds {alias!r}; nothing moved")
    else:
        print(f"{alias!r} of {name} moved to version {args.version} (from {previous or 'no version'}); batch scoring follows it")
    return 0


def cmd_rollback(args: argparse.Namespace) -> int:
    recipe = open_recipe(args)
    name, alias = recipe.champion_alias()
    current, previous = recipe.rollback()
    print(f"{alias!r} of {name} rolled back from version {current} to version {previous}; batch scoring follows it")
    return 0


COMMANDS = {
    "run": cmd_run,
    "inspect": cmd_inspect,
    "clean": cmd_clean,
    "get-artifact": cmd_get_artifact,
    "init": cmd_init,
    "promote": cmd_promote,
    "rollback": cmd_rollback,
}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.profile = chosen_profile(args.profile)
    try:
        return COMMANDS[args.verb](args)
    except RecipeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        yours = user_traceback_of(exc)
        if yours and yours not in str(exc):
            print(yours, file=sys.stderr)
        if args.verbose:
            traceback.print_exc()
        return EXIT_USER_ERROR
    except Exception as exc:  # raised by the recipe's own code while loading (not one of our checks)
        yours = user_traceback_of(exc)
        if yours is None or args.verbose:
            raise
        print(f"error: your code raised {type(exc).__name__}: {exc}\n{yours}\n(--verbose shows the full traceback)", file=sys.stderr)
        return EXIT_USER_ERROR


def entry() -> None:
    """The console script. Freezing the garbage collector's objects before exit skips the collection the
    interpreter would run at shutdown over everything dagster, mlflow and scikit-learn loaded: ~1.2 s of
    a 5 s run here. Only for the process's last act: in a long-lived process it would pin memory."""
    code = main()
    gc.freeze()
    sys.exit(code)


if __name__ == "__main__":
    entry()
