"""resources/deploy: the stack's state is never in a predictable shared path, and no password file outlives postgres.sh."""
from __future__ import annotations

import importlib.util
import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest

from conftest import REPO

DEPLOY = REPO / "resources" / "deploy"


def load_stack_module():
    spec = importlib.util.spec_from_file_location("deploy_stack_under_test", DEPLOY / "stack.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_stack_state_defaults_to_a_private_fresh_folder(monkeypatch):
    monkeypatch.delenv("STACK_DIR", raising=False)
    first, second = load_stack_module().stack_dir(), load_stack_module().stack_dir()
    try:
        for folder in (first, second):
            assert folder.is_dir() and folder.stat().st_uid == os.getuid()
            assert stat.S_IMODE(folder.stat().st_mode) == 0o700
            assert folder != Path("/tmp/recipe-assets-stack")
        assert first != second, "a fresh name each time, not a fixed path"
    finally:
        shutil.rmtree(first, ignore_errors=True)
        shutil.rmtree(second, ignore_errors=True)


def test_stack_dir_is_used_when_set(monkeypatch, tmp_path):
    monkeypatch.setenv("STACK_DIR", str(tmp_path / "stack"))
    assert load_stack_module().stack_dir() == tmp_path / "stack"


def test_waiting_for_postgres_without_stack_dir_says_so(monkeypatch):
    monkeypatch.delenv("STACK_DIR", raising=False)
    with pytest.raises(SystemExit, match="STACK_DIR"):
        load_stack_module().answers("postgres")


def test_postgres_sh_removes_its_password_file_when_initdb_fails(tmp_path):
    stack = tmp_path / "stack"
    (stack / "postgres").mkdir(parents=True)
    (stack / "postgres" / "not-a-cluster").write_text("initdb refuses a non-empty folder")
    if os.getuid() == 0:  # the script runs initdb as postgres, which must enter the folder
        for folder in (tmp_path, stack):
            folder.chmod(0o755)
    env = {**os.environ, "STACK_DIR": str(stack), "DAGSTER_PG_PASSWORD": "s3cret", "STACK_PG_PORT": "1"}
    done = subprocess.run(["bash", str(DEPLOY / "postgres.sh")], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0, done.stdout + done.stderr
    assert "initdb" in done.stderr or "not empty" in done.stderr, done.stderr
    assert not list(stack.glob(".pw.*")), "the password file is left behind"


def test_postgres_sh_refuses_without_stack_dir():
    env = {key: value for key, value in os.environ.items() if key != "STACK_DIR"}
    done = subprocess.run(["bash", str(DEPLOY / "postgres.sh")], env={**env, "DAGSTER_PG_PASSWORD": "x"}, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0 and "STACK_DIR" in done.stderr
