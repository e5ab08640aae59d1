"""Screenshot the MLflow comparison view of the latest training runs for the README.

    python scripts/screenshot_mlflow.py [--runs 6] [--out docs/img/mlflow_compare.png]

Serves the repository's store on 127.0.0.1 only, opens it in headless Chromium.
"""

from __future__ import annotations

import argparse
import json
import time
import urllib.parse

from mlflow.tracking import MlflowClient

from brain_brr.tracking.run import store_root, tracking_uri
from brain_brr.tracking.ui import chromium_page, mlflow_server, screenshot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=6, help="how many of the latest training runs to compare")
    ap.add_argument("--experiment", default="brain-brr")
    ap.add_argument("--out", default=str(store_root() / "docs/img/mlflow_compare.png"))
    args = ap.parse_args()

    uri = tracking_uri()
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(args.experiment)
    if exp is None:
        raise SystemExit(f"no MLflow experiment '{args.experiment}' in {uri}: run `dvc repro` first")
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string="tags.`dvc.stage` = 'train'",
        order_by=["attributes.start_time DESC"],
        max_results=args.runs,
    )
    if len(runs) < 2:
        raise SystemExit(f"need at least 2 training runs to compare, found {len(runs)}: run a few `dvc exp run` first")
    ids = [r.info.run_id for r in runs]
    query = urllib.parse.urlencode({"runs": json.dumps(ids), "experiments": json.dumps([exp.experiment_id])})
    with mlflow_server(uri) as url, chromium_page(1600, 1100) as page:
        page.goto(f"{url}/#/compare-runs?{query}", wait_until="load")
        page.wait_for_selector("text=focal_alpha")
        time.sleep(2)
        path = screenshot(page, args.out)
        page.goto(f"{url}/#/experiments/{exp.experiment_id}/runs", wait_until="load")
        page.wait_for_selector("text=matching runs")
        time.sleep(2)
        runs_path = screenshot(page, path.with_name("mlflow_runs.png"))
    print(f"wrote {path} and {runs_path}")


if __name__ == "__main__":
    main()
