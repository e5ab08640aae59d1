"""dvc.yaml tells the truth: each stage runs its own file, depends on exactly the code it runs, lists its params."""

from __future__ import annotations

import modulefinder
from pathlib import Path

import pytest
import yaml

from tests.conftest import REPO

SRC = REPO / "src"
STAGES = REPO / "stages"
# Modules whose changes cannot change a stage's outputs (messages, progress bars, package markers).
NEUTRAL = {"brain_brr/__init__.py", "brain_brr/errors.py", "brain_brr/progress.py"}


def _stages() -> dict:
    """Each stage's definition; a ``foreach`` stage (one per list entry) by its ``do`` template."""
    stages = yaml.safe_load((REPO / "dvc.yaml").read_text())["stages"]
    return {name: s["do"] if "foreach" in s else s for name, s in stages.items()}


def _project_imports(stage: str) -> set[str]:
    finder = modulefinder.ModuleFinder(path=[str(SRC)])
    finder.run_script(str(STAGES / f"{stage}.py"))
    files = {Path(m.__file__).resolve() for m in finder.modules.values() if m.__file__}
    return {f"src/{f.relative_to(SRC).as_posix()}" for f in files if SRC in f.parents and f.name != "__init__.py"}


def _expand(dep: str) -> set[str]:
    path = REPO / dep
    if path.is_dir():
        return {
            f"{dep.rstrip('/')}/{p.relative_to(path).as_posix()}" for p in path.rglob("*.py") if p.name != "__init__.py"
        }
    return {dep}


@pytest.mark.parametrize("stage", list(_stages()))
def test_stage_deps_are_exactly_the_code_it_runs(stage):
    deps = [d for d in _stages()[stage]["deps"] if isinstance(d, str) and d.startswith(("src/", "stages/"))]
    listed = set().union(*(_expand(d) for d in deps))
    imported = _project_imports(stage) - {f"src/{n}" for n in NEUTRAL}
    assert f"stages/{stage}.py" in listed, f"dvc.yaml stage '{stage}' does not depend on its own file"
    assert not imported - listed, f"dvc.yaml stage '{stage}' lacks deps: {sorted(imported - listed)}"
    assert not listed - imported - {f"stages/{stage}.py"}, (
        f"dvc.yaml stage '{stage}' depends on code it never runs: {sorted(listed - imported)}"
    )


def test_every_stage_runs_its_own_file_and_lists_params_that_exist():
    from brain_brr.config import Params, _all_keys

    keys = set(_all_keys(Params))
    assert {p.stem for p in STAGES.glob("*.py")} == set(_stages()), "one file in stages/ per DVC stage"
    for name, stage in _stages().items():
        assert stage["cmd"] in (f"python stages/{name}.py", f"python stages/{name}.py --corpus ${{item.name}}"), name
        for p in stage.get("params", []):
            if isinstance(p, dict):  # `params.yaml:` with no key list: the whole file
                assert p == {"params.yaml": None}, p
                continue
            assert p in keys, f"stage '{name}' lists unknown param '{p}'"


def test_validate_runs_first_and_sees_every_param():
    stages = _stages()
    assert {"params.yaml": None} in stages["validate"]["params"]
    check = stages["validate"]["outs"][0]
    check = next(iter(check)) if isinstance(check, dict) else check
    for first in ("synth", "ingest"):  # every other stage runs after one of these
        assert check in stages[first]["deps"], first


def test_eval_curves_are_also_image_plots_that_render_offline():
    plots = [next(iter(p)) if isinstance(p, dict) else p for p in _stages()["evaluate"]["plots"]]
    for curve in ("roc", "pr", "sens_fa"):
        assert f"reports/eval/{curve}.csv" in plots and f"reports/eval/{curve}.png" in plots
