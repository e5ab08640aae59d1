"""Fixtures shared by every test folder, and the way tests run a stage file."""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs `-n 3`) each worker keeps to one thread: two compute on two cores while
    the third waits (a locked store, a browser, DVC queue workers)."""
    if os.environ.get("PYTEST_XDIST_WORKER"):
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # the stage processes the tests start inherit both
        os.environ.setdefault("BRAIN_BRR_CPU_THREADS", "1")  # brain_brr.device's fixed CPU thread count
        import torch

        torch.set_num_threads(1)


# The longest files first: each runs DVC pipelines in a scratch repository for half a minute or more. The
# pipeline module reproduces the scratch repository that the experiments module copies (tests/pipeline_project.py),
# so the BIDS module, which builds its own, goes second: the other worker runs it while the first one builds.
LONGEST_FILES = ("test_pipeline_e2e.py", "test_pipeline_bids_e2e.py", "test_experiments_e2e.py")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The longest files first, then the other slow ones: `make test` hands whole files to its xdist workers
    in this order (--dist loadfile --no-loadscope-reorder), so the longest files start at once on different
    workers instead of finishing last on one."""

    def rank(item: pytest.Item) -> int:
        name = item.path.name
        if name in LONGEST_FILES:
            return LONGEST_FILES.index(name)
        return len(LONGEST_FILES) + (item.get_closest_marker("slow") is None)

    items.sort(key=rank)


@functools.cache
def stage(name: str) -> ModuleType:
    """The module ``stages/<name>.py`` (what `dvc repro` runs), imported once per session."""
    spec = importlib.util.spec_from_file_location(f"stages_{name}", REPO / "stages" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def run_stage(name: str, params: Any, **kwargs: Any) -> None:
    """``stages/<name>.py``'s ``run(params)``: raises what the stage raises (RedFlagStop, InputError)."""
    stage(name).run(params, **kwargs)


def stage_main(name: str, *argv: str) -> int:
    """``python stages/<name>.py ARGV`` in this process; returns the exit code."""
    return stage(name).main(list(argv))


def write_params(path: Path, params: Any) -> Path:
    """A params.yaml for ``--params`` from a Params object or a raw mapping."""
    import yaml

    path.write_text(yaml.safe_dump(params.model_dump() if hasattr(params, "model_dump") else params))
    return path


@pytest.fixture(scope="session")
def mlflow_template(tmp_path_factory) -> Path:
    """An empty MLflow sqlite store with its schema migrated once; tests copy it (migrations take seconds)."""
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    folder = tmp_path_factory.mktemp("mlflow-template")
    SqlAlchemyStore(f"sqlite:///{folder / 'mlflow.db'}", str(folder / "artifacts"))
    return folder / "mlflow.db"


@pytest.fixture
def mlflow_store(tmp_path, monkeypatch, mlflow_template) -> str:
    """A fresh sqlite MLflow store for one test, with cwd (hence repo_root()) at tmp_path; returns its URI."""
    shutil.copy(mlflow_template, tmp_path / "mlflow.db")
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.delenv("DVC_EXP_NAME", raising=False)
    monkeypatch.setenv("DVC_ROOT", str(tmp_path))
    monkeypatch.chdir(tmp_path)
    import mlflow

    mlflow.set_tracking_uri(uri)
    yield uri
    if mlflow.active_run() is not None:
        mlflow.end_run()


@pytest.fixture(autouse=True)
def _no_stray_mlflow(tmp_path, monkeypatch):
    """Never let a test write into the repository's own mlflow.db."""
    if "MLFLOW_TRACKING_URI" not in os.environ:
        monkeypatch.setenv("MLFLOW_TRACKING_URI", f"sqlite:///{tmp_path / 'stray-mlflow.db'}")
    yield
