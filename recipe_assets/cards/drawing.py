"""Where matplotlib plots are drawn: in one helper process beside the run, so a step does not wait for
matplotlib to import (about half a second) or to draw. The step hands the plot's (already sampled) data
over and goes on fitting and logging; the card collects the PNGs when the step's outputs are ready. On a
two-core machine the drawing runs on the core the step is not using.

The helper is `python -m recipe_assets.cards.drawing`, started the first time a step asks for a plot and
reused by every later step of the process. It is a plain subprocess, not multiprocessing's spawn, which
would re-run the user's script (a notebook or a script without a `__main__` guard) in the helper. If it
cannot be started, dies or hangs, plots are drawn in the step's own process instead, and a warning says
why; what the helper writes to stderr (a library's warning, a crash) is logged as a warning too.
"""
from __future__ import annotations

import atexit
import logging
import pickle
import queue
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

log = logging.getLogger(__name__)

PLOT_TIMEOUT_SECONDS = 120  # a plot the helper has not drawn by then: the helper is taken as hung


class HelperFailed(RuntimeError):
    """The helper process died or could not be reached (not: a plot failed to draw)."""


class _Helper:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "recipe_assets.cards.drawing"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE
        )
        self.failed = False
        self.outbox: queue.Queue = queue.Queue()
        self.waiting: queue.Queue = queue.Queue()  # futures in the order their jobs were sent
        threading.Thread(target=self._send, daemon=True, name="card-plots-send").start()
        threading.Thread(target=self._receive, daemon=True, name="card-plots-receive").start()
        threading.Thread(target=self._relay_stderr, daemon=True, name="card-plots-stderr").start()

    def submit(self, job: tuple) -> Future:
        if self.failed:
            raise HelperFailed("the helper process has stopped")
        future: Future = Future()
        self.waiting.put(future)
        self.outbox.put(job)
        return future

    def _send(self) -> None:
        try:
            while (job := self.outbox.get()) is not None:
                pickle.dump(job, self.process.stdin, protocol=pickle.HIGHEST_PROTOCOL)
                self.process.stdin.flush()
            self.process.stdin.close()
        except (OSError, pickle.PicklingError) as exc:
            self._fail(exc)

    def _receive(self) -> None:
        try:
            while True:
                status, value = pickle.load(self.process.stdout)
                future = self.waiting.get()
                if future.done():  # failed already: the helper was taken as hung just as it answered
                    continue
                if status == "ok":
                    future.set_result(value)
                else:
                    future.set_exception(RuntimeError(value))
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            self._fail(exc)

    def _relay_stderr(self) -> None:
        for line in self.process.stderr:
            text = line.decode(errors="replace").rstrip()
            if text:
                log.warning("card plot helper (pid %s): %s", self.process.pid, text)

    def _fail(self, exc: Exception) -> None:
        self.failed = True
        while True:
            try:
                future = self.waiting.get_nowait()
            except queue.Empty:
                return
            if not future.done():
                future.set_exception(HelperFailed(str(exc) or type(exc).__name__))

    def kill(self, reason: Exception) -> None:
        """A hung helper: stopped at once, and every plot still waiting on it failed now (each is drawn in
        the step's process), instead of each waiting out its own timeout in turn."""
        self.process.kill()
        self._fail(reason)

    def close(self) -> None:
        self.outbox.put(None)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()


_lock = threading.Lock()
_helper: _Helper | None = None
_broken = False


def _get_helper() -> _Helper | None:
    global _helper, _broken
    with _lock:
        if _helper is None and not _broken:
            try:
                _helper = _Helper()
                atexit.register(shutdown)
            except OSError as exc:  # no processes here (a restricted sandbox): draw in-process
                log.warning("the card plot helper process could not be started (%s); plots are drawn in the step's process", exc)
                _broken = True
        return _helper


def completed(draw: Callable[..., Any], *args: Any, **kwargs: Any) -> "Future[Any]":
    """`draw` run here and now, as a finished future."""
    done: Future[Any] = Future()
    try:
        done.set_result(draw(*args, **kwargs))
    except Exception as exc:
        done.set_exception(exc)
    return done


def submit(draw: Callable[..., Any], *args: Any, **kwargs: Any) -> "Future[Any]":
    """A future of `draw(*args, **kwargs)` (a module-level function), drawn in the helper when there is one."""
    helper = _get_helper()
    if helper is not None:
        try:
            return helper.submit((draw, args, kwargs))
        except HelperFailed as exc:
            _mark_broken(exc)
    return completed(draw, *args, **kwargs)


def result(future: "Future[Any]", draw: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """The plot; if the helper failed (not the drawing itself), the plot drawn here instead."""
    try:
        return future.result(timeout=PLOT_TIMEOUT_SECONDS)
    except TimeoutError:
        _mark_broken(TimeoutError(f"no plot within {PLOT_TIMEOUT_SECONDS} s: the helper was stopped"))
        return draw(*args, **kwargs)
    except HelperFailed as exc:
        _mark_broken(exc)
        return draw(*args, **kwargs)


def _mark_broken(exc: Exception) -> None:
    """Draw in the step's process from now on; a helper still running (hung) is killed, failing its queue."""
    global _broken, _helper
    with _lock:
        helper, already = _helper, _broken
        _broken, _helper = True, None
    if helper is not None:
        helper.kill(exc)
    if not already:
        log.warning("the card plot helper process failed (%s); plots are drawn in the step's process", exc)


def shutdown() -> None:
    global _helper
    with _lock:
        if _helper is not None:
            _helper.close()
            _helper = None


def serve() -> None:
    """The helper's loop: read (draw, args, kwargs) jobs from stdin, write ("ok", plot) or ("error", text)."""
    source, sink = sys.stdin.buffer, sys.stdout.buffer
    sys.stdout = sys.stderr  # anything a library prints must not corrupt the results stream
    from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: F401  (imported before the first job)
    from matplotlib.figure import Figure  # noqa: F401

    while True:
        try:
            draw, args, kwargs = pickle.load(source)
        except EOFError:
            return
        try:
            answer = ("ok", draw(*args, **kwargs))
        except Exception as exc:
            answer = ("error", f"{type(exc).__name__}: {exc}")
        pickle.dump(answer, sink, protocol=pickle.HIGHEST_PROTOCOL)
        sink.flush()


if __name__ == "__main__":
    serve()
