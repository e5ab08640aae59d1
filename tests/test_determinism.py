"""The same seed gives identical metrics files on CPU, run twice."""

from __future__ import annotations

import yaml

from tests.conftest import stage_main
from tests.train.conftest import make_processed, tiny_params


def test_train_and_evaluate_twice_give_identical_metrics(tmp_path, mlflow_store):
    make_processed(tmp_path, recordings={"train": 4, "dev": 2, "eval": 2}, minutes=3.0)
    params = tiny_params(
        **{"guards.strict": False, "train.epochs": 2, "train.steps_per_epoch": 5, "model.dropout": 0.2}
    )
    path = tmp_path / "params.yaml"
    path.write_text(yaml.safe_dump(params.model_dump()))
    outputs = ("metrics/train.json", "metrics/eval.json", "reports/train/history.csv", "reports/eval/recordings.csv")
    runs = []
    for _ in range(2):
        assert stage_main("train", "--params", str(path)) == 0
        assert stage_main("evaluate", "--params", str(path)) == 0
        runs.append({name: (tmp_path / name).read_bytes() for name in outputs})
    for name in outputs:
        assert runs[0][name] == runs[1][name], name
