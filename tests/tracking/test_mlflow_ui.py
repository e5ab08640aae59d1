"""The MLflow UI, served on 127.0.0.1 and read in a real headless Chromium.

Skipped only when no Chromium is installed (`apt-get install chromium`; CI installs it) and
CI is not set; the skip message says so.
"""

import pytest
from mlflow.tracking import MlflowClient

from brain_brr.config import parse_params
from brain_brr.tracking.run import StageRun
from brain_brr.tracking.ui import chromium_page, chromium_path, experiment_url, mlflow_server, run_url

pytestmark = pytest.mark.slow

if chromium_path() is None:
    pytest.skip(
        "chromium is not installed: `apt-get install chromium` to run the MLflow UI browser test",
        allow_module_level=True,
    )


def _pipeline(monkeypatch, name: str, alpha: float) -> str:
    """Two stages of one DVC experiment: validate, then a train run (flagged when alpha is not neutral)."""
    monkeypatch.setenv("DVC_EXP_NAME", name)
    params = parse_params({"focal_alpha": alpha, "guards": {"strict": False}})
    with StageRun("validate", params):
        pass
    with StageRun("train", params) as run:
        if alpha != 0.5:
            run.flag("focal_alpha_not_neutral", f"focal_alpha={alpha} down-weights seizures")
        run.metrics({"val_auroc": 0.51 if alpha != 0.5 else 0.93})
    return run.run_id


def test_parent_runs_children_and_red_flags_in_the_browser(mlflow_store, monkeypatch):
    failed_id = _pipeline(monkeypatch, "exp-alpha", 0.25)
    ok_id = _pipeline(monkeypatch, "exp-default", 0.5)
    client = MlflowClient()
    exp = client.get_experiment_by_name("brain-brr")
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"

    with mlflow_server(mlflow_store) as url, chromium_page() as page:
        page.goto(experiment_url(url, exp.experiment_id), wait_until="load")
        page.wait_for_selector("text=exp-default")
        assert page.get_by_text("exp-alpha", exact=True).count() == 1
        assert page.get_by_text("6 matching runs").count() == 1  # two parents, four stage runs nested under them
        assert page.get_by_text("Model training").count() >= 1

        page.goto(run_url(url, exp.experiment_id, failed_id), wait_until="load")
        page.wait_for_selector("text=focal_alpha_not_neutral")
        body = page.inner_text("body")
        assert "Failed" in body and "red_flags" in body and "exp-alpha/train" in body

        page.goto(run_url(url, exp.experiment_id, ok_id), wait_until="load")
        page.wait_for_selector("text=Finished")
        assert "focal_alpha_not_neutral" not in page.inner_text("body")
