import pytest

from brain_brr.data.channels import CHANNELS, bipolar_pair, canonical_channel, map_bipolar, map_channels
from brain_brr.data.edf import NEIGHBOURS


@pytest.mark.parametrize(
    "label, expected",
    [
        ("EEG FP1-REF", "FP1"),
        ("EEG Fp1-LE", "FP1"),
        ("eeg fz-ar", "FZ"),
        ("EEG T7-REF", "T3"),
        ("EEG T8-LE", "T4"),
        ("EEG P7-REF", "T5"),
        ("EEG P8-REF", "T6"),
        ("  EEG O2-REF  ", "O2"),
        ("C3", "C3"),
        ("EEG EKG1-REF", None),
        ("EEG T1-REF", None),
        ("EEG A1-REF", None),
        ("PHOTIC-REF", None),
        ("EEG ROC-REF", None),
        ("EMG-REF", None),
        ("EEG 26-REF", None),
        ("IBI", None),
        ("BURSTS", None),
        ("EKG FP1-REF", None),
    ],
)
def test_canonical_channel(label, expected):
    assert canonical_channel(label) == expected


def test_map_channels_first_wins_and_reports_duplicates():
    labels = ["IBI", "EEG FP1-REF", "EEG T7-REF", "EEG FP1-LE", "EEG T3-REF", "EEG CZ-REF"]
    found, dups = map_channels(labels)
    assert found == {"FP1": 1, "T3": 2, "CZ": 5}
    assert dups == ["EEG FP1-LE", "EEG T3-REF"]


def test_neighbour_map_is_symmetric_and_complete():
    assert set(NEIGHBOURS) == set(CHANNELS)
    for ch, nbrs in NEIGHBOURS.items():
        assert ch not in nbrs and len(nbrs) >= 3
        for n in nbrs:
            assert ch in NEIGHBOURS[n], f"{ch} lists {n} but {n} does not list {ch}"


def test_bipolar_pairs_are_parsed_and_reference_labels_are_not():
    assert bipolar_pair("EEG FP1-F7") == ("FP1", "F7")
    assert bipolar_pair("T8-P8-0") == ("T4", "T6")  # CHB-MIT's repeat mark, 10-10 names
    assert bipolar_pair("FT9-FT10") == ("FT9", "FT10")  # outside the 10-20 set: still a link in the graph
    assert bipolar_pair("EEG T4-A2") == ("T4", "A2")
    for label in ("EEG FP1-REF", "Fp1-Avg", "EMG-REF", "EEG EKG1-REF", "ECG", "--0", "PHOTIC-PH", "EOG LOC-ROC"):
        assert bipolar_pair(label) is None, label
    pairs, duplicates = map_bipolar(["FP1-F7", "F7-T7", "P7-T7", "T7-P7", "ECG"])
    assert pairs == {("FP1", "F7"): 0, ("F7", "T3"): 1, ("T5", "T3"): 2} and duplicates == ["T7-P7"]
    assert map_bipolar(["LOC-ROC", "EKG1-EKG2"]) == ({}, [])  # no 10-20 electrode: no EEG montage
