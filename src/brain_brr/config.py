"""The one schema for ``params.yaml``: validated once, at the boundary.

Every stage calls :func:`load_params` and receives a frozen :class:`Params`.
Unknown keys are errors that name the closest valid key; values out of range
are errors that name the key, the value and what is allowed.
"""

from __future__ import annotations

import difflib
import math
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from brain_brr.errors import ConfigError

ALPHA_NEUTRAL_TOL = 1e-6

# Keys that say only how fast, where or how patiently: no output of any stage depends on them, so no stage
# lists them under its `params:` in dvc.yaml (changing one reruns nothing but `validate`), and no output holds them.
OPERATIONAL_KEYS = ("data.workers", "train.num_workers", "mlflow.")


def alpha_is_neutral(alpha: float) -> bool:
    """The double-count guard's test: pos_weight reaches a focal loss only when alpha is 0.5."""
    return abs(alpha - 0.5) < ALPHA_NEUTRAL_TOL


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SplitConfig(_Section):
    """How a BIDS dataset (no split folders) is split by subject; TUSZ trees take their split folders."""

    dev_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    eval_fraction: float = Field(0.2, gt=0.0, lt=1.0)
    seed: int = 0
    file: str | None = None  # TSV with participant_id and split columns, relative to data.root

    @model_validator(mode="after")
    def _fractions(self) -> SplitConfig:
        if self.dev_fraction + self.eval_fraction >= 1.0:
            raise ValueError(
                f"data.split.dev_fraction={self.dev_fraction} + data.split.eval_fraction={self.eval_fraction} "
                "leave no subject for train; allowed: a sum below 1"
            )
        return self


class DataConfig(_Section):
    root: str = "data/synth"
    format: Literal["auto", "tusz", "bids"] = "auto"
    split: SplitConfig = SplitConfig()
    processed: str = "data/processed"
    sampling_rate: int = Field(256, ge=64, le=2048)
    window_s: int = Field(60, gt=0)
    stride_s: int = Field(10, gt=0)
    label_rate: int = Field(1, ge=1, le=16)
    bandpass_low: float = Field(0.5, ge=0.0)
    bandpass_high: float = Field(100.0, gt=0.0)
    notch_hz: float | None = Field(60.0, gt=0.0)
    clip: float = Field(10.0, gt=0.0)
    max_missing_channels: int = Field(2, ge=0, le=18)
    workers: int = Field(2, ge=1)

    @model_validator(mode="after")
    def _consistent(self) -> DataConfig:
        if self.stride_s > self.window_s:
            raise ValueError(
                f"data.stride_s={self.stride_s} is larger than "
                f"data.window_s={self.window_s}; allowed: stride_s <= window_s"
            )
        if self.window_s % self.stride_s:
            raise ValueError(
                f"data.window_s={self.window_s} is not a multiple of "
                f"data.stride_s={self.stride_s}; allowed: window_s = k * stride_s"
            )
        if self.sampling_rate % self.label_rate:
            raise ValueError(
                f"data.label_rate={self.label_rate} does not divide data.sampling_rate={self.sampling_rate}"
            )
        if self.bandpass_high >= self.sampling_rate / 2:
            raise ValueError(
                f"data.bandpass_high={self.bandpass_high} must be below the "
                f"Nyquist frequency {self.sampling_rate / 2} of data.sampling_rate"
            )
        if self.bandpass_low >= self.bandpass_high:
            raise ValueError(
                f"data.bandpass_low={self.bandpass_low} must be below data.bandpass_high={self.bandpass_high}"
            )
        return self


class SynthConfig(_Section):
    """The synthetic corpus: read by the synth stage, and the defaults of ``brain-brr synth``."""

    patients: int = 24
    minutes: float = 60.0
    seizure_fraction: float = 0.08
    seed: int = 0
    difficulty: Literal["standard", "hard"] = "standard"  # hard: fainter seizures of more kinds, confounders
    format: Literal["tusz", "bids"] = "tusz"

    @field_validator("patients")
    @classmethod
    def _patients(cls, v: int) -> int:
        if v < 3:
            raise ValueError("must be at least 3 (one patient per split: train, dev, eval)")
        return v

    @field_validator("minutes")
    @classmethod
    def _minutes(cls, v: float) -> float:
        if not v >= 0.5:
            raise ValueError("must be at least 0.5 (each patient needs room for a 10 s seizure)")
        return v

    @field_validator("seizure_fraction")
    @classmethod
    def _fraction(cls, v: float) -> float:
        if not 0.0 < v < 0.5:
            raise ValueError("must lie strictly between 0 and 0.5 (TUSZ has about 0.08)")
        return v


class SamplerConfig(_Section):
    target_pos_fraction: float = Field(0.25, gt=0.0, le=1.0)
    min_pos_per_batch: int = Field(2, ge=1)


class ModelConfig(_Section):
    arch: Literal["tcn", "unet_transformer"] = "tcn"
    width: int = Field(32, ge=4)  # tcn: channels; unet_transformer: first encoder stage (bottleneck 4x)
    depth: int = Field(4, ge=1)  # tcn: dilated blocks; unet_transformer: transformer layers
    dropout: float = Field(0.1, ge=0.0, lt=1.0)
    heads: int = Field(4, ge=1)  # unet_transformer: attention heads, dividing 4 * width

    @model_validator(mode="after")
    def _heads(self) -> ModelConfig:
        if self.arch == "unet_transformer" and (4 * self.width) % self.heads:
            raise ValueError(
                f"model.heads={self.heads} does not divide the transformer width 4 * model.width = {4 * self.width}"
            )
        return self


class AugmentConfig(_Section):
    """Training-time augmentation (train/augment.py): off unless ``enabled``; a probability of 0 turns one off."""

    enabled: bool = False
    mix_p: float = Field(0.3, ge=0.0, le=1.0)  # seizure windows mixed with a background window of the batch
    mix_max: float = Field(0.6, gt=0.0, le=1.0)  # weight of the background, drawn in [0, mix_max]
    time_shift_p: float = Field(0.5, ge=0.0, le=1.0)
    time_shift_max_s: float = Field(10.0, ge=0.0)  # roll by whole label steps, labels with it
    mirror_p: float = Field(0.5, ge=0.0, le=1.0)  # swap left and right hemispheres
    amplitude_p: float = Field(0.5, ge=0.0, le=1.0)
    amplitude_max: float = Field(1.5, ge=1.0)  # log-uniform scale in [1/max, max]
    channel_dropout_p: float = Field(0.2, ge=0.0, le=1.0)
    channel_dropout_max: int = Field(2, ge=1, le=18)  # channels zeroed per chosen window
    noise_p: float = Field(0.3, ge=0.0, le=1.0)
    noise_std: float = Field(0.1, ge=0.0)  # in robust z units


class TrainConfig(_Section):
    batch_size: int = Field(32, ge=2)
    epochs: int = Field(6, ge=1)
    steps_per_epoch: int = Field(100, ge=1)
    lr: float = Field(2e-3, gt=0.0)
    weight_decay: float = Field(1e-2, ge=0.0)
    warmup_steps: int = Field(30, ge=0)
    grad_clip: float = Field(1.0, gt=0.0)
    patience: int = Field(3, ge=1)
    num_workers: int = Field(0, ge=0)
    device: Literal["auto", "cpu", "cuda", "mps"] = "auto"
    max_val_windows: int = Field(2000, ge=10)
    pos_weight_source: Literal["corpus", "batches"] = "corpus"
    seed: int = 0


class ExternalCorpus(_Section):
    """A corpus scored as a test set (stage external): logged as ``external.<name>.*``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_-]+$")
    root: str  # TUSZ tree or BIDS dataset; relative to the repo root, or absolute


class EvalConfig(_Section):
    tau_on: float = Field(0.5, gt=0.0, lt=1.0)
    tau_off: float = Field(0.3, gt=0.0, lt=1.0)
    min_duration_s: float = Field(10.0, ge=0.0)
    merge_gap_s: float = Field(10.0, ge=0.0)
    max_duration_s: float = Field(600.0, gt=0.0)
    select_on_dev: bool = True
    fa_targets: list[float] = [10.0, 2.5, 1.0]  # false alarms per 24 h; the first is the default operating point
    plot_recordings: int = Field(3, ge=0)
    external: list[ExternalCorpus] = []  # other corpora scored as test sets (stage external), one stage each

    @field_validator("fa_targets")
    @classmethod
    def _targets(cls, v: list[float]) -> list[float]:
        if not v or any(not (math.isfinite(t) and t > 0) for t in v) or len(set(v)) != len(v):
            raise ValueError("must be a non-empty list of distinct positive numbers (false alarms per 24 h)")
        return v

    @field_validator("external")
    @classmethod
    def _distinct(cls, v: list[ExternalCorpus]) -> list[ExternalCorpus]:
        names = [c.name for c in v]
        if len(set(names)) != len(names):
            raise ValueError(f"names must be distinct (they name metrics/external/<name>.json): {names}")
        return v

    @model_validator(mode="after")
    def _hysteresis(self) -> EvalConfig:
        if self.tau_off > self.tau_on:
            raise ValueError(
                f"eval.tau_off={self.tau_off} is above eval.tau_on={self.tau_on}; allowed: tau_off <= tau_on"
            )
        return self


class GuardsConfig(_Section):
    strict: bool = True
    auroc_margin: float = Field(0.05, ge=0.0, lt=0.5)
    max_skipped_fraction: float = Field(0.1, ge=0.0, le=1.0)
    min_batch_pos_ratio: float = Field(0.1, ge=0.0, le=1.0)


class MlflowConfig(_Section):
    experiment: str = "brain-brr"
    registered_model: str = (
        "brain-brr-detector"  # Model Registry name of the detector (a red-flagged training never registers)
    )
    # The store is checked before each stage opens its run (tracking/store.py): seconds, not minutes.
    connect_timeout_s: float = Field(5.0, gt=0.0, le=300.0)
    request_timeout_s: int = Field(30, ge=1, le=3600)
    request_retries: int = Field(2, ge=0, le=10)  # MLflow refuses more than 10
    lock_wait_s: float = Field(30.0, ge=0.0, le=3600.0)


class Params(_Section):
    loss: Literal["focal", "bce"] = "focal"
    focal_alpha: float = Field(0.5, ge=0.0, le=1.0)
    focal_gamma: float = Field(2.0, ge=0.0)
    use_balanced_sampling: bool = True
    pos_weight: Literal["auto", "none"] | float = "auto"

    data: DataConfig = DataConfig()
    synth: SynthConfig = SynthConfig()
    sampler: SamplerConfig = SamplerConfig()
    model: ModelConfig = ModelConfig()
    augment: AugmentConfig = AugmentConfig()
    train: TrainConfig = TrainConfig()
    eval: EvalConfig = EvalConfig()
    guards: GuardsConfig = GuardsConfig()
    mlflow: MlflowConfig = MlflowConfig()

    @field_validator("pos_weight", mode="before")
    @classmethod
    def _pos_weight(cls, v: Any) -> Any:
        if v is None:
            return "none"
        if isinstance(v, bool):
            raise ValueError("must be 'auto', 'none' or a positive number")
        if isinstance(v, (int, float)):
            if not math.isfinite(v) or v <= 0:
                raise ValueError("must be 'auto', 'none' or a positive number")
            return float(v)
        if isinstance(v, str) and v.strip().lower() in ("auto", "none"):
            return v.strip().lower()
        raise ValueError("must be 'auto', 'none' or a positive number")

    # ------------------------------------------------------------------ helpers
    def alpha_is_neutral(self) -> bool:
        return alpha_is_neutral(self.focal_alpha)

    def pos_weight_reaches_loss(self) -> bool:
        """pos_weight reaches the loss for BCE, and for focal loss only when alpha is neutral."""
        if self.pos_weight == "none":
            return False
        return self.loss == "bce" or alpha_is_neutral(self.focal_alpha)

    def outcome_dump(self) -> dict[str, Any]:
        """``model_dump()`` without :data:`OPERATIONAL_KEYS`: what an output may record of its settings."""
        return _unflatten({k: v for k, v in self.flat().items() if not is_operational(k)})

    def flat(self) -> dict[str, Any]:
        """Dotted-key view (``data.window_s``) for MLflow params."""
        return flatten(self.model_dump())

    def resolve(self, path: str | Path, repo_root: Path) -> Path:
        p = Path(path)
        return p if p.is_absolute() else repo_root / p


def flatten(d: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Dotted key -> value for every leaf of a nested mapping (a list is one leaf)."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(flatten(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def is_operational(key: str) -> bool:
    """A dotted key that changes no output (:data:`OPERATIONAL_KEYS`)."""
    return any(key == k or (k.endswith(".") and key.startswith(k)) for k in OPERATIONAL_KEYS)


def _unflatten(flat: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in flat.items():
        *parents, leaf = key.split(".")
        node = out
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def _all_keys(model: type[BaseModel], prefix: str = "") -> dict[str, type[BaseModel] | None]:
    keys: dict[str, type[BaseModel] | None] = {}
    for name, field in model.model_fields.items():
        ann = field.annotation
        sub = ann if isinstance(ann, type) and issubclass(ann, BaseModel) else None
        keys[prefix + name] = sub
        if sub is not None:
            keys.update(_all_keys(sub, prefix + name + "."))
    return keys


def _unknown_key_message(loc: str) -> str:
    valid = list(_all_keys(Params))
    parent = loc.rsplit(".", 1)[0] + "." if "." in loc else ""
    siblings = [k for k in valid if k.startswith(parent) and "." not in k[len(parent) :]]
    close = difflib.get_close_matches(loc, siblings, n=1, cutoff=0.5) or difflib.get_close_matches(
        loc, valid, n=1, cutoff=0.6
    )
    hint = (
        f"did you mean '{close[0]}'?" if close else f"valid keys here: {', '.join(s[len(parent) :] for s in siblings)}"
    )
    return f"params: unknown key '{loc}': {hint}"


def _format_errors(err: ValidationError) -> list[str]:
    lines = []
    for e in err.errors():
        loc = ".".join(str(p) for p in e["loc"] if not str(p).startswith(("function-", "float", "literal")))
        if e["type"] == "extra_forbidden":
            lines.append(_unknown_key_message(loc))
            continue
        value = e.get("input")
        msg = e["msg"].removeprefix("Value error, ")
        if e["type"] in ("value_error",) and not loc:
            lines.append(f"params: {msg}")
        else:
            lines.append(f"params: {loc or '<root>'}={value!r}: {msg}")
    # Deduplicate (union types report one error per member).
    seen: dict[str, None] = {}
    for line in lines:
        seen.setdefault(line, None)
    return list(seen)


def parse_params(raw: Any, source: str = "params.yaml") -> Params:
    """Validate a mapping; raise :class:`ConfigError` with one line per problem."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise ConfigError([f"{source}: top level must be a mapping of keys, got {type(raw).__name__}"])
    try:
        return Params.model_validate(raw)
    except ValidationError as err:
        raise ConfigError([f"{source}: {line.removeprefix('params: ')}" for line in _format_errors(err)]) from None


def load_params(path: str | Path = "params.yaml", shown_as: str | None = None) -> Params:
    """Read and validate a params file; errors name it as ``shown_as`` (default: the path)."""
    path = Path(path)
    name = shown_as or str(path)
    if not path.is_file():
        raise ConfigError([f"{name}: params file not found; run from the repository root or pass --params FILE"])
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ConfigError([f"{name}: not valid YAML: {str(exc).splitlines()[0]}"]) from None
    return parse_params(raw, source=name)
