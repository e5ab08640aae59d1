"""A scratch git + DVC repository holding the pipeline on a tiny corpus: shared by the end-to-end modules.

The pipeline is reproduced once per test session (by whichever pytest-xdist worker asks first,
the others wait on a file lock) and each end-to-end module gets its own copy of the result, so
that the modules can run on different workers at once without building it twice.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import yaml
from mlflow.tracking import MlflowClient

from tests.conftest import REPO

TINY = {
    "synth": {"patients": 6, "minutes": 6, "seed": 1},
    "train": {
        "epochs": 2,
        "steps_per_epoch": 12,
        "batch_size": 8,
        "warmup_steps": 4,
        "max_val_windows": 120,
        "patience": 2,
    },
    "model": {"width": 16, "depth": 2},
    "data": {"workers": 1},
    "eval": {"plot_recordings": 1},
}


def _deep_update(d: dict, u: dict) -> dict:
    for k, v in u.items():
        d[k] = _deep_update(d.get(k, {}), v) if isinstance(v, dict) else v
    return d


def _run(cmd: list[str], cwd: Path, check: bool = True, timeout: int = 900) -> subprocess.CompletedProcess:
    env = os.environ.copy()
    env.pop("MLFLOW_TRACKING_URI", None)  # the contract's default: <repo root>/mlflow.db
    env.pop("DVC_ROOT", None)
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env['PATH']}"
    env.setdefault("OMP_NUM_THREADS", "1")
    proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} exited {proc.returncode}\nSTDOUT:\n{proc.stdout[-6000:]}\nSTDERR:\n{proc.stderr[-4000:]}"
        )
    return proc


def make_project(tmp_path_factory, mlflow_template: Path) -> Path:
    """A git+DVC repository holding the pipeline with a tiny corpus, reproduced: this module's own copy of the
    session's one reproduction (:func:`_build_project`)."""
    session = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        session = session.parent  # <session basetemp>/popen-gwN: the parent is this session's, shared by its workers
    base = session / "pipeline-base"
    with open(session / "pipeline-base.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the first worker builds it; the others wait here, then copy
        if not (base / ".built").is_file():
            shutil.rmtree(base, ignore_errors=True)
            base.mkdir()
            build_project(base, mlflow_template, TINY)
            (base / ".built").touch()
    root = tmp_path_factory.mktemp("project")
    shutil.copytree(base, root, symlinks=True, dirs_exist_ok=True)
    (root / ".built").unlink()
    _rebase_mlflow_store(root / "mlflow.db", str(base), str(root))
    return root


def _rebase_mlflow_store(db: Path, old: str, new: str) -> None:
    """Every path of the copied MLflow store (artifact locations, model sources) moved from ``old`` to ``new``."""
    con = sqlite3.connect(db)
    try:
        tables = [t for (t,) in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        for table in tables:
            for _, column, kind, *_ in con.execute(f'PRAGMA table_info("{table}")').fetchall():
                if any(word in kind.upper() for word in ("CHAR", "TEXT", "CLOB")):
                    con.execute(
                        f'UPDATE "{table}" SET "{column}" = replace("{column}", ?, ?) WHERE instr("{column}", ?) > 0',
                        (old, new, old),
                    )
        con.commit()
    finally:
        con.close()


def build_project(root: Path, mlflow_template: Path, overrides: dict) -> None:
    """A fresh git+DVC repository in ``root`` holding the pipeline, params.yaml with ``overrides``, reproduced once
    (its log in ``repro.log``) and committed."""
    for name in ("dvc.yaml", "params.yaml", ".gitignore"):
        shutil.copy(REPO / name, root / name)
    for folder in ("src", "stages", "scripts"):
        shutil.copytree(REPO / folder, root / folder, ignore=shutil.ignore_patterns("__pycache__", "*.egg-info"))
    params = yaml.safe_load((root / "params.yaml").read_text())
    (root / "params.yaml").write_text(yaml.safe_dump(_deep_update(params, overrides), sort_keys=False))
    _run(["git", "init", "-q"], root)
    _run(["git", "config", "user.email", "test@brain-brr.invalid"], root)
    _run(["git", "config", "user.name", "brain-brr test"], root)
    _run(["dvc", "init", "-q"], root)
    shutil.copy(mlflow_template, root / "mlflow.db")  # an empty store, schema already migrated
    _run(["dvc", "config", "core.analytics", "false"], root)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "pipeline"], root)
    proc = _run(["dvc", "repro"], root)
    (root / "repro.log").write_text(proc.stdout + proc.stderr)
    _run(["git", "add", "-A"], root)
    _run(["git", "commit", "-qm", "repro"], root)


def _client(root: Path) -> MlflowClient:
    return MlflowClient(tracking_uri=f"sqlite:///{root / 'mlflow.db'}")


def _runs(root: Path, filter_string: str = "") -> list:
    client = _client(root)
    exp = client.get_experiment_by_name("brain-brr")
    return client.search_runs([exp.experiment_id], filter_string=filter_string, max_results=1000)
