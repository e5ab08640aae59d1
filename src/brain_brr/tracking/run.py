"""MLflow runs for pipeline stages, and the red-flag mechanism every stage shares.

One :class:`StageRun` per stage execution. It resolves the tracking URI by the
contract's rule, tags the run (``dvc.stage``, ``dvc.exp_name``, ``red_flags``),
logs the validated params, and ends the run ``FINISHED``, ``FAILED`` (any red
flag or error) or ``KILLED`` (interrupted). Runs left ``RUNNING`` by a process
that died (SIGKILL) are closed as ``KILLED`` when the next stage starts.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import signal
import socket
import time
from pathlib import Path
from typing import Any

from brain_brr.errors import InputError, RedFlagStop


def repo_root() -> Path:
    """The project the stage runs in: the nearest folder above cwd holding ``dvc.yaml``, else cwd.

    Data paths (``data.root``, ``data.processed``, ``metrics/``) resolve against it. DVC runs
    stages with cwd at the root of the workspace it runs in, which for ``dvc exp run
    --temp/--queue`` is a temporary copy: outputs must land there, not in the parent.
    """
    here = Path.cwd().resolve()
    for p in (here, *here.parents):
        if (p / "dvc.yaml").is_file():
            return p
    return here


def store_root() -> Path:
    """Where the MLflow store lives: ``$DVC_ROOT`` when DVC sets it, else :func:`repo_root`.

    For queued and temporary experiments DVC points ``DVC_ROOT`` at the parent repository,
    so every experiment logs into the workspace's store.
    """
    env = os.environ.get("DVC_ROOT")
    return Path(env).resolve() if env else repo_root()


def tracking_uri(root: Path | None = None) -> str:
    env = os.environ.get("MLFLOW_TRACKING_URI")
    if env:
        return env
    root = root or store_root()
    return f"sqlite:///{(root / 'mlflow.db').resolve()}"


def artifact_location(root: Path | None = None) -> str:
    root = root or store_root()
    return (root / "mlartifacts").resolve().as_uri()


def _quiet_mlflow() -> None:
    import logging

    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    for name in ("mlflow", "alembic", "sqlalchemy"):
        logging.getLogger(name).setLevel(logging.WARNING)


EXPERIMENT_KIND = "custom_model_development"  # the UI opens the experiment in its model-training view
HEADLINE_PARAMS = (
    "loss",
    "focal_alpha",
    "focal_gamma",
    "use_balanced_sampling",
    "pos_weight",
    "data.root",
    "train.seed",
    "synth.difficulty",
)
HEADLINE_SECTIONS = ("model.", "sampler.", "augment.")
WRITE_THE_DATA = ("validate", "synth", "ingest")  # stages before data/processed has its version


def ensure_experiment(name: str, root: Path | None = None) -> str:
    """Create the store and the experiment once (safe when several processes race)."""
    import mlflow
    from mlflow.tracking import MlflowClient

    _quiet_mlflow()
    mlflow.set_tracking_uri(tracking_uri(root))
    client = MlflowClient()
    for attempt in range(20):
        exp = client.get_experiment_by_name(name)
        if exp is not None:
            if exp.tags.get("mlflow.experimentKind") != EXPERIMENT_KIND:
                client.set_experiment_tag(exp.experiment_id, "mlflow.experimentKind", EXPERIMENT_KIND)
            return exp.experiment_id
        try:
            # A tracking server decides where artifacts go (its --artifacts-destination); any local store
            # (sqlite, also one named by MLFLOW_TRACKING_URI) keeps them in <repo root>/mlartifacts.
            remote = tracking_uri(root).startswith(("http://", "https://", "databricks"))
            location = None if remote else artifact_location(root)
            return client.create_experiment(
                name, artifact_location=location, tags={"mlflow.experimentKind": EXPERIMENT_KIND}
            )
        except Exception:  # another process created it first, or sqlite was busy
            time.sleep(0.2 * (attempt + 1))
    raise RuntimeError(f"could not create or find MLflow experiment '{name}' at {tracking_uri(root)}")


def open_parent(experiment_id: str, key: str, name: str, prov: Any, params: Any) -> str:
    """The parent run of this pipeline execution, created by its first stage, RUNNING while a stage runs."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    found = client.search_runs([experiment_id], filter_string=f"tags.`brain_brr.pipeline` = '{key}'", max_results=1)
    live = {"brain_brr.pid": str(os.getpid()), "brain_brr.host": socket.gethostname()}
    if found:
        run_id = found[0].info.run_id
        client.update_run(run_id, status="RUNNING")
        for k, v in live.items():
            client.set_tag(run_id, k, v)
        return run_id
    tags = {"brain_brr.pipeline": key, "brain_brr.role": "pipeline", "red_flags": "", **prov.tags(), **live}
    run = client.create_run(experiment_id, run_name=name, tags=tags)
    flat = params.flat()
    headline = {k: v for k, v in flat.items() if k in HEADLINE_PARAMS or k.startswith(HEADLINE_SECTIONS)}
    from mlflow.entities import Param

    client.log_batch(run.info.run_id, params=[Param(k, str(_param_value(v))) for k, v in headline.items()])
    return run.info.run_id


def close_parent(parent_id: str, stage: str, child_status: str, red_flags: list[str], data_version: str = "") -> None:
    """After each stage: the parent keeps every stage's last status and the union of red flags.

    It ends FAILED when any stage failed or raised a red flag, KILLED when one was interrupted
    (a resumed training that finishes clears that), FINISHED otherwise.
    """
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    parent = client.get_run(parent_id)
    old = [f for f in parent.data.tags.get("red_flags", "").split(",") if f]
    merged = list(dict.fromkeys(old + red_flags))
    client.set_tag(parent_id, "red_flags", ",".join(merged))
    client.set_tag(parent_id, f"brain_brr.stage_status.{stage}", child_status)
    if data_version:  # the version the stages after ingest read
        client.set_tag(parent_id, "dvc.data_version", data_version)
    statuses = {k: v for k, v in parent.data.tags.items() if k.startswith("brain_brr.stage_status.")}
    statuses[f"brain_brr.stage_status.{stage}"] = child_status
    if merged or "FAILED" in statuses.values():
        status = "FAILED"
    elif "KILLED" in statuses.values():
        status = "KILLED"
    else:
        status = "FINISHED"
    client.set_terminated(parent_id, status=status)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def close_stale_runs(experiment_id: str) -> int:
    """Mark runs of dead processes on this host that are still ``RUNNING`` as ``KILLED``."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    host = socket.gethostname()
    closed = 0
    runs = client.search_runs([experiment_id], filter_string="attributes.status = 'RUNNING'", max_results=500)
    for run in runs:
        tags = run.data.tags
        if tags.get("brain_brr.host") != host:
            continue
        pid = int(tags.get("brain_brr.pid", "0") or 0)
        if pid and not _pid_alive(pid):
            client.set_tag(run.info.run_id, "brain_brr.ended_by", "stale-run cleanup: process died")
            client.set_terminated(run.info.run_id, status="KILLED")
            closed += 1
    return closed


class StageRun:
    """Context manager around one MLflow run for one stage execution.

    The run is a child of the pipeline execution's parent run (:mod:`.pipeline`), named
    ``<pipeline>/<stage>``, and carries the git commit, the DVC experiment, the params hash and
    the data version. ``run_id`` reopens an earlier run (``--resume``): one training, one record.

    ``flag(name, reason)`` raises a red flag: prints ``[RED FLAG] name: reason`` and tags
    the run. A run with any red flag ends ``FAILED``, and so does its parent. With
    ``guards.strict`` the stage stops (:class:`RedFlagStop`, exit 3) at :meth:`stop_if_flagged`,
    or at the latest when the ``with`` block ends; otherwise it finishes and only the status
    says so.
    """

    def __init__(
        self,
        stage: str,
        params: Any = None,
        root: Path | None = None,
        *,
        strict: bool | None = None,
        experiment: str | None = None,
        extra_tags: dict[str, str] | None = None,
        log_params: bool = True,
        run_id: str | None = None,
    ):
        self.stage = stage
        self.params = params
        self.root = root or store_root()
        self.strict = strict if strict is not None else (params.guards.strict if params is not None else True)
        self.experiment = experiment or (params.mlflow.experiment if params is not None else "brain-brr")
        self.extra_tags = extra_tags or {}
        self.log_params = log_params
        self.red_flags: list[str] = []
        self.run_id: str | None = run_id
        self.parent_id: str | None = None
        self.group = ""  # the pipeline execution's name (the parent run's name)
        self.data_version = ""  # DVC's hash of data/processed, "" before the first ingest
        self.ended_by = ""  # why an interrupted run was KILLED
        self._prev_sigterm: Any = None

    # ---------------------------------------------------------------- lifecycle
    def __enter__(self) -> StageRun:
        import mlflow

        from brain_brr.tracking import pipeline
        from brain_brr.tracking.store import check_store

        check_store(tracking_uri(self.root), getattr(self.params, "mlflow", None))
        exp_id = ensure_experiment(self.experiment, self.root)
        close_stale_runs(exp_id)
        processed = self.params.data.processed if self.params is not None else "data/processed"
        prov = pipeline.provenance(repo_root(), self.params, processed) if self.params is not None else None
        if prov and self.stage in WRITE_THE_DATA:  # dvc.lock still holds the previous data's hash
            prov = dataclasses.replace(prov, data_version="")
        self.group = pipeline.pipeline_name(prov) if prov else "workspace"
        self.data_version = prov.data_version if prov else ""
        key = pipeline.pipeline_key()
        if key and prov:
            self.parent_id = open_parent(exp_id, key, self.group, prov, self.params)
        tags = {
            "dvc.stage": self.stage,
            "red_flags": "",
            "brain_brr.group": self.group,
            "brain_brr.pid": str(os.getpid()),
            "brain_brr.host": socket.gethostname(),
            **(prov.tags() if prov else {}),
            **self.extra_tags,
        }
        if self.run_id is not None and not _run_exists(self.run_id):
            print(
                f"[MLFLOW] run {self.run_id} of the interrupted training is not in this store: starting a new one",
                flush=True,
            )
            self.run_id = None
        if self.run_id is not None:  # resume: the same run, running again
            run = mlflow.start_run(run_id=self.run_id)
            self.red_flags = [f for f in run.data.tags.get("red_flags", "").split(",") if f]
            self.parent_id = run.data.tags.get("mlflow.parentRunId", self.parent_id)
            tags.pop("red_flags")
            mlflow.set_tags(tags)
        else:
            name = (
                f"{self.group}/{self.stage}"
                if self.parent_id
                else f"{self.stage}@{self.group.removeprefix('workspace@')}"
            )
            run = mlflow.start_run(experiment_id=exp_id, run_name=name, tags=tags, parent_run_id=self.parent_id)
            self.run_id = run.info.run_id
            if self.params is not None and self.log_params:
                mlflow.log_params({k: _param_value(v) for k, v in self.params.flat().items()})
        if threading_main():
            self._prev_sigterm = signal.signal(signal.SIGTERM, _sigterm_to_interrupt)
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        import mlflow

        from brain_brr.tracking.store import failure_line

        if self._prev_sigterm is not None:
            signal.signal(signal.SIGTERM, self._prev_sigterm)
        lost = failure_line(exc, self.stage, tracking_uri(self.root))
        if lost is not None:  # the store itself failed: closing the run would only wait for it again
            raise InputError(lost) from None
        if exc_type is not None and issubclass(exc_type, KeyboardInterrupt):
            status = "KILLED"
            mlflow.set_tag("brain_brr.ended_by", self.ended_by or f"interrupted ({exc or 'Ctrl-C'})")
        elif exc_type is not None or self.red_flags:
            status = "FAILED"
        else:
            status = "FINISHED"
        if exc_type is not None and not issubclass(exc_type, (RedFlagStop, KeyboardInterrupt)):
            first = str(exc).splitlines()[0] if str(exc) else ""
            mlflow.set_tag("brain_brr.error", f"{exc_type.__name__}: {first}"[:500])
        mlflow.end_run(status=status)
        if self.parent_id:
            close_parent(self.parent_id, self.stage, status, self.red_flags, self.data_version)
        if exc_type is None:
            self.stop_if_flagged()
        return False

    # ---------------------------------------------------------------- red flags
    def flag(self, name: str, reason: str) -> None:
        """Raise one red flag: printed once, tagged on the run; the stage goes on until :meth:`stop_if_flagged`."""
        import mlflow

        print(f"[RED FLAG] {name}: {reason}", flush=True)
        if name not in self.red_flags:
            self.red_flags.append(name)
        mlflow.set_tag("red_flags", ",".join(self.red_flags))
        mlflow.set_tag(f"red_flag.{name}", reason[:5000])

    def stop_if_flagged(self, always: bool = False) -> None:
        """End the stage (exit 3) when a red flag was raised and ``guards.strict`` holds (or ``always``)."""
        stop_if_flagged(self.stage, self.red_flags, self.strict or always)

    # ---------------------------------------------------------------- logging
    def check(self, name: str, ok: bool, step: int | None = None) -> None:
        """Log one checklist item as ``check.<name>`` (1 holds, 0 fails)."""
        import mlflow

        mlflow.log_metric(f"check.{name}", 1.0 if ok else 0.0, step=step)

    def metrics(self, values: dict[str, Any], step: int | None = None, prefix: str = "") -> None:
        import mlflow

        flat = {prefix + k: float(v) for k, v in flatten_numbers(values).items()}
        if flat:
            mlflow.log_metrics(flat, step=step)

    def step_metrics(self, rows: list[dict[str, float]], first_step: int) -> None:
        """Per-step curves in batches of 900 (one call per step is slow on sqlite)."""
        from mlflow.entities import Metric
        from mlflow.tracking import MlflowClient

        now = int(time.time() * 1000)
        metrics = [
            Metric(k, float(v), now, first_step + i)
            for i, row in enumerate(rows)
            for k, v in row.items()
            if math.isfinite(v)
        ]
        client = MlflowClient()
        for i in range(0, len(metrics), 900):
            client.log_batch(self.run_id, metrics=metrics[i : i + 900])

    def log_datasets(self, processed: Path, digest: str) -> None:
        """The train/dev/eval windows as the run's input datasets (digest tied to the data version)."""
        import warnings

        import mlflow
        import pandas as pd

        source = processed / "windows.parquet"
        windows = pd.read_parquet(source, columns=["rec_id", "split", "patient", "seg0", "seizure_frac", "is_pos"])
        for split, context in (("train", "training"), ("dev", "validation"), ("eval", "testing")):
            df = windows[windows["split"] == split].reset_index(drop=True)
            with warnings.catch_warnings():  # MLflow's hints on source resolution and integer columns
                warnings.simplefilter("ignore", UserWarning)
                ds = mlflow.data.from_pandas(
                    df, source=str(source), targets="is_pos", name=f"{split} windows", digest=f"{digest[:12]}-{split}"
                )
                mlflow.log_input(ds, context=context)

    def artifact(self, path: str | Path, artifact_path: str | None = None) -> None:
        import mlflow

        p = Path(path)
        if p.is_dir():
            mlflow.log_artifacts(str(p), artifact_path=artifact_path)
        elif p.is_file():
            mlflow.log_artifact(str(p), artifact_path=artifact_path)

    def set_tags(self, tags: dict[str, Any]) -> None:
        import mlflow

        mlflow.set_tags({k: str(v) for k, v in tags.items()})


class UntrackedRun:
    """What a non-zero DDP rank uses: the same red-flag decisions as rank 0, nothing logged or printed."""

    run_id = None
    group = ""
    data_version = ""

    def __init__(self, stage: str, strict: bool):
        self.stage, self.strict, self.red_flags, self.ended_by = stage, strict, [], ""

    def flag(self, name: str, reason: str) -> None:  # noqa: ARG002
        if name not in self.red_flags:
            self.red_flags.append(name)

    def stop_if_flagged(self, always: bool = False) -> None:
        stop_if_flagged(self.stage, self.red_flags, self.strict or always)

    def check(self, *a: Any, **k: Any) -> None: ...

    def metrics(self, *a: Any, **k: Any) -> None: ...

    def step_metrics(self, *a: Any, **k: Any) -> None: ...

    def log_datasets(self, *a: Any, **k: Any) -> None: ...

    def artifact(self, *a: Any, **k: Any) -> None: ...

    def set_tags(self, *a: Any, **k: Any) -> None: ...


def stop_if_flagged(stage: str, red_flags: list[str], stop: bool) -> None:
    if red_flags and stop:
        raise RedFlagStop(
            f"{stage} stopped by red flag(s): {', '.join(red_flags)} (exit 3; see the [RED FLAG] lines above)"
        )


def copy_into_run(run_id: str | None, metrics: dict[str, Any], artifacts: list[Path], red_flags: list[str]) -> None:
    """Metrics, files and red flags of a later stage into an earlier run (evaluate -> train).

    The comparison view then shows a training's params beside its eval metrics; a red flag
    raised later fails the earlier run too.
    """
    from mlflow.entities import Metric
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    if not run_id:
        return
    client = MlflowClient()
    try:
        run = client.get_run(run_id)
    except MlflowException:
        print(f"[EVAL] training run {run_id} not in this MLflow store: eval metrics not copied into it", flush=True)
        return
    now = int(time.time() * 1000)
    client.log_batch(run_id, metrics=[Metric(k, float(v), now, 0) for k, v in flatten_numbers(metrics).items()])
    for path in artifacts:
        if path.is_file():
            client.log_artifact(run_id, str(path), artifact_path="eval")
    if red_flags:
        old = [f for f in run.data.tags.get("red_flags", "").split(",") if f]
        client.set_tag(run_id, "red_flags", ",".join(dict.fromkeys(old + red_flags)))
        client.set_terminated(run_id, "FAILED")


def _run_exists(run_id: str) -> bool:
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    try:
        MlflowClient().get_run(run_id)
    except MlflowException:
        return False
    return True


def threading_main() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def _sigterm_to_interrupt(signum, frame):  # noqa: ARG001
    raise KeyboardInterrupt(f"terminated by signal {signum}")


def _param_value(v: Any) -> Any:
    if v is None:
        return "null"
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(v)
    return v


def flatten_numbers(d: dict[str, Any], prefix: str = "") -> dict[str, float]:
    """Finite numbers of a nested dict under dotted keys (``ovlp.sensitivity``); booleans as 0/1."""
    out: dict[str, float] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten_numbers(v, key + "."))
        elif isinstance(v, bool) or isinstance(v, (int, float)) and math.isfinite(v):
            out[key] = float(v)
    return out


# The train run that wrote a detector carries its weights' sha256: the model directory names no run, so that its
# bytes (and dvc.lock) are a function of the training's inputs alone, the same in every clone.
MODEL_DIGEST_TAG = "brain_brr.model_sha256"


def model_digest(model_dir: Path) -> str:
    import hashlib

    with (model_dir / "model.pt").open("rb") as fh:
        return hashlib.file_digest(fh, "sha256").hexdigest()


def mark_training_run(run_id: str, model_dir: Path) -> None:
    """Tag the train run with the sha256 of the weights it wrote (:func:`training_run_of` finds it by that)."""
    from mlflow.tracking import MlflowClient

    MlflowClient().set_tag(run_id, MODEL_DIGEST_TAG, model_digest(model_dir))


def training_run_of(model_dir: Path, experiment: str) -> str | None:
    """The newest train run of ``experiment`` that wrote these weights, or ``None`` (another store, say)."""
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    exp = client.get_experiment_by_name(experiment)
    if exp is None:
        return None
    runs = client.search_runs(
        [exp.experiment_id],
        filter_string=f"tags.`{MODEL_DIGEST_TAG}` = '{model_digest(model_dir)}' and tags.`dvc.stage` = 'train'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0].info.run_id if runs else None
