"""Which pipeline execution a stage belongs to, and what identifies its code, params and data.

One *pipeline execution* is one workspace ``dvc repro`` or one DVC experiment. Its stage runs
are children of one MLflow parent run, found again by every stage through the tag
``brain_brr.pipeline`` = :func:`pipeline_key`:

- a DVC experiment (``DVC_EXP_NAME`` set by DVC, also for ``--temp`` and ``--queue``): its name;
- a workspace ``dvc repro``: the ``dvc`` process that runs the stages (its pid and start time);
- a stage file run by hand: no pipeline, no parent.

The parent is named after the experiment, or ``<git revision>-<params hash>`` for the
workspace, so that a person can tell runs apart in the UI.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml


@dataclass(frozen=True)
class Provenance:
    """What every run of a stage carries as tags."""

    git_commit: str  # the commit the code comes from ("" outside git)
    exp_name: str  # DVC experiment name ("" for the workspace)
    baseline_rev: str  # DVC experiment baseline revision
    params_hash: str  # 8 hex digits of the validated params
    data_version: str  # DVC's hash of data/processed (dvc.lock), "" before the first ingest

    def tags(self) -> dict[str, str]:
        tags = {
            "mlflow.source.git.commit": self.git_commit,
            "brain_brr.params_hash": self.params_hash,
            "dvc.data_version": self.data_version,
        }
        if self.exp_name:
            tags["dvc.exp_name"] = self.exp_name
        if self.baseline_rev:
            tags["dvc.exp_baseline_rev"] = self.baseline_rev
        return {k: v for k, v in tags.items() if v}


def params_hash(params: Any) -> str:
    """8 hex digits identifying a validated configuration."""
    return hashlib.sha256(json.dumps(params.model_dump(), sort_keys=True, default=str).encode()).hexdigest()[:8]


def git_commit(root: Path) -> str:
    """HEAD of the repository at ``root`` (the experiment's commit inside a DVC temporary copy)."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ""
    return out.stdout.strip() if out.returncode == 0 else ""


def dvc_out_hash(root: Path, out: str) -> str:
    """DVC's hash of output ``out`` as recorded in ``dvc.lock`` ("" when not recorded yet).

    DVC rewrites ``dvc.lock`` after every stage of a ``dvc repro``, so a downstream stage
    reads the hash of what its upstream stage just wrote.
    """
    try:
        lock = yaml.safe_load((root / "dvc.lock").read_text()) or {}
    except (OSError, yaml.YAMLError):
        return ""
    for stage in (lock.get("stages") or {}).values():
        for entry in stage.get("outs") or []:
            if entry.get("path") == out:
                return str(entry.get("md5") or entry.get("hash") or "")
    return ""


def provenance(root: Path, params: Any, processed_rel: str) -> Provenance:
    return Provenance(
        git_commit=git_commit(root),
        exp_name=os.environ.get("DVC_EXP_NAME", ""),
        baseline_rev=os.environ.get("DVC_EXP_BASELINE_REV", ""),
        params_hash=params_hash(params),
        data_version=dvc_out_hash(root, processed_rel),
    )


def pipeline_key() -> str | None:
    """The pipeline execution this process belongs to (see the module docstring); ``None`` outside DVC."""
    exp = os.environ.get("DVC_EXP_NAME")
    if exp:
        return f"exp:{exp}"
    if not os.environ.get("DVC_STAGE") and not os.environ.get("DVC_ROOT"):
        return None
    dvc = _dvc_ancestor()
    return f"repro:{socket.gethostname()}:{dvc}" if dvc else None


def _dvc_ancestor() -> str | None:
    """``<pid>-<start time>`` of the nearest ancestor process that is ``dvc`` (unique on this host)."""
    import psutil

    try:
        for proc in psutil.Process().parents():
            argv = proc.cmdline()[:3]
            if any(Path(a).name == "dvc" for a in argv[:2]) or argv[1:3] == ["-m", "dvc"]:
                return f"{proc.pid}-{int(proc.create_time())}"
    except psutil.Error:
        return None
    return None


def pipeline_name(prov: Provenance) -> str:
    """What the parent run is called: the experiment name, or ``workspace@<rev7>-<params hash>``."""
    if prov.exp_name:
        return prov.exp_name
    return f"workspace@{prov.git_commit[:7] or 'nogit'}-{prov.params_hash}"
