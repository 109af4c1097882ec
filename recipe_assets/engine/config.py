"""Reads `recipe.yaml` + `profiles/<name>.yaml` the way MLflow Recipes did, into typed models.

The recipe is a Jinja2 template rendered with the profile's top-level keys as variables; the profile's
keys that are recipe keys are then merged over the rendered recipe (profile wins). Parsed once, when
definitions load.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from recipe_assets.core import extras
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import NotSupportedYet, RecipeConfigError
from recipe_assets.core.metrics import builtin_metric_names, canonical_metric
from recipe_assets.core.settings import RECIPE_FILE, CustomMetric, ExperimentConfig, ModelRegistryConfig, RecipeSettings
from recipe_assets.data import remote
from recipe_assets.data.tables import TableMapping, with_tables_in_steps
from recipe_assets.engine.execution_config import ExecutionConfig
from recipe_assets.engine.retrain_config import RetrainConfig
from recipe_assets.steps.catalog import StepCatalog
from recipe_assets.steps.custom.config import CustomStepConfig
from recipe_assets.steps.registry import StepsConfig

PACKAGE_DIR = Path(__file__).resolve().parents[1]  # recipe_assets/


def _shipped(folder: str) -> Path:
    """Built-in profiles and templates: inside the package in an installed wheel (pyproject maps them
    there), at the repository's top level in a checkout."""
    installed = PACKAGE_DIR / folder
    return installed if installed.is_dir() else PACKAGE_DIR.parent / folder


BUILTIN_PROFILES = _shipped("profiles")
BUNDLED_TEMPLATES = _shipped("templates")
# a checkout (or an editable install of one): the templates are the repository's own, not an installed package's
IN_CHECKOUT = BUNDLED_TEMPLATES == PACKAGE_DIR.parent / "templates" and (PACKAGE_DIR.parent / "pyproject.toml").is_file()
TEMPLATES = ("regression/v1", "classification/v1")


class RecipeConfig(ConfigModel):
    recipe: str
    target_col: str
    primary_metric: str | None = None
    positive_class: str | int | bool | None = None
    steps: StepsConfig
    custom_metrics: list[CustomMetric] = Field(default_factory=list)
    experiment: ExperimentConfig | None = None
    model_registry: ModelRegistryConfig | None = None
    execution: ExecutionConfig = Field(default_factory=ExecutionConfig)
    tables: TableMapping = Field(default_factory=dict)  # (ours) table name -> path, for spark_sql / table ingest and output
    custom_steps: list[CustomStepConfig] = Field(default_factory=list)  # (ours) steps/ functions as assets: steps/custom/config.py
    retrain: RetrainConfig = Field(default_factory=RetrainConfig)  # (ours) what makes the daemon retrain by itself

    @model_validator(mode="after")
    def _drift_retraining_needs_the_drift_check(self) -> "RecipeConfig":
        if self.retrain.on_drift and (self.steps.predict is None or self.steps.predict.drift is None):
            raise ValueError("retrain.on_drift needs steps.predict.drift (the scoring_data_drift check it follows)")
        return self

    @model_validator(mode="before")
    @classmethod
    def _tables_reach_the_ingest_steps(cls, data: Any) -> Any:
        return with_tables_in_steps(data)

    @field_validator("primary_metric")
    @classmethod
    def _one_name_per_metric(cls, value: str | None) -> str | None:
        return canonical_metric(value) if value else value

    @field_validator("recipe")
    @classmethod
    def _known_template(cls, value: str) -> str:
        if value not in TEMPLATES:
            raise ValueError(f"unknown recipe template {value!r}; expected one of {', '.join(TEMPLATES)}")
        return value

    @property
    def task(self) -> str:
        return self.recipe.split("/")[0]


@dataclass(frozen=True)
class LoadedConfig:
    """A validated recipe, where it came from, and paths resolved against the recipe root."""

    root: Path
    profile: str
    profile_path: Path
    config: RecipeConfig

    @cached_property
    def settings(self) -> RecipeSettings:
        """What every step gets besides its own config: the recipe-wide settings, never this object."""
        config = self.config
        return RecipeSettings(
            root=self.root,
            profile=self.profile,
            profile_path=self.profile_path,
            template=config.recipe,
            target_col=config.target_col,
            positive_class=config.positive_class,
            primary_metric=config.primary_metric,
            custom_metrics=tuple(config.custom_metrics),
            experiment=config.experiment,
            model_registry=config.model_registry,
            tables=dict(config.tables),
            outputs_location=config.execution.outputs_location,
            before_train_steps=tuple(step.name for step in config.custom_steps if step.before == "train"),
        )

    @cached_property
    def catalog(self) -> StepCatalog:
        """The recipe's steps in run order: the built-in ones and its `custom_steps:`."""
        from recipe_assets.engine.custom_steps import recipe_catalog

        steps = self.config.steps
        return recipe_catalog(self.config.custom_steps, self.root / RECIPE_FILE, steps.predict is not None and steps.ingest_scoring is not None)

    @property
    def name(self) -> str:
        return self.settings.name

    @property
    def metadata_dir(self) -> Path:
        return self.settings.metadata_dir

    @property
    def steps_dir(self) -> Path:
        return self.settings.steps_dir

    @property
    def outputs_dir(self) -> Path:
        return self.settings.outputs_dir

    @property
    def outputs_base(self) -> str:
        return self.settings.outputs_base

    def describe_source(self) -> str:
        return self.settings.describe_source()


def find_profile(root: Path, profile: str) -> Path:
    """A recipe's own profiles/ wins over the built-in ones."""
    for folder in (root / "profiles", BUILTIN_PROFILES):
        candidate = folder / f"{profile}.yaml"
        if candidate.is_file():
            return candidate
    available = sorted({p.stem for f in (root / "profiles", BUILTIN_PROFILES) if f.is_dir() for p in f.glob("*.yaml")})
    raise RecipeConfigError(
        str(root / "profiles" / f"{profile}.yaml"),
        None,
        f"no profile named {profile!r}{_did_you_mean(profile, available)}; expected one of: {', '.join(available) or '(none)'}",
    )


def _did_you_mean(name: str, choices: list[str]) -> str:
    import difflib

    close = difflib.get_close_matches(name, choices, n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _read_yaml(path: Path, text: str | None = None) -> Any:
    try:
        return yaml.safe_load(text if text is not None else path.read_text())
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else None
        raise RecipeConfigError(str(path), where, f"not valid YAML: {getattr(exc, 'problem', exc)}{_opened_at(exc, mark)}") from None


def _opened_at(exc: Any, problem: Any) -> str:
    """Where the construct the parser was inside began (an unclosed bracket is noticed lines later)."""
    context, mark = getattr(exc, "context", None), getattr(exc, "context_mark", None)
    if not context or mark is None or (problem is not None and mark.line == problem.line):
        return ""
    return f" ({context} at line {mark.line + 1})"


def _render(recipe_path: Path, variables: dict[str, Any], profile_path: Path) -> str:
    import jinja2

    source = recipe_path.read_text()
    env = jinja2.Environment(undefined=jinja2.StrictUndefined, line_comment_prefix="#", keep_trailing_newline=True)
    try:
        return env.from_string(source).render(variables)
    except jinja2.UndefinedError as exc:
        name_match = re.search(r"'([^']+)' is undefined", str(exc))
        name = name_match.group(1) if name_match else str(exc)
        line = _line_of_variable(source, name)
        raise RecipeConfigError(
            str(recipe_path),
            f"line {line}" if line else None,
            f"template variable {name} is not defined in {profile_path} and has no default",
        ) from None
    except jinja2.TemplateSyntaxError as exc:
        raise RecipeConfigError(str(recipe_path), f"line {exc.lineno}", f"template syntax error: {exc.message}") from None


def _line_of_variable(source: str, name: str) -> int | None:
    pattern = re.compile(r"\{\{[^}]*\b" + re.escape(name) + r"\b")
    for number, line in enumerate(source.splitlines(), start=1):
        if pattern.search(line):
            return number
    return None


def _template_variables(source: str) -> set[str]:
    import jinja2
    from jinja2 import meta

    env = jinja2.Environment(line_comment_prefix="#")
    return set(meta.find_undeclared_variables(env.parse(source)))


WHERE_RECIPES_ARE = "run from a recipe directory (or a folder inside one), pass --recipe-root DIR, or set RECIPE_ROOT"


def find_recipe_root(start: Path | str) -> Path:
    """The nearest folder from `start` upwards that holds a recipe.yaml, as MLflow Recipes looked for it."""
    start = Path(start).expanduser().resolve()
    for folder in (start, *start.parents):
        if (folder / RECIPE_FILE).is_file():
            return folder
    raise RecipeConfigError(str(start), None, f"no {RECIPE_FILE} here or in any folder above; {WHERE_RECIPES_ARE}")


def load_config(root: Path | str, profile: str = "local") -> LoadedConfig:
    root = Path(root).expanduser().resolve()
    recipe_path = root / RECIPE_FILE
    if not recipe_path.is_file():
        raise RecipeConfigError(str(recipe_path), None, f"no {RECIPE_FILE} here; {WHERE_RECIPES_ARE}")
    profile_path = find_profile(root, profile)
    profile_values = _read_yaml(profile_path) or {}
    if not isinstance(profile_values, dict):
        raise RecipeConfigError(str(profile_path), None, "expected a mapping of keys to values")
    rendered = _read_yaml(recipe_path, _render(recipe_path, profile_values, profile_path))
    if not isinstance(rendered, dict):
        raise RecipeConfigError(str(recipe_path), None, "expected a mapping of keys to values")

    recipe_keys = set(RecipeConfig.model_fields)
    variables = _template_variables(recipe_path.read_text())
    merged = dict(rendered)
    for key, value in profile_values.items():
        if key in recipe_keys:
            merged[key] = value
        elif key not in variables and not key.isupper():
            raise RecipeConfigError(
                str(profile_path), key, f"unknown key; expected a recipe key ({', '.join(sorted(recipe_keys))}) or a variable recipe.yaml uses"
            )
    _refuse_unsupported(merged, recipe_path)
    try:
        config = RecipeConfig.model_validate(merged)
    except ValidationError as exc:
        raise _config_error(exc, recipe_path, profile_path, profile_values) from None
    loaded = LoadedConfig(root=root, profile=profile, profile_path=profile_path, config=config)
    _check_metrics(loaded, recipe_path)
    loaded.catalog  # custom steps checked now, with the definitions' other config errors
    return loaded


# Keys of MLflow Recipes' templates whose feature we do not implement yet: they must fail loudly, never
# be accepted and ignored. URLs this machine cannot read are refused here too, before anything is read.
SPARK_INGEST = {"spark_sql", "table"}


def _section(mapping: Any, key: str) -> dict[str, Any]:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    return value if isinstance(value, dict) else {}


# (step, its `using`) -> the optional packages it needs (core/extras.py names the extra that installs them)
NEEDS_PACKAGES = {
    ("ingest", "delta"): ("deltalake",),
    ("ingest_scoring", "delta"): ("deltalake",),
    **{(step, using): ("datafusion", "deltalake") for step in ("ingest", "ingest_scoring") for using in SPARK_INGEST},
    ("predict", "delta"): ("deltalake",),
    ("predict", "table"): ("deltalake",),
    ("train", "automl/flaml"): ("flaml",),
}


def _refuse_unsupported(merged: dict[str, Any], recipe_path: Path) -> None:
    steps = _section(merged, "steps")
    for step in ("ingest", "ingest_scoring"):
        _refuse_unsupported_ingest(_section(steps, step), f"steps.{step}", str(recipe_path))
    _refuse_missing_packages(steps, str(recipe_path))


def _refuse_missing_packages(steps: dict[str, Any], file: str) -> None:
    """A step that uses an optional feature whose package is not installed fails here, naming its key and
    the extra to install, not at run time with an ImportError deep in a step."""
    for step_name in ("ingest", "ingest_scoring", "predict", "train"):
        using = _section(steps, step_name).get("using")
        modules = NEEDS_PACKAGES.get((step_name, using)) if isinstance(using, str) else None
        problem = extras.missing_package_problem(f"using: {using}", *modules) if modules else None
        if problem:
            raise RecipeConfigError(file, f"steps.{step_name}.using", problem)
    tuning = _section(_section(steps, "train"), "tuning")
    if tuning.get("enabled") is True:
        modules = ("hyperopt", "optuna") if tuning.get("backend") == "optuna" else ("hyperopt",)
        problem = extras.missing_package_problem("tuning", *modules)
        if problem:
            raise RecipeConfigError(file, "steps.train.tuning.enabled", problem)


def _refuse_unsupported_ingest(ingest: dict[str, Any], key_path: str, file: str) -> None:
    """URLs are read through fsspec; refused here, before anything is read, only when this machine
    cannot read them (dbfs:, or the filesystem package is not installed)."""
    if ingest.get("using") in SPARK_INGEST:
        return  # `location` is a table name there
    locations = ingest.get("location")
    for location in locations if isinstance(locations, list) else [locations]:
        problem = remote.location_problem(location) if isinstance(location, str) and remote.is_remote(location) else None
        if problem and location.startswith("dbfs:"):
            raise NotSupportedYet(file, f"{key_path}.location", problem)
        if problem:
            raise RecipeConfigError(file, f"{key_path}.location", problem)


class RecipeConfigErrors(RecipeConfigError):
    """Every problem validation found, one line each; `file`, `key_path` and `problem` are the first's."""

    def __init__(self, problems: list[RecipeConfigError]):
        first = problems[0]
        super().__init__(first.file, first.key_path, first.problem)
        self.problems = problems
        if len(problems) > 1:
            self.args = ("\n".join([f"{len(problems)} problems:", *(f"  {problem}" for problem in problems)]),)


def _config_error(exc: ValidationError, recipe_path: Path, profile_path: Path, profile_values: dict) -> RecipeConfigError:
    # a misspelled key also makes its real key "missing": name the misspelling first, it is the cause
    errors = sorted(exc.errors(), key=lambda error: error["type"] != "extra_forbidden")
    return RecipeConfigErrors([_one_config_error(error, recipe_path, profile_path, profile_values) for error in errors])


def _one_config_error(error: dict[str, Any], recipe_path: Path, profile_path: Path, profile_values: dict) -> RecipeConfigError:
    loc = tuple(error["loc"])
    top = str(loc[0]) if loc else ""
    file = str(profile_path) if top in profile_values else f"{recipe_path} (rendered with {profile_path.name})"
    return RecipeConfigError(file, _key_path(loc) or None, _problem(error, loc))


def _key_path(loc: tuple) -> str:
    """`steps.evaluate.validation_criteria[0].metric`, as a user writes it."""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text


def _problem(error: dict[str, Any], loc: tuple) -> str:
    if error["type"] == "extra_forbidden":
        if len(loc) == 1 and loc[0] in StepsConfig.model_fields:
            return f"unknown top-level key; {loc[0]!r} is a step: move the block under `steps:` and indent it there"
        return _unknown_key_problem(str(loc[-1]), _keys_of_section(loc[:-1]))
    if error["type"] == "missing":
        return "required key is missing"
    if error["type"] == "value_error":
        return str(error.get("ctx", {}).get("error", error["msg"]))
    got = error.get("input")
    return f"{error['msg']}; got {got!r}" if not isinstance(got, dict) else error["msg"]


def _unknown_key_problem(key: str, allowed: list[str]) -> str:
    import difflib

    problem = "unknown key (misspelled, or not a key of this section)"
    close = difflib.get_close_matches(key, allowed, n=1)
    if close:
        problem += f"; did you mean {close[0]!r}?"
    if allowed:
        problem += f"{'' if close else '.'} Expected one of: {', '.join(allowed)}"
    return problem


def _keys_of_section(loc: tuple) -> list[str]:
    """The keys the config model accepts at `loc` (empty when the section is not a model)."""
    model: Any = RecipeConfig
    for part in loc:
        if isinstance(part, int):
            continue
        field = model.model_fields.get(part)
        model = _model_in(field.annotation) if field is not None else None
        if model is None:
            return []
    return [field.alias or name for name, field in model.model_fields.items()]


def _model_in(annotation: Any) -> Any:
    import typing

    from pydantic import BaseModel

    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for argument in typing.get_args(annotation):
        found = _model_in(argument)
        if found is not None:
            return found
    return None


def _check_metrics(loaded: LoadedConfig, recipe_path: Path) -> None:
    """Every metric name the recipe uses is one it has; all problems reported together."""
    config = loaded.config
    builtin = set(builtin_metric_names(config.task, config.positive_class))
    known = builtin | {m.name for m in config.custom_metrics}
    unknown = f"for {_metrics_variant(config)}; expected one of {', '.join(sorted(known))}"
    problems = []
    if config.primary_metric is not None and config.primary_metric not in known:
        problems.append(RecipeConfigError(str(recipe_path), "primary_metric", f"unknown metric {config.primary_metric!r} {unknown}"))
    for index, criterion in enumerate(config.steps.evaluate.validation_criteria):
        if criterion.metric not in known:
            key_path = f"steps.evaluate.validation_criteria[{index}].metric"
            problems.append(RecipeConfigError(str(recipe_path), key_path, f"unknown metric {criterion.metric!r} {unknown}"))
    for index, criterion in enumerate(config.steps.evaluate.min_segment_metric):
        if criterion.metric not in known:
            key_path = f"steps.evaluate.min_segment_metric[{index}].metric"
            problems.append(RecipeConfigError(str(recipe_path), key_path, f"unknown metric {criterion.metric!r} {unknown}"))
    for index, metric in enumerate(config.custom_metrics):
        if metric.name in builtin:
            problems.append(RecipeConfigError(str(recipe_path), f"custom_metrics[{index}].name", f"{metric.name!r} is a built-in metric name; pick another"))
    if problems:
        raise RecipeConfigErrors(problems)


def _metrics_variant(config: RecipeConfig) -> str:
    if config.task == "regression":
        return config.recipe
    if config.positive_class is None:
        return f"{config.recipe} without positive_class (multiclass)"
    return f"{config.recipe} with positive_class {config.positive_class!r} (binary)"

