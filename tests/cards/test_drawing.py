"""The card plot helper process: plots drawn there, its stderr and its failures said at WARNING, and a hung
helper stopped on the first timeout with every plot still waiting on it drawn here at once."""
from __future__ import annotations

import logging
import os
import time

import pytest


def helper_warnings(caplog) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "recipe_assets.cards.drawing" and r.levelno == logging.WARNING]


def test_a_hung_helper_is_killed_on_the_first_timeout_and_its_pending_plots_fail_at_once(fresh_plot_helper, caplog, monkeypatch):
    drawing = fresh_plot_helper
    monkeypatch.setattr(drawing, "PLOT_TIMEOUT_SECONDS", 2)
    hung = drawing.submit(time.sleep, 60)  # the helper is stuck in this "plot"
    helper = drawing._helper
    queued = [drawing.submit(os.getpid) for _ in range(3)]
    started = time.monotonic()
    with caplog.at_level(logging.WARNING):
        drawn_here = [drawing.result(future, os.getpid) for future in (hung, *queued)]
    elapsed = time.monotonic() - started
    assert drawn_here == [os.getpid()] * 4  # each drawn in this process instead
    assert elapsed < 2 + 1.5, f"the queued plots waited their own timeouts ({elapsed:.1f} s)"
    assert helper.process.wait(timeout=5) is not None  # killed, not left sleeping
    assert helper_warnings(caplog) == [
        "the card plot helper process failed (no plot within 2 s: the helper was stopped); plots are drawn in the step's process"
    ]


def test_what_the_helper_writes_to_stderr_is_logged_as_a_warning(fresh_plot_helper, caplog):
    drawing = fresh_plot_helper
    with caplog.at_level(logging.WARNING):
        drawing.result(drawing.submit(os.write, 2, b"UserWarning: a library complains\n"), os.getpid)
        deadline = time.monotonic() + 10
        while not helper_warnings(caplog) and time.monotonic() < deadline:
            time.sleep(0.05)
    pid = drawing._helper.process.pid
    assert helper_warnings(caplog) == [f"card plot helper (pid {pid}): UserWarning: a library complains"]


def test_a_helper_that_cannot_start_is_said_at_warning_and_plots_are_drawn_here(fresh_plot_helper, caplog, monkeypatch):
    drawing = fresh_plot_helper

    def no_processes(*args, **kwargs):
        raise PermissionError("process creation denied")

    monkeypatch.setattr(drawing.subprocess, "Popen", no_processes)
    with caplog.at_level(logging.WARNING):
        assert drawing.result(drawing.submit(os.getpid), os.getpid) == os.getpid()
    assert helper_warnings(caplog) == [
        "the card plot helper process could not be started (process creation denied); plots are drawn in the step's process"
    ]


def test_plots_are_drawn_in_the_helper_not_here(fresh_plot_helper):
    drawing = fresh_plot_helper
    where = drawing.result(drawing.submit(os.getpid), pytest.fail)  # pytest.fail: no fallback allowed
    assert where == drawing._helper.process.pid != os.getpid()
