"""Each stage depends on the keys that change its outputs, and nothing else: measured key by key with `dvc status`."""

from __future__ import annotations

import importlib.util

import pytest

from brain_brr.config import is_operational
from tests.conftest import REPO


def _params_table():
    spec = importlib.util.spec_from_file_location("params_table", REPO / "scripts" / "params_table.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def measured():
    tool = _params_table()
    return tool, tool.measure()


def test_docs_page_is_what_dvc_status_says(measured):
    tool, table = measured
    page = (REPO / "docs" / "params.md").read_text()
    assert page == tool.render(table, tool.stage_order()), (
        "docs/params.md is out of date with dvc.yaml: run `python scripts/params_table.py`"
    )


def test_post_processing_reruns_only_the_post_training_stages(measured):
    _, table = measured
    for key in ("eval.min_duration_s", "eval.merge_gap_s", "eval.fa_targets"):
        assert table[key] == ["evaluate", "thresholds", "validate"], key
    assert table["eval.plot_recordings"] == ["evaluate", "validate"]


def test_how_fast_where_and_how_patiently_rerun_nothing_but_validate(measured):
    _, table = measured
    operational = [k for k in table if is_operational(k)]
    assert {"data.workers", "train.num_workers", "mlflow.connect_timeout_s", "mlflow.lock_wait_s"} <= set(operational)
    for key in operational:
        assert table[key] == ["validate"], f"{key} says how fast/where/how patiently, yet reruns {table[key]}"


def test_every_other_key_reruns_a_stage_that_reads_it(measured):
    _, table = measured
    for key, stale in table.items():
        assert "validate" in stale, f"validate must check every key; {key} escaped it"
        if not is_operational(key):
            assert len(stale) > 1, f"{key} changes an output but no stage lists it under params: in dvc.yaml"
    assert table["focal_alpha"] == ["train", "validate"]
    assert table["synth.seed"] == ["synth", "validate"]
