import numpy as np
import pytest
from scipy import signal as sps

from brain_brr.config import DataConfig
from brain_brr.data.channels import CHANNELS
from brain_brr.data.edf import EdfError, read_eeg
from brain_brr.errors import InputError
from brain_brr.synth.edfwrite import write_edf

from .conftest import EEG_LABELS, eeg

CFG = DataConfig()


def _tagged(seconds, fs, tagged=("O2",), freq=7.0, labels=EEG_LABELS):
    """Noise channels; each channel in ``tagged`` also carries a strong sine to find it again."""
    sigs = eeg(seconds, fs, seed=3, n=len(labels))
    t = np.arange(len(sigs[0])) / fs
    for ch in tagged:
        i = [k for k, lab in enumerate(labels) if ch in lab][0]
        sigs[i] = sigs[i] + 200 * np.sin(2 * np.pi * freq * t)
    return sigs


def _power_at(x, fs, f):
    freqs, p = sps.welch(x, fs=fs, nperseg=fs * 4)
    return p[np.argmin(np.abs(freqs - f))]


def test_shape_dtype_order_and_extra_channels(tmp_path):
    # File order shuffled, modern T7/P8 names, extra channels at other rates.
    labels = list(reversed(EEG_LABELS))
    labels[labels.index("EEG T3-REF")] = "EEG T7-LE"
    labels[labels.index("EEG T6-REF")] = "EEG P8-LE"
    sigs = _tagged(30, 256, tagged=("O2",), labels=labels)
    path = tmp_path / "r.edf"
    extras = ["EEG EKG1-REF", "EEG T1-REF", "EEG A1-REF", "PHOTIC-REF", "EEG ROC-REF", "EMG-REF", "EEG 26-REF"]
    rng = np.random.default_rng(1)
    extra_sigs = [300 * rng.standard_normal(256 * 30) for _ in extras] + [np.zeros(30), np.zeros(30)]
    write_edf(path, sigs + extra_sigs, labels + extras + ["IBI", "BURSTS"], [256] * (19 + len(extras)) + [1, 1])
    rec = read_eeg(path, CFG)
    assert rec.signal.shape == (19, 30 * 256) and rec.signal.dtype == np.float32
    assert rec.fs == 256 and rec.orig_fs == 256 and rec.duration_s == 30.0
    assert rec.missing_channels == [] and rec.warnings == []
    power = [_power_at(rec.signal[k], 256, 7.0) for k in range(19)]
    assert CHANNELS[int(np.argmax(power))] == "O2"
    assert np.all(np.abs(rec.signal) <= CFG.clip)
    # Robust normalisation: per-channel median ~0, IQR ~1.349.
    q25, q50, q75 = np.percentile(rec.signal[CHANNELS.index("FP1")], [25, 50, 75])
    assert abs(q50) < 0.1 and 1.1 < q75 - q25 < 1.6


@pytest.mark.parametrize("fs", [200, 250, 400, 512, 1000])
def test_unseen_sampling_rates_are_resampled(tmp_path, fs):
    path = tmp_path / "r.edf"
    write_edf(path, _tagged(20, fs), EEG_LABELS, [fs] * 19)
    rec = read_eeg(path, CFG)
    assert rec.orig_fs == fs and rec.fs == 256
    assert rec.signal.shape == (19, 20 * 256)
    o2 = rec.signal[CHANNELS.index("O2")]
    assert _power_at(o2, 256, 7.0) > 50 * _power_at(o2, 256, 30.0)


def test_notch_and_band_pass(tmp_path):
    fs, n = 256, 256 * 60
    t = np.arange(n) / fs
    rng = np.random.default_rng(0)
    sigs = [
        20 * rng.standard_normal(n) + 300 * np.sin(2 * np.pi * 60 * t) + 500 + 200 * np.sin(2 * np.pi * 0.05 * t)
        for _ in range(19)
    ]
    path = tmp_path / "r.edf"
    write_edf(path, sigs, EEG_LABELS, [fs] * 19)
    x = read_eeg(path, CFG).signal[0, fs:-fs].astype(np.float64)  # edge transients are the filter's, not the data's
    # Mains at 60 Hz and the slow drift are removed: what remains is the white noise at a flat level.
    assert np.abs(x).max() < CFG.clip
    assert _power_at(x, fs, 60.0) < 0.05 * _power_at(x, fs, 20.0)
    assert _power_at(x, fs, 0.25) < 0.2 * _power_at(x, fs, 20.0)


def test_one_pass_is_deterministic(tmp_path):
    path = tmp_path / "r.edf"
    write_edf(path, _tagged(20, 250), EEG_LABELS, [250] * 19)
    np.testing.assert_array_equal(read_eeg(path, CFG).signal, read_eeg(path, CFG).signal)


@pytest.mark.parametrize(
    "content, match", [(b"", "not an EDF"), (b"hello world" * 40, "not an EDF"), (b"0" + b" " * 255, "not an EDF")]
)
def test_not_an_edf(tmp_path, content, match):
    path = tmp_path / "junk.edf"
    path.write_bytes(content)
    with pytest.raises(EdfError, match=match) as err:
        read_eeg(path, CFG)
    assert isinstance(err.value, InputError) and str(path) in str(err.value) and len(err.value.lines) == 1


def test_missing_file_is_input_error(tmp_path):
    with pytest.raises(InputError, match="cannot read EDF"):
        read_eeg(tmp_path / "nope.edf", CFG)


def test_no_eeg_channel(tmp_path):
    path = tmp_path / "r.edf"
    write_edf(path, eeg(10, 256, n=2), ["EMG-REF", "EEG EKG1-REF"], [256, 256])
    with pytest.raises(EdfError, match="no 10-20 EEG channel"):
        read_eeg(path, CFG)


def test_duplicated_label_keeps_the_first(tmp_path):
    labels = EEG_LABELS + ["EEG FP1-LE"]
    sigs = eeg(20, 256, seed=5, n=len(labels))
    t = np.arange(20 * 256) / 256
    sigs[-1] = sigs[-1] + 300 * np.sin(2 * np.pi * 7.0 * t)  # only the duplicate carries 7 Hz
    path = tmp_path / "r.edf"
    write_edf(path, sigs, labels, [256] * len(labels))
    rec = read_eeg(path, CFG)
    fp1 = rec.signal[CHANNELS.index("FP1")]
    assert _power_at(fp1, 256, 7.0) < 2 * _power_at(fp1, 256, 12.0)
    assert rec.warnings == ["duplicated channel labels EEG FP1-LE (kept the first occurrence)"]
