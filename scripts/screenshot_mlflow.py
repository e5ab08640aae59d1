"""Screenshots of the MLflow UI for the README: parent runs with their stage runs, and a comparison.

    python scripts/screenshot_mlflow.py [--names alpha-025 seed-1] [--out docs/img/mlflow_experiments.png]

Serves the repository's store on 127.0.0.1 only and opens it in headless Chromium, in the
UI's model-training view. The parent runs named (default: the two newest) are expanded to
show their stage runs; a second picture compares their training runs (params beside eval metrics).
"""

from __future__ import annotations

import argparse
import json
import re
import time
import urllib.parse

from mlflow.tracking import MlflowClient

from brain_brr.tracking.run import store_root, tracking_uri
from brain_brr.tracking.ui import chromium_page, experiment_url, mlflow_server, screenshot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--names", nargs="+", help="parent runs (DVC experiment names) to expand and compare")
    ap.add_argument("--experiment", default="brain-brr")
    ap.add_argument("--out", default=str(store_root() / "docs/img/mlflow_experiments.png"))
    args = ap.parse_args()

    uri = tracking_uri()
    client = MlflowClient(tracking_uri=uri)
    exp = client.get_experiment_by_name(args.experiment)
    if exp is None:
        raise SystemExit(f"no MLflow experiment '{args.experiment}' in {uri}: run `dvc repro` first")
    parents = client.search_runs(
        [exp.experiment_id], filter_string="tags.`brain_brr.role` = 'pipeline'", order_by=["attributes.start_time DESC"]
    )
    if args.names:
        parents = [p for p in parents if p.info.run_name in args.names]
    parents = parents[: len(args.names) if args.names else 2]
    if len(parents) < 2:
        raise SystemExit(f"found {len(parents)} of the pipeline runs asked for: run two `dvc exp run --temp ...` first")
    names = [p.info.run_name for p in parents]
    trains = [
        r.info.run_id
        for p in parents
        for r in client.search_runs(
            [exp.experiment_id],
            filter_string=f"tags.`mlflow.parentRunId` = '{p.info.run_id}' and tags.`dvc.stage` = 'train'",
        )
    ]
    with mlflow_server(uri) as url, chromium_page(1600, 1000) as page:
        page.goto(experiment_url(url, exp.experiment_id), wait_until="load")
        page.wait_for_selector(f"text={names[0]}")
        _close_assistant(page)
        _show_columns(page, HEADLINE_COLUMNS)
        for name in names:  # expand each parent: the "+" button left of its name
            row = page.get_by_role("row").filter(has_text=name).first
            row.get_by_role("button").first.click()
        time.sleep(2)
        path = screenshot(page, args.out)
        query = urllib.parse.urlencode({"runs": json.dumps(trains), "experiments": json.dumps([exp.experiment_id])})
        page.goto(f"{url}/#/compare-runs?{query}&workflowType=machine_learning", wait_until="load")
        page.wait_for_selector("text=focal_alpha")
        page.get_by_text("Parameters", exact=True).last.scroll_into_view_if_needed()
        time.sleep(2)
        compare = screenshot(page, path.with_name(f"{path.stem}_compare.png"))
    print(f"wrote {path} and {compare}")


# What the README tells a user to tick under "Columns": the red flags beside the headline metrics.
HEADLINE_COLUMNS = ("red_flags", "auroc", "szcore.f1", "ovlp.sensitivity")


def _show_columns(page: object, columns: tuple[str, ...]) -> None:
    """Columns -> type each name in the search box -> tick the exact match, as the README says."""
    page.get_by_role("button", name="Columns").first.click()
    search = page.get_by_placeholder("Search columns")
    for column in columns:
        search.fill(column)
        time.sleep(0.5)
        whole = re.compile(f"^{re.escape(column)}$")  # not baseline.<column>, whose text holds it too
        tree = page.get_by_test_id("column-selector-tree")
        tree.locator(".du-bois-light-tree-treenode").filter(has_text=whole).first.locator(
            ".du-bois-light-tree-title, [class*=tree-title]"
        ).first.click()
    search.fill("")
    page.keyboard.press("Escape")
    time.sleep(1)


def _close_assistant(page: object) -> None:
    """The assistant side panel covers a third of the page: close it when it is open."""
    close = page.get_by_role("button", name="Close")
    if close.count():
        close.first.click()


if __name__ == "__main__":
    main()
