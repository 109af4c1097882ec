"""Record the peer's side of the differential harness (MLflow Recipes 2.22.2 in bench/out/peer-venv), one
corpus dir at a time, into tests/differential/peer_record/<dir>/:

    .venv/bin/python tests/differential/record_peer.py [DIR ...]     (no DIR: every dir of the corpus)

Each dir is prepared as the harness prepares it (copy, make_data, adjust), run on the real peer alone with
peer_site, probed, its step tests and reruns run; diff_harness.record_peer writes what the comparisons read.
The record is keyed by diff_harness.record_key; the harness refuses a record whose key does not match.
"""
from __future__ import annotations

import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import diff_harness  # noqa: E402
from corpus import CORPUS  # noqa: E402


def main(names: list[str]) -> int:
    by_name = {entry.name: entry for entry in CORPUS}
    unknown = [name for name in names if name not in by_name]
    if unknown:
        print(f"unknown dirs: {', '.join(unknown)}; the corpus: {', '.join(by_name)}", file=sys.stderr)
        return 2
    for name in names or list(by_name):
        began = time.monotonic()
        work = Path(tempfile.mkdtemp(prefix=f"record-{name}-"))
        try:
            staged = diff_harness.record_peer(by_name[name], work, work / "record" / name)
            target = diff_harness.RECORD_DIR / name
            if target.exists():
                shutil.rmtree(target)
            shutil.copytree(staged, target)
        finally:
            shutil.rmtree(work, ignore_errors=True)
        size = sum(p.stat().st_size for p in target.rglob("*") if p.is_file())
        print(f"{name}: recorded in {time.monotonic() - began:.0f} s, {size / 1024:.0f} KiB", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
