"""dvc.yaml tells the truth: each stage depends on the code it runs and lists the params it reads."""

from __future__ import annotations

import modulefinder
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

SRC = REPO / "src"
STAGE_MODULES = {
    "synth": "brain_brr/data/synth.py",
    "ingest": "brain_brr/data/ingest.py",
    "stats": "brain_brr/data/stats.py",
    "train": "brain_brr/train/loop.py",
    "evaluate": "brain_brr/eval/evaluate.py",
}
# Modules whose changes cannot change a stage's outputs (messages, progress bars, package markers).
NEUTRAL = {"brain_brr/__init__.py", "brain_brr/errors.py", "brain_brr/progress.py"}


def _stages() -> dict:
    return yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]


def _project_imports(entry: str) -> set[str]:
    finder = modulefinder.ModuleFinder(path=[str(SRC)])
    finder.run_script(str(SRC / entry))
    files = {Path(m.__file__).resolve() for m in finder.modules.values() if m.__file__}
    return {f.relative_to(SRC).as_posix() for f in files if SRC in f.parents} | {entry}


@pytest.mark.parametrize("stage", list(STAGE_MODULES))
def test_stage_depends_on_every_module_it_imports(stage):
    deps = [d for d in _stages()[stage]["deps"] if isinstance(d, str) and d.startswith("src/")]
    covered = lambda f: any(f"src/{f}" == d or f"src/{f}".startswith(d.rstrip("/") + "/") for d in deps)  # noqa: E731
    missing = sorted(f for f in _project_imports(STAGE_MODULES[stage]) - NEUTRAL if "__init__" not in f and not covered(f))
    assert not missing, f"dvc.yaml stage '{stage}' lacks deps: {missing}"


def test_every_stage_runs_a_brain_brr_command_and_lists_params_that_exist():
    from brain_brr.config import Params, _all_keys

    keys = set(_all_keys(Params))
    for name, stage in _stages().items():
        assert stage["cmd"].startswith(f"brain-brr {name}"), name
        for p in stage.get("params", []):
            assert p in keys, f"stage '{name}' lists unknown param '{p}'"
