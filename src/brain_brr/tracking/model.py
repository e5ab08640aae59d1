"""The trained detector as an MLflow model: a pyfunc over EDF paths, registered in the Model Registry.

``mlflow.pyfunc.load_model("models:/brain-brr-detector/<version>").predict(df)`` takes a
DataFrame with a column ``edf_path`` and returns one row per detected seizure event
(``kind`` = ``event``: ``onset``, ``duration`` in seconds, ``probability`` = mean probability
over the event), or with ``params={"output": "probabilities"}`` one row per label step
(``kind`` = ``step``). Each EDF is read exactly as ingest reads it, with the model's own
data settings and the thresholds chosen on dev.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import mlflow
import pandas as pd

OUTPUT_COLUMNS = ["edf_path", "kind", "onset", "duration", "probability"]


class DetectorModel(mlflow.pyfunc.PythonModel):
    """pyfunc wrapper around ``models/detector`` (weights + config.json)."""

    def load_context(self, context: Any) -> None:
        from brain_brr.eval.postprocess import thresholds_from_config
        from brain_brr.train.model import load_detector

        model_dir = Path(context.artifacts["detector"])
        self.model, self.config = load_detector(model_dir)
        self.thresholds = thresholds_from_config(self.config, model_dir)

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:  # noqa: ARG002
        output = (params or {}).get("output", "events")
        rows = []
        for path in model_input["edf_path"]:
            rows += recording_rows(self.model, self.config, self.thresholds, Path(path), output)
        return pd.DataFrame(rows, columns=OUTPUT_COLUMNS)


def recording_rows(
    model: Any, config: dict[str, Any], thresholds: dict, edf: Path, output: str
) -> list[dict[str, Any]]:
    """Events (or per-step probabilities) of one EDF as output rows."""
    import numpy as np

    from brain_brr.config import DataConfig
    from brain_brr.data.edf import read_eeg
    from brain_brr.eval.inference import infer_recording
    from brain_brr.eval.postprocess import events_for

    data_cfg = DataConfig(**config["data"])
    label_rate = int(config["label_rate"])
    rec = read_eeg(edf, data_cfg)
    probs = infer_recording(model, rec.signal, fs=rec.fs, label_rate=label_rate, window_s=data_cfg.window_s)
    if output == "probabilities":
        step = 1.0 / label_rate
        return [
            {"edf_path": str(edf), "kind": "step", "onset": k * step, "duration": step, "probability": float(p)}
            for k, p in enumerate(probs)
        ]
    rows = []
    for start, stop in events_for(probs, label_rate, thresholds):
        mean = float(np.mean(probs[int(start * label_rate) : max(int(start * label_rate) + 1, int(stop * label_rate))]))
        rows.append(
            {"edf_path": str(edf), "kind": "event", "onset": start, "duration": stop - start, "probability": mean}
        )
    return rows


def signature() -> Any:
    from mlflow.models import ModelSignature
    from mlflow.types import ColSpec, ParamSchema, ParamSpec, Schema

    inputs = Schema([ColSpec("string", "edf_path")])
    outputs = Schema(
        [
            ColSpec("string", "edf_path"),
            ColSpec("string", "kind"),
            ColSpec("double", "onset"),
            ColSpec("double", "duration"),
            ColSpec("double", "probability"),
        ]
    )
    return ModelSignature(inputs=inputs, outputs=outputs, params=ParamSchema([ParamSpec("output", "string", "events")]))


def log_detector(model_dir: Path, registered_name: str, red_flags: list[str]) -> None:
    """Log ``model_dir`` as the active run's model; register it unless the training raised a red flag."""
    version = _log(model_dir, None if red_flags else registered_name)
    if version:
        print(f"[MLFLOW] registered model '{registered_name}' version {version}", flush=True)
    else:
        print(f"[MLFLOW] model logged to the run, not registered: red flag(s) {', '.join(red_flags)}", flush=True)


def log_detector_to_run(run_id: str | None, model_dir: Path, registered_name: str, red_flags: list[str]) -> None:
    """:func:`log_detector` into the training's run (the registered version's source run), its status kept."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not run_id:
        print("[MLFLOW] no train run of this MLflow experiment wrote these weights: model not logged", flush=True)
        return
    client = MlflowClient()
    try:
        status = client.get_run(run_id).info.status
    except MlflowException:
        print(f"[MLFLOW] training run {run_id} is not in this MLflow store: model not logged", flush=True)
        return
    with mlflow.start_run(run_id=run_id, nested=True):
        log_detector(model_dir, registered_name, red_flags)
    client.set_terminated(run_id, status)  # a FAILED training stays FAILED


def _log(model_dir: Path, registered_name: str | None) -> str | None:
    import warnings

    with warnings.catch_warnings():  # MLflow's hint about an input example: an EDF path cannot be one
        warnings.simplefilter("ignore", UserWarning)
        info = _log_pyfunc(model_dir, registered_name)
    return str(info.registered_model_version) if registered_name and info.registered_model_version else None


def _log_pyfunc(model_dir: Path, registered_name: str | None) -> Any:
    return mlflow.pyfunc.log_model(
        name="detector",
        python_model=str(Path(__file__).with_name("pyfunc_entry.py")),
        artifacts={"detector": str(model_dir)},
        signature=signature(),
        pip_requirements=["torch", "mne", "numpy", "scipy", "pandas", "pyarrow", "pydantic", "brain-brr"],
        registered_model_name=registered_name,
        await_registration_for=0,
    )


def tag_versions_of_run(registered_name: str, train_run_id: str | None, tags: dict[str, Any]) -> list[str]:
    """Tag every version of ``registered_name`` whose source run is ``train_run_id``; returns their numbers."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not train_run_id:
        return []
    client = MlflowClient()
    try:
        versions = client.search_model_versions(f"name = '{registered_name}' and run_id = '{train_run_id}'")
    except MlflowException:
        return []
    for v in versions:
        for key, value in tags.items():
            _set_version_tag(client, registered_name, v.version, key, str(value))
    return [v.version for v in versions]


def _set_version_tag(client: Any, name: str, version: str, key: str, value: str, tries: int = 5) -> None:
    """Set one tag; two experiments evaluating the same weights at once race on sqlite's insert, so try again
    (the second try of the loser is an update)."""
    import time

    from mlflow.exceptions import MlflowException

    for attempt in range(tries):
        try:
            client.set_model_version_tag(name, version, key, value)
            return
        except MlflowException:
            if attempt == tries - 1:
                raise
            time.sleep(0.2 * (attempt + 1))
