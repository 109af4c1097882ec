"""Helpers for the Procfile: `python resources/deploy/stack.py wait SERVICE... -- COMMAND...` waits until the
named services of the stack answer, prepares the recipe's Dagster instance folder and the Celery workers'
config from the recipe's profile ($RECIPE_ROOT, $RECIPE_PROFILE), then runs COMMAND in its place.

honcho starts every line at once; without this the webserver, daemon and workers would fail while
PostgreSQL is still initialising."""
from __future__ import annotations

import os
import socket
import sys
import tempfile
import time
from pathlib import Path

_PRIVATE_STACK: Path | None = None
PORTS = {
    "redis": ("STACK_REDIS_PORT", 6379),
    "s3": ("STACK_S3_PORT", 9000),
    "mlflow": ("STACK_MLFLOW_PORT", 5000),
}
TIMEOUT_SECONDS = 120


def stack_dir() -> Path:
    """The stack's state: $STACK_DIR (the Procfile's services share it), else a private folder of this process
    (mode 0700, a fresh name), never a fixed path under /tmp another user could create first."""
    global _PRIVATE_STACK
    if os.environ.get("STACK_DIR"):
        return Path(os.environ["STACK_DIR"])
    if _PRIVATE_STACK is None:
        _PRIVATE_STACK = Path(tempfile.mkdtemp(prefix="recipe-assets-stack-"))
        print(f"stack: STACK_DIR is not set; state in {_PRIVATE_STACK}", file=sys.stderr)
    return _PRIVATE_STACK


def answers(service: str) -> bool:
    if service == "postgres":  # ready once its databases exist (postgres.sh)
        if not os.environ.get("STACK_DIR"):
            sys.exit("stack: waiting for postgres needs STACK_DIR, the folder postgres.sh shares with the other services")
        return (stack_dir() / "postgres.ready").exists()
    variable, default = PORTS[service]
    try:
        with socket.create_connection(("127.0.0.1", int(os.environ.get(variable, default))), timeout=1):
            return True
    except OSError:
        return False


def wait_for(services: list[str]) -> None:
    deadline = time.monotonic() + TIMEOUT_SECONDS
    for service in services:
        while not answers(service):
            if time.monotonic() > deadline:
                sys.exit(f"stack: {service} did not come up within {TIMEOUT_SECONDS}s")
            time.sleep(0.3)


def prepare() -> None:
    """The recipe's instance folder (dagster.yaml from its profile) and the workers' Celery config."""
    import yaml

    from recipe_assets.core.profile_choice import chosen_profile
    from recipe_assets.engine.config import load_config
    from recipe_assets.engine.graph import celery_config
    from recipe_assets.engine.instance import prepare_instance_dir

    loaded = load_config(os.environ["RECIPE_ROOT"], chosen_profile())
    prepare_instance_dir(loaded)
    if loaded.config.execution.celery is not None:
        stack = stack_dir()
        stack.mkdir(parents=True, exist_ok=True)
        worker_config = {"execution": {"config": celery_config(loaded)}}
        (stack / "celery-worker.yaml").write_text(yaml.safe_dump(worker_config))


def main(argv: list[str]) -> None:
    if len(argv) < 3 or argv[0] != "wait" or "--" not in argv:
        sys.exit("usage: stack.py wait SERVICE... -- COMMAND...")
    split = argv.index("--")
    wait_for(argv[1:split])
    prepare()
    command = argv[split + 1:]
    os.execvp(command[0], command)


if __name__ == "__main__":
    main(sys.argv[1:])
