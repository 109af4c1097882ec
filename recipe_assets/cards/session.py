"""The card of one step execution: what the step adds while it runs (plots), what it raised on the way
(warnings and log records, the user's code's included), and how it is finished and published.

`card_step(recipe, step, layout)` wraps a step's asset function. The step returns or yields its Outputs as
before, with its tables as metadata and its plots handed to `add_plot`; the wrapper then adds the
warning logs, the plots and the run summary to each output's metadata, renders the step's HTML card
(`<metadata>/outputs/cards/<step>.html`, what `inspect` and notebooks show) and, when the step has an
MLflow run, logs it there as `cards/<step>.html`.
"""
from __future__ import annotations

import base64
import contextvars
import functools
import inspect
import logging
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, MetadataValue, Output

from recipe_assets.cards import drawing, tables
from recipe_assets.cards.html import render_html
from recipe_assets.cards.plots import Plot
from recipe_assets.core.atomic import write_text_atomically
from recipe_assets.core.keys import mlflow_key, mlflow_of

if TYPE_CHECKING:
    from dagster import AssetExecutionContext

    from recipe_assets.core.settings import RecipeSettings

log = logging.getLogger(__name__)

PLOT_PREFIX = "plot: "
RUN_SUMMARY = "run summary"
WARNING_LOGS = "warning logs"
CARD_FILE = "card"
MAX_WARNINGS = 50
# warnings about how this package uses its libraries (Dagster's beta markers, MLflow's store internals):
# nothing the recipe's author can act on
IGNORED_WARNING_SOURCES = ("dagster", "sqlalchemy")
Sections = Callable[[dict[str, Any], Any], dict[str, Any]]  # (first output's metadata, its value) -> more entries


@dataclass
class StepSession:
    step: str
    layout: Sequence[tuple[str, Sequence[str]]] = ()
    sections: Sections | None = None  # card sections the step computes from its finished output
    also_log: tuple[str, ...] = ()  # earlier steps' cards to log to this step's MLflow run
    started: float = field(default_factory=time.perf_counter)
    plots: list[Plot] = field(default_factory=list)
    logs: list[tuple[str, str, str]] = field(default_factory=list)  # (level or category, where, message)
    pending: list[tuple[Any, Callable, tuple, dict]] = field(default_factory=list)  # plots being drawn
    card_seconds: float = 0.0  # spent on the card (plots, card sections, rendering): what cards cost a run
    card_cpu_seconds: float = 0.0  # the same in CPU time of the step's thread: comparable on a busy machine
    _depth: int = 0

    @contextmanager
    def counting(self) -> Iterator[None]:
        """Add the time inside to card_seconds; nested card work (a section drawing plots) counts once."""
        started, started_cpu = time.perf_counter(), time.thread_time()
        self._depth += 1
        try:
            yield
        finally:
            self._depth -= 1
            if self._depth == 0:
                self.card_seconds += time.perf_counter() - started
                self.card_cpu_seconds += time.thread_time() - started_cpu

    def add_warning(self, message: warnings.WarningMessage) -> None:
        if message.category.__module__.startswith(IGNORED_WARNING_SOURCES):
            return
        where = f"{Path(message.filename).name}:{message.lineno}"
        self.logs.append((message.category.__name__, where, str(message.message)))


_CURRENT: contextvars.ContextVar[StepSession | None] = contextvars.ContextVar("recipe_assets_card", default=None)


def current() -> StepSession | None:
    return _CURRENT.get()


def add_plot(draw: Callable[..., Plot], *args: Any, **kwargs: Any) -> None:
    """Draw a plot for the running step's card. Outside a step (a unit test calling a card helper)
    nothing is drawn; a plot that fails to draw is a warning on the card, never a failed step.
    matplotlib plots are drawn beside the step (cards.drawing); `draw` must be a module-level function."""
    session = current()
    if session is None:
        return
    with session.counting():
        if getattr(draw, "in_process", False):
            future = drawing.completed(draw, *args, **kwargs)
        else:
            future = drawing.submit(draw, *args, **kwargs)
        session.pending.append((future, draw, args, kwargs))


def _collect_plots(session: StepSession) -> None:
    """Wait for the step's plots (drawn beside it) in the order the step asked for them."""
    with session.counting():
        for future, draw, args, kwargs in session.pending:
            try:
                session.plots.append(drawing.result(future, draw, *args, **kwargs))
            except Exception as exc:  # a card must not fail the model it describes
                session.logs.append(("card", draw.__name__, f"plot not drawn: {type(exc).__name__}: {exc}"))
        session.pending.clear()


def timed(section: Callable) -> Callable:
    """Count a card section's time (a table computed for the card) in the running step's card cost."""

    @functools.wraps(section)
    def counted(*args: Any, **kwargs: Any) -> Any:
        session = current()
        if session is None:
            return section(*args, **kwargs)
        with session.counting():
            return section(*args, **kwargs)

    return counted


class _RecordCollector(logging.Handler):
    def __init__(self, session: StepSession):
        super().__init__(level=logging.WARNING)
        self.session = session

    def emit(self, record: logging.LogRecord) -> None:
        if record.name.startswith(("dagster", "recipe_assets.engine.progress")):
            return
        self.session.logs.append((record.levelname, record.name, record.getMessage()))


@contextmanager
def capturing(session: StepSession) -> Iterator[StepSession]:
    token = _CURRENT.set(session)
    collector = _RecordCollector(session)
    root = logging.getLogger()
    root.addHandler(collector)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("default")
            try:
                yield session
            finally:
                for message in caught:
                    session.add_warning(message)
    finally:
        root.removeHandler(collector)
        _CURRENT.reset(token)


def card_step(
    recipe: "RecipeSettings",
    step: str,
    layout: Sequence[tuple[str, Sequence[str]]],
    *,
    sections: Sections | None = None,
    also_log: tuple[str, ...] = (),
) -> Callable:
    """Decorate a step's asset function (under `@asset` / `@multi_asset`) to give it a full card, laid out
    in `layout`'s tabs. `sections` adds entries computed from the finished output (drawn in the step's card
    session); `also_log` names earlier steps whose stored cards go to this step's MLflow run too (steps
    that have no MLflow run of their own)."""

    def decorate(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def wrapper(context: "AssetExecutionContext", *args: Any, **kwargs: Any):
            session = StepSession(step, layout, sections, also_log)
            with capturing(session):
                produced = fn(context, *args, **kwargs)
                items = list(produced) if inspect.isgenerator(produced) else [produced]
            finished = finish(context, recipe, session, items)
            return iter(finished) if generator else finished[0]

        generator = inspect.isgeneratorfunction(fn)
        if generator:
            # Dagster tells generator steps from returning ones by the function, so keep its kind
            @functools.wraps(fn)
            def generator_wrapper(context: "AssetExecutionContext", *args: Any, **kwargs: Any):
                yield from wrapper(context, *args, **kwargs)

            return generator_wrapper
        return wrapper

    return decorate


def finish(context: "AssetExecutionContext", recipe: "RecipeSettings", session: StepSession, items: list[Any]) -> list[Any]:
    outputs = [item for item in items if isinstance(item, Output)]
    checks = [item for item in items if isinstance(item, AssetCheckResult)]
    with session.counting():
        extra = card_entries(session, outputs)
    run_id = next((o.value["run_id"] for o in outputs if isinstance(o.value, dict) and o.value.get("run_id")), None)
    card_path = card_file(recipe.outputs_dir, session.step)
    extra[RUN_SUMMARY] = run_summary(context, session, run_id, checks)
    extra[CARD_FILE] = MetadataValue.path(str(card_path))
    finished = [item.with_metadata({**item.metadata, **extra}) if isinstance(item, Output) else item for item in items]
    per_output = [(output_name(context, o), o.metadata) for o in finished if isinstance(o, Output)]
    publishing = time.perf_counter()  # after the run summary was written: logged, not on the card
    publish(context, recipe.name, session, tables.merge_outputs(per_output), card_path, run_id)
    log.debug("%s card: %.3f s (+ %.3f s publishing)", session.step, session.card_seconds, time.perf_counter() - publishing)
    return finished


def card_entries(session: StepSession, outputs: list[Output]) -> dict[str, Any]:
    """What the session adds to each output's metadata: train's parameters, the plots, the warning logs."""
    extra: dict[str, Any] = {}
    if session.sections is not None and outputs:
        token = _CURRENT.set(session)
        try:
            extra.update(session.sections(dict(outputs[0].metadata), outputs[0].value))
        finally:
            _CURRENT.reset(token)
    _collect_plots(session)
    for plot in session.plots:
        extra[PLOT_PREFIX + plot.title] = MetadataValue.md(image_markdown(plot))
    if session.logs:
        extra[WARNING_LOGS] = tables.table(("level", "where", "message"), session.logs[:MAX_WARNINGS])
    return extra


def output_name(context: "AssetExecutionContext", output: Output) -> str:
    key = context.assets_def.keys_by_output_name.get(output.output_name)
    return key.path[-1] if key is not None else output.output_name


def image_markdown(plot: Plot) -> str:
    encoded = base64.b64encode(plot.data).decode("ascii")
    return f"![{plot.title}](data:{plot.mime};base64,{encoded})"


def run_summary(context: "AssetExecutionContext", session: StepSession, mlflow_run_id: str | None, checks: list) -> Any:
    code_versions = {str(v) for v in context.assets_def.code_versions_by_key.values() if v}
    rows: list[tuple[str, Any]] = [
        ("step", session.step),
        ("duration s", round(time.perf_counter() - session.started, 2)),
        ("card s (plots, card tables)", round(session.card_seconds, 3)),
        ("card cpu s", round(session.card_cpu_seconds, 3)),
        ("finished", time.strftime("%Y-%m-%d %H:%M:%S")),
        ("code version", ", ".join(sorted(code_versions)) or "-"),
        ("Dagster run id", context.run.run_id),
        ("MLflow run id", mlflow_run_id or "-"),
    ]
    rows += [(f"input {key.path[-1]}", version) for key, version in input_versions(context)]
    rows += [(f"check {c.check_name}", "passed" if c.passed else "FAILED") for c in checks]
    return tables.table(("item", "value"), rows)


def input_versions(context: "AssetExecutionContext") -> list[tuple[Any, str]]:
    """The data version of each input as the instance recorded it (a materialization, or the
    observation of a raw file)."""
    found = []
    for key in sorted(context.assets_def.dependency_keys - set(context.assets_def.keys), key=lambda k: k.to_user_string()):
        record = context.instance.get_latest_data_version_record(key)
        entry = record.event_log_entry if record is not None else None
        event = entry.asset_materialization or entry.asset_observation if entry is not None and entry.dagster_event else None
        tags = getattr(event, "tags", None) or {}
        found.append((key, str(tags.get("dagster/data_version", "-"))[:16]))
    return found


def card_file(outputs_dir: Path, step: str) -> Path:
    """Where a step's HTML card is stored, beside the recipe's outputs."""
    return outputs_dir / "cards" / f"{step}.html"


def publish(context: "AssetExecutionContext", recipe_name: str, session: StepSession, metadata: dict[str, Any], path: Path, run_id: str | None) -> None:
    step = session.step
    page = render_html(step, metadata, subtitle=f"recipe {recipe_name}, Dagster run {context.run.run_id[:8]}", card_layout=session.layout)
    write_text_atomically(path, page)
    if run_id is None:
        return
    if not hasattr(context.resources, mlflow_key(recipe_name)):  # a step without the MLflow resource
        return
    client = mlflow_of(context, recipe_name).client()  # its errors are the step's: the card is part of the run
    client.log_text(run_id, page, f"cards/{step}.html")
    for upstream in session.also_log:
        stored = path.with_name(f"{upstream}.html")
        if stored.is_file():
            client.log_text(run_id, stored.read_text(), f"cards/{upstream}.html")

