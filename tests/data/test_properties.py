"""Property-based tests: annotation round trip and window/label alignment."""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from brain_brr.data.annotations import merge_intervals, read_csv_bi, write_csv_bi
from brain_brr.data.windows import labels_from_intervals, n_label_steps, window_table

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
times = st.floats(min_value=0, max_value=3600, allow_nan=False).map(lambda x: round(x, 4))
lengths = st.floats(min_value=0.001, max_value=300, allow_nan=False).map(lambda x: round(x, 4))
labels = st.sampled_from(["seiz", "fnsz", "gnsz", "CPSZ", "bckg", "artf", "eyem", "null"])


def _overlap(a: float, b: float, ivs: list[tuple[float, float]]) -> float:
    return sum(max(0.0, min(b, e) - max(a, s)) for s, e in ivs)


@SETTINGS
@given(
    events=st.lists(st.tuples(times, lengths, labels), max_size=30),
    shuffle_cols=st.booleans(),
    with_comments=st.booleans(),
)
def test_csv_bi_round_trip(tmp_path, events, shuffle_cols, with_comments):
    cols = ["channel", "start_time", "stop_time", "label", "confidence"]
    if shuffle_cols:
        cols = cols[::-1]
    lines = ["# version = csv_v1.0.0", "#"] if with_comments else []
    lines.append(",".join(cols))
    for start, length, label in events:
        row = {
            "channel": "TERM",
            "start_time": f"{start:.4f}",
            "stop_time": f"{round(start + length, 4):.4f}",
            "label": label,
            "confidence": "1.0000",
        }
        lines.append(",".join(row[c] for c in cols))
    path = tmp_path / "r.csv_bi"
    path.write_text("\n".join(lines) + "\n")
    ann = read_csv_bi(path)
    expected = merge_intervals(
        [(s, round(s + n, 4)) for s, n, lab in events if lab.lower() == "seiz" or lab.lower().endswith("sz")]
    )
    assert ann.seizure_intervals() == expected
    assert len(ann.events) == len(events)


@SETTINGS
@given(ivs=st.lists(st.tuples(times, lengths), max_size=20), duration=st.floats(min_value=1, max_value=4000))
def test_write_csv_bi_then_read(tmp_path, ivs, duration):
    merged = [(s, e) for s, e in merge_intervals([(s, round(s + n, 4)) for s, n in ivs]) if e <= duration]
    path = tmp_path / "w.csv_bi"
    write_csv_bi(path, merged, duration)
    back = read_csv_bi(path).seizure_intervals(duration)
    assert len(back) == len(merged)
    for (a, b), (c, d) in zip(back, merged):
        assert abs(a - c) <= 1e-4 and abs(b - d) <= 1e-4


@SETTINGS
@given(
    duration=st.floats(min_value=60, max_value=900),
    label_rate=st.sampled_from([1, 2, 4]),
    stride_window=st.sampled_from([(10, 60), (5, 20), (30, 30)]),
    raw=st.lists(
        st.tuples(st.floats(min_value=-30, max_value=930), st.floats(min_value=0.01, max_value=200)), max_size=8
    ),
)
def test_labels_and_windows_align_with_seizure_time(duration, label_rate, stride_window, raw):
    fs = 256
    stride_s, window_s = stride_window
    n_samples = int(duration * fs)
    duration = n_samples / fs
    n_steps = n_label_steps(n_samples, fs, label_rate)
    ivs = [(s, s + n) for s, n in raw]
    lab = labels_from_intervals(ivs, n_steps, label_rate)
    assert lab.shape == (n_steps,) and set(np.unique(lab)) <= {0, 1}

    # Each step is seizure exactly when at least half of it is covered (brute force, independent of the vectorised
    # code).
    merged = merge_intervals(ivs)
    step = 1 / label_rate
    cover = np.array([_overlap(i * step, (i + 1) * step, merged) for i in range(n_steps)])
    assert np.array_equal(lab == 1, cover >= step / 2 - 1e-9)

    # Seizure time inside the label grid is preserved up to one step per merged event.
    inside = _overlap(0.0, n_steps * step, merged)
    assert abs(lab.sum() * step - inside) <= len(merged) * step + 1e-9

    w = window_table(lab, duration, window_s=window_s, stride_s=stride_s, label_rate=label_rate)
    starts = w["start_s"]
    assert np.all(starts + window_s <= duration + 1e-9) and np.all(starts >= 0)
    assert len(starts) == (0 if duration < window_s else math.floor((duration - window_s) / stride_s + 1e-9) + 1)
    for s, frac, pos in zip(starts, w["seizure_frac"], w["is_pos"]):
        k0 = int(round(s * label_rate))
        expected = lab[k0 : k0 + window_s * label_rate].mean()
        assert abs(frac - expected) < 1e-6 and pos == (frac > 0)
        if pos:  # no window positive without seizure time in it
            assert _overlap(s, s + window_s, merged) >= step / 2 - 1e-9
