"""The MLflow UI, served on 127.0.0.1 and read in a real headless Chromium."""

import os

import pytest
from mlflow.tracking import MlflowClient

from brain_brr.config import parse_params
from brain_brr.tracking.run import StageRun
from brain_brr.tracking.ui import chromium_page, chromium_path, mlflow_server

pytestmark = pytest.mark.slow

if chromium_path() is None and not os.environ.get("CI"):
    pytest.skip("chromium is not installed (CI installs Debian's chromium)", allow_module_level=True)


def test_failed_runs_and_red_flags_visible_in_browser(mlflow_store, tmp_path):
    params = parse_params({"focal_alpha": 0.25, "guards": {"strict": False}})
    with StageRun("train", params) as run:
        run.flag("focal_alpha_not_neutral", "focal_alpha=0.25 down-weights seizures")
        run.metrics({"val_auroc": 0.51})
        failed_id = run.run_id
    with StageRun("train", parse_params({})) as run:
        run.metrics({"val_auroc": 0.93})
        ok_id = run.run_id
    client = MlflowClient()
    exp_id = client.get_experiment_by_name("brain-brr").experiment_id

    with mlflow_server(mlflow_store) as url, chromium_page() as page:
        page.goto(f"{url}/#/experiments/{exp_id}/runs", wait_until="load")
        page.wait_for_selector("text=2 matching runs")
        assert page.get_by_text("train", exact=True).count() >= 2

        page.goto(f"{url}/#/experiments/{exp_id}/runs/{failed_id}", wait_until="load")
        page.wait_for_selector("text=focal_alpha_not_neutral")
        body = page.inner_text("body")
        assert "Failed" in body
        assert "red_flags" in body

        page.goto(f"{url}/#/experiments/{exp_id}/runs/{ok_id}", wait_until="load")
        page.wait_for_selector("text=Finished")
        assert "focal_alpha_not_neutral" not in page.inner_text("body")
