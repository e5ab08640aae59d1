"""Write real EDF files (edfio), as TUSZ stores them: EEG channels plus extras at other rates."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np

from brain_brr.atomic import atomic_path


def write_edf(
    path: str | Path,
    signals: list[np.ndarray],
    labels: list[str],
    rates: list[float],
    *,
    start: dt.datetime | None = None,
    patient_code: str = "X",
    physical_dimension: str = "uV",
    record_duration: float = 1.0,
) -> None:
    """Write one EDF atomically. ``signals[i]`` (volts are not assumed: values in
    ``physical_dimension``) is sampled at ``rates[i]`` Hz; all must span the same duration.
    Rates may differ per channel (TUSZ files carry 1 Hz ``IBI``/``BURSTS``/``SUPPR`` channels).
    """
    import edfio

    path = Path(path)
    start = start or dt.datetime(2020, 1, 1, 0, 0, 0)
    edf_signals = []
    for data, label, rate in zip(signals, labels, rates):
        data = np.asarray(data, dtype=np.float64)
        lo, hi = float(np.min(data)), float(np.max(data))
        if hi - lo < 1e-9:
            lo, hi = lo - 1.0, hi + 1.0
        pad = 0.01 * (hi - lo)
        edf_signals.append(
            edfio.EdfSignal(
                data,
                sampling_frequency=float(rate),
                label=label,
                physical_dimension=physical_dimension,
                physical_range=(lo - pad, hi + pad),
            )
        )
    edf = edfio.Edf(
        edf_signals,
        patient=edfio.Patient(code=patient_code),
        recording=edfio.Recording(startdate=start.date()),
        starttime=start.time(),
        data_record_duration=record_duration,
    )
    with atomic_path(path) as tmp:
        edf.write(tmp)
