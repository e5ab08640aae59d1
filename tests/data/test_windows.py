import numpy as np
import pytest

from brain_brr.data.windows import labels_from_intervals, n_label_steps, window_starts, window_table


def test_half_covered_step_is_seizure():
    # Steps of 1 s: [2.5, 4.5) covers step 2 by half, step 3 fully, step 4 by half.
    lab = labels_from_intervals([(2.5, 4.5)], 8, 1)
    assert lab.tolist() == [0, 0, 1, 1, 1, 0, 0, 0]
    # Less than half: 2.6 covers step 2 by 0.4 and 4.4 covers step 4 by 0.4.
    assert labels_from_intervals([(2.6, 4.4)], 8, 1).tolist() == [0, 0, 0, 1, 0, 0, 0, 0]


def test_label_rate_and_clipping_to_the_recording():
    lab = labels_from_intervals([(-3.0, 0.5), (9.75, 20.0)], 40, 4)  # 10 s at 4 Hz
    assert lab[:2].tolist() == [1, 1] and lab[2] == 0
    assert lab[39] == 1 and lab[38] == 0 and lab.sum() == 3
    assert lab.dtype == np.uint8


def test_overlapping_intervals_are_not_double_counted():
    # Each interval covers 0.3 of step 0; their union covers 0.4: below half.
    assert labels_from_intervals([(0.0, 0.3), (0.1, 0.4)], 2, 1).tolist() == [0, 0]


def test_n_label_steps_rounds_up_partial_steps():
    assert n_label_steps(256 * 10, 256, 1) == 10
    assert n_label_steps(256 * 10 + 1, 256, 1) == 11
    assert n_label_steps(256 * 10, 256, 4) == 40


@pytest.mark.parametrize("duration, expected", [(59.9, 0), (60.0, 1), (69.99, 1), (70.0, 2), (125.0, 7)])
def test_windows_lie_entirely_inside_the_recording(duration, expected):
    seg0 = window_starts(duration, 60, 10)
    assert len(seg0) == expected
    assert all(s * 10 + 60 <= duration + 1e-9 for s in seg0)


def test_window_table_seizure_fraction():
    labels = labels_from_intervals([(65.0, 75.0)], 130, 1)
    w = window_table(labels, 130.0, window_s=60, stride_s=10, label_rate=1)
    assert w["seg0"].tolist() == list(range(8))
    assert w["start_s"].tolist() == [0, 10, 20, 30, 40, 50, 60, 70]
    # Window k covers [10k, 10k + 60): the seizure [65, 75) lies in windows 1..7 only partly in 7 and 1.
    frac = {int(s): float(f) for s, f in zip(w["seg0"], w["seizure_frac"])}
    assert frac[0] == 0.0
    assert frac[1] == pytest.approx(5 / 60) and frac[2] == pytest.approx(10 / 60) and frac[7] == pytest.approx(5 / 60)
    assert w["is_pos"].tolist() == [False] + [True] * 7
    assert w["seizure_frac"].dtype == np.float32 and w["seg0"].dtype == np.int32
