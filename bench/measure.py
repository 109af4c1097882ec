"""Run a command as a subprocess and measure its wall time and memory."""
from __future__ import annotations

import os
import subprocess
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


@dataclass
class Measurement:
    seconds: float
    tree_rss_mb: float
    max_process_rss_mb: float
    returncode: int
    output: str


@dataclass
class CaseResult:
    case: str
    seconds: float
    tree_rss_mb: float
    max_process_rss_mb: float
    steps_ran: list[str] = field(default_factory=list)
    ok: bool = True
    log: str = ""

    @classmethod
    def of(cls, case: str, m: Measurement, steps_ran: list[str], log: Path) -> "CaseResult":
        return cls(case, m.seconds, m.tree_rss_mb, m.max_process_rss_mb, steps_ran, m.returncode == 0, str(log))


def _process_tree(root: int) -> list[int]:
    parents: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        parents.setdefault(ppid, []).append(int(entry))
    tree, todo = [], [root]
    while todo:
        pid = todo.pop()
        tree.append(pid)
        todo.extend(parents.get(pid, []))
    return tree


def _tree_rss_bytes(root: int) -> int:
    total = 0
    for pid in _process_tree(root):
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1]) * PAGE_BYTES
        except (OSError, IndexError, ValueError):
            pass
    return total


class _TreeRssPoller(threading.Thread):
    """Samples the summed RSS of a process and all its descendants (shared pages count twice)."""

    def __init__(self, pid: int, interval: float = 0.05):
        super().__init__(daemon=True)
        self.pid, self.interval, self.peak = pid, interval, 0
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            self.peak = max(self.peak, _tree_rss_bytes(self.pid))
            self.stopped.wait(self.interval)


def measure(cmd: list[str], cwd: Path | None = None, env: dict | None = None, log: Path | None = None) -> Measurement:
    """Run `cmd`, return wall seconds, peak RSS of its process tree, and the largest single process's
    max RSS (wait4's ru_maxrss: the max over the child and its reaped descendants). Polling can miss
    short peaks, so the tree figure is never reported below the single-process one."""
    log = log or Path(os.devnull)
    with open(log, "w") as out:
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT)
        poller = _TreeRssPoller(proc.pid)
        poller.start()
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - start
        poller.stopped.set()
        poller.join()
        proc.returncode = os.waitstatus_to_exitcode(status)
    text = log.read_text(errors="replace") if log != Path(os.devnull) else ""
    return Measurement(
        seconds=seconds,
        tree_rss_mb=max(poller.peak / 2**20, usage.ru_maxrss / 1024),
        max_process_rss_mb=usage.ru_maxrss / 1024,
        returncode=proc.returncode,
        output=text,
    )


def clean_env() -> dict:
    """The caller's environment without its MLflow, Dagster and recipe settings, and without PYTHON*
    variables, as the peer's runs have always been (peer.peer_env): this machine sets
    PYTHONDONTWRITEBYTECODE=1, under which our package, installed editable, would be compiled from source in
    every process while every installed package (and a `pip install recipe-assets`) has its bytecode."""
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DAGSTER_", "RECIPE_", "PYTHON"))}
