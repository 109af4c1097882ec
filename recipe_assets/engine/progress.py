"""One line per step while a run goes, instead of Dagster's debug event stream."""
from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable

from dagster import DagsterEventType, LoggerDefinition, logger

from recipe_assets.steps.registry import step_of

Printer = Callable[[str], None]


def step_name(node_name: str) -> str:
    """`regression__model` → `train`, `regression__split` → `split`."""
    last = node_name.rsplit("__", 1)[-1]
    try:
        return step_of(last)
    except KeyError:
        return last


class _ProgressHandler(logging.Handler):
    def __init__(self, printer: Printer):
        super().__init__(level=logging.DEBUG)
        self.printer = printer
        self.started: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        meta = getattr(record, "dagster_meta", None) or {}
        event = meta.get("dagster_event")
        if event is None or event.step_key is None:
            return
        name = step_name(event.step_key)
        if event.event_type == DagsterEventType.STEP_START:
            self.started[name] = time.perf_counter()
            self.printer(f"  {name:<15} running")
        elif event.event_type == DagsterEventType.STEP_SUCCESS:
            elapsed = time.perf_counter() - self.started.get(name, time.perf_counter())
            self.printer(f"  {name:<15} done in {elapsed:.1f}s")
        elif event.event_type == DagsterEventType.STEP_FAILURE:
            self.printer(f"  {name:<15} FAILED")


def progress_logger(printer: Printer | None = None) -> LoggerDefinition:
    def _print(line: str) -> None:
        print(line, file=sys.stdout, flush=True)

    chosen = printer or _print

    @logger(description="Prints one line per recipe step.")
    def _progress(_init_context) -> logging.Logger:
        progress = logging.getLogger("recipe_assets.engine.progress")
        progress.handlers = [_ProgressHandler(chosen)]
        progress.setLevel(logging.DEBUG)
        progress.propagate = False
        return progress

    return _progress
