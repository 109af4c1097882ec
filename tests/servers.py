"""Real servers for the slow tests, started on 127.0.0.1 and stopped afterwards.

- an MLflow tracking server (`mlflow server`) with a SQLite or PostgreSQL backend store;
- PostgreSQL from Debian's package (initdb + pg_ctl in a temp folder; as root it runs as `postgres`);
- `dagster dev` (the Dagster webserver and daemon) on a workspace.
"""
from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

VENV_BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_http(url: str, process: subprocess.Popen, log: Path, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status < 500:
                    return
        except OSError:
            time.sleep(0.3)
    raise TimeoutError(f"{url} did not answer within {timeout}s:\n{log.read_text()[-3000:]}")


# MLflow 3's server starts Huey job consumers for its GenAI features (scorers, trace rollups), which no test
# uses: seven more Python processes, 1.6 GB and ~30 s of CPU at each server start here, on two cores.
WITHOUT_MLFLOW_JOBS = {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}


@contextmanager
def running(command: list[str], log: Path, health_url: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    env = {**(os.environ if env is None else env), **WITHOUT_MLFLOW_JOBS}
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=cwd, start_new_session=True)
    try:
        wait_for_http(health_url, process, log)
        yield process
    finally:
        _stop(process)


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        os.killpg(process.pid, 15)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
            process.wait()


@contextmanager
def mlflow_server(
    workdir: Path,
    backend_store_uri: str | None = None,
    artifacts_destination: str | None = None,
    admin_password: str | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    """`mlflow server`; with `admin_password`, MLflow's basic-auth app (user `admin`); `env` reaches the
    server only (e.g. the S3 endpoint and keys behind `--artifacts-destination s3://...`)."""
    port = free_port()
    backend = backend_store_uri or f"sqlite:///{workdir / 'server.db'}"
    command = [
        str(VENV_BIN / "mlflow"), "server",
        "--host", "127.0.0.1", "--port", str(port),
        "--backend-store-uri", backend,
        "--artifacts-destination", artifacts_destination or (workdir / "server-artifacts").as_uri(),
        "--workers", "1",
    ]
    server_env = {**os.environ, **(env or {})}
    if admin_password:
        config = workdir / "basic_auth.ini"
        config.write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = sqlite:///{workdir / 'basic_auth.db'}\n"
            "admin_username = admin\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n"
        )
        command += ["--app-name", "basic-auth"]
        server_env.update(MLFLOW_AUTH_CONFIG_PATH=str(config), MLFLOW_AUTH_ADMIN_PASSWORD=admin_password, MLFLOW_FLASK_SERVER_SECRET_KEY="tests-only")
    url = f"http://127.0.0.1:{port}"
    with running(command, workdir / "mlflow-server.log", f"{url}/health", env=server_env):
        yield url


@contextmanager
def moto_s3_server(workdir: Path) -> Iterator[str]:
    """moto's S3-compatible server on 127.0.0.1; yields its endpoint URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with running([str(VENV_BIN / "moto_server"), "-H", "127.0.0.1", "-p", str(port)], workdir / "moto.log", f"{url}/moto-api/"):
        yield url


def postgres_bin() -> Path | None:
    candidates = sorted(Path("/usr/lib/postgresql").glob("*/bin/initdb"))
    return candidates[-1].parent if candidates else None


@contextmanager
def postgres_server(databases: tuple[str, ...] = ("mlflow",), password: str | None = None) -> Iterator[str]:
    """A throwaway PostgreSQL cluster with `databases`; yields a SQLAlchemy URL of the first. With a
    password, TCP logins need it (scram-sha-256) and the URL carries it."""
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise RuntimeError("PostgreSQL is not installed: apt-get install postgresql (.ci/system-packages does)")
    as_postgres = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    base = Path(tempfile.mkdtemp(prefix="recipe-assets-pg-"))
    data = base / "data"
    data.mkdir()
    auth = ["--auth=trust"]
    if password:
        (base / "pwfile").write_text(password)
        auth = ["--auth-local=trust", "--auth-host=scram-sha-256", f"--pwfile={base / 'pwfile'}"]
    if as_postgres:
        for path in (base, data, *([base / "pwfile"] if password else [])):
            shutil.chown(path, "postgres")
    port = free_port()
    env = {**os.environ, **({"PGPASSWORD": password} if password else {})}
    run = lambda *args: subprocess.run([*as_postgres, *map(str, args)], check=True, capture_output=True, text=True, env=env)  # noqa: E731
    try:
        run(bin_dir / "initdb", "-D", data, "-U", "postgres", *auth, "-E", "UTF8")
        run(bin_dir / "pg_ctl", "-D", data, "-l", base / "log", "-w", "-o", f"-p {port} -k {data} -c listen_addresses=127.0.0.1", "start")
        for database in databases:
            run(bin_dir / "createdb", "-h", "127.0.0.1", "-p", port, "-U", "postgres", database)
        user = f"postgres:{password}" if password else "postgres"
        yield f"postgresql+psycopg2://{user}@127.0.0.1:{port}/{databases[0]}"
    finally:
        subprocess.run([*as_postgres, str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True)
        shutil.rmtree(base, ignore_errors=True)


@contextmanager
def dagster_dev(repo: Path, env: dict[str, str], workdir: Path, cwd: Path | None = None) -> Iterator[str]:
    """`dagster dev` (webserver + daemon, which launches queued runs) on the repo's workspace.yaml.
    Without DAGSTER_HOME it keeps a temporary instance in `cwd` (default: the repo)."""
    port = free_port()
    command = [str(VENV_BIN / "dagster"), "dev", "-w", str(repo / "workspace.yaml"), "-h", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, workdir / "dagster-webserver.log", f"{url}/server_info", env=env, cwd=cwd or repo):
        yield url


def wait_for_port(port: int, process: subprocess.Popen, log: Path, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise TimeoutError(f"nothing listens on 127.0.0.1:{port} after {timeout}s:\n{log.read_text()[-3000:]}")


@contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """Debian's redis-server, in memory only; yields the broker URL."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RuntimeError("Redis is not installed: apt-get install redis-server (.ci/system-packages does)")
    port = free_port()
    log = workdir / "redis.log"
    command = [binary, "--bind", "127.0.0.1", "--port", str(port), "--save", "", "--appendonly", "no", "--dir", str(workdir)]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, process, log)
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(process)


@contextmanager
def celery_workers(count: int, worker_config: Path, env: dict[str, str], workdir: Path) -> Iterator[list[subprocess.Popen]]:
    """`dagster-celery worker start` x count, one task at a time each (prefork: a step runs in the worker's child)."""
    processes = []
    env = {**env, "PATH": f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"}  # it starts `celery` by name
    try:
        for number in range(count):
            log = workdir / f"celery-worker-{number}.log"
            command = [
                str(VENV_BIN / "dagster-celery"), "worker", "start", "-A", "dagster_celery.app", "-y", str(worker_config),
                "-n", f"worker{number}", "--", "--concurrency", "1",
            ]
            with log.open("w") as out:
                processes.append(subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True))
        for number, process in enumerate(processes):
            _wait_for_log(workdir / f"celery-worker-{number}.log", "ready.", process)
        yield processes
    finally:
        for process in processes:
            _stop(process)


def _wait_for_log(log: Path, text: str, process: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"process exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        if text in log.read_text():
            return
        time.sleep(0.3)
    raise TimeoutError(f"{text!r} not in {log} after {timeout}s:\n{log.read_text()[-3000:]}")


def process_tree_pids(process: subprocess.Popen) -> set[int]:
    import psutil

    parent = psutil.Process(process.pid)
    return {parent.pid, *(child.pid for child in parent.children(recursive=True))}


@contextmanager
def dagster_webserver(workspace: Path, env: dict[str, str], workdir: Path) -> Iterator[str]:
    """`dagster-webserver` alone (a deployment starts the daemon as its own process)."""
    port = free_port()
    command = [str(VENV_BIN / "dagster-webserver"), "-w", str(workspace), "-h", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    with running(command, workdir / "dagster-webserver.log", f"{url}/server_info", env=env, cwd=workdir):
        yield url


@contextmanager
def dagster_daemon(workspace: Path, env: dict[str, str], workdir: Path, log_name: str = "dagster-daemon.log") -> Iterator[subprocess.Popen]:
    """`dagster-daemon run`: sensors, schedules and the run queue."""
    log = workdir / log_name
    command = [str(VENV_BIN / "dagster-daemon"), "run", "-w", str(workspace)]
    with log.open("w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env, cwd=workdir, start_new_session=True)
    try:
        _wait_for_log(log, "Instance is configured with the following daemons", process)
        yield process
    finally:
        _stop(process)


def write_server_profile(root: Path, tracking_uri: str) -> None:
    """The user's step: a profiles/server.yaml like local.yaml, with the server's address."""
    local = (root / "profiles" / "local.yaml").read_text()
    server = local.replace('tracking_uri: "sqlite:///metadata/mlflow/mlruns.db"', f'tracking_uri: "{tracking_uri}"')
    server = server.replace('  artifact_location: "./metadata/mlflow/mlartifacts"\n', "")
    assert tracking_uri in server
    (root / "profiles" / "server.yaml").write_text(server)
