"""The SzCORE annotation TSV: what the writer writes, what the strict parser accepts and refuses."""

from __future__ import annotations

import datetime as dt

import pytest

from brain_brr.data.annotations import AnnotationError, annotation_for
from brain_brr.data.events_tsv import HEADER_LINE, format_seconds, is_events_tsv, read_events_tsv, write_events_tsv

START = dt.datetime(2021, 3, 4, 5, 6, 7)
ROW = "10.0\t5.0\tsz\t0.9\tn/a\t2021-03-04 05:06:07\t3600.0"


def _tsv(tmp_path, *rows: str, header: str = HEADER_LINE):
    path = tmp_path / "sub-01_ses-01_task-szMonitoring_run-01_events.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_written_file_is_exact_and_passes_the_strict_parser(tmp_path):
    path = tmp_path / "rec.tsv"
    write_events_tsv(path, [(100.0, 130.5), (10.0, 20.0)], 3600.0, START, confidences=[0.8123456, 0.5])
    lines = path.read_text().splitlines()
    assert lines[0] == "onset\tduration\teventType\tconfidence\tchannels\tdateTime\trecordingDuration"
    assert lines[1:] == [
        "10.0\t10.0\tsz\t0.5000\tn/a\t2021-03-04 05:06:07\t3600.0",
        "100.0\t30.5\tsz\t0.8123\tn/a\t2021-03-04 05:06:07\t3600.0",
    ]
    ann = read_events_tsv(path, strict=True)
    assert ann.duration == 3600.0
    assert [(e.start, e.stop, e.is_seizure) for e in ann.events] == [(10.0, 20.0, True), (100.0, 130.5, True)]


def test_no_seizure_is_one_bckg_row_covering_the_recording(tmp_path):
    path = tmp_path / "rec.tsv"
    write_events_tsv(path, [], 2.0, START)
    assert path.read_text().splitlines()[1] == "0.0\t2.0\tbckg\tn/a\tn/a\t2021-03-04 05:06:07\t2.0"
    ann = read_events_tsv(path, strict=True)
    assert ann.duration == 2.0 and not any(e.is_seizure for e in ann.events)


def test_events_are_clipped_to_the_recording(tmp_path):
    path = tmp_path / "rec.tsv"
    write_events_tsv(path, [(-1.0, 5.0), (58.0, 61.0), (61.0, 70.0)], 60.0, START)
    ann = read_events_tsv(path, strict=True)
    assert [(e.start, e.stop) for e in ann.events] == [(0.0, 5.0), (58.0, 60.0)]


def test_durations_are_written_without_float_noise():
    assert format_seconds(0.1 * 3) == "0.3" and format_seconds(3599.996) == "3599.996" and format_seconds(2) == "2.0"


def test_writer_refuses_a_non_seizure_type_and_a_bad_duration(tmp_path):
    with pytest.raises(ValueError, match="not HED-SCORE seizure types"):
        write_events_tsv(tmp_path / "a.tsv", [(1.0, 2.0)], 10.0, START, event_types=["fnsz"])
    with pytest.raises(ValueError, match="positive"):
        write_events_tsv(tmp_path / "a.tsv", [], 0.0, START)
    assert not (tmp_path / "a.tsv").exists()


@pytest.mark.parametrize(
    ("rows", "header", "message"),
    [
        ((ROW,), HEADER_LINE.replace("\t", ","), "header is"),
        ((ROW,), HEADER_LINE.replace("dateTime", "datetime"), "header is"),
        ((ROW.rsplit("\t", 1)[0],), HEADER_LINE, "6 fields where the header has 7"),
        ((ROW.replace("\t0.9\t", "\t1.5\t"),), HEADER_LINE, "confidence 1.5 lies outside"),
        ((ROW.replace("2021-03-04 05:06:07", "04.03.2021 05:06"),), HEADER_LINE, "not in the format"),
        ((ROW.replace("\tsz\t", "\tseizure\t"),), HEADER_LINE, "neither bckg nor a seizure type"),
        ((ROW.replace("10.0\t5.0", "3598.0\t5.0"),), HEADER_LINE, "ends after recordingDuration"),
        ((ROW, ROW.replace("3600.0", "3601.0")), HEADER_LINE, "disagree on recordingDuration"),
        ((ROW, "0.0\t3600.0\tbckg\tn/a\tn/a\t2021-03-04 05:06:07\t3600.0"), HEADER_LINE, "bckg row must be the only"),
        (("0.0\t100.0\tbckg\tn/a\tn/a\t2021-03-04 05:06:07\t3600.0",), HEADER_LINE, "cover the recording"),
        ((ROW, ROW.replace("10.0\t5.0", "12.0\t5.0")), HEADER_LINE, "overlap or are out of order"),
        ((ROW.replace("10.0\t5.0", "ten\t5.0"),), HEADER_LINE, "onset 'ten' is not a number"),
        ((ROW, ""), HEADER_LINE, "blank line"),
        ((), HEADER_LINE, "no row"),
    ],
)
def test_strict_parser_names_what_is_wrong(tmp_path, rows, header, message):
    path = _tsv(tmp_path, *rows, header=header)
    with pytest.raises(AnnotationError, match=message):
        read_events_tsv(path, strict=True)


def test_lenient_reading_of_an_untidy_corpus_file(tmp_path):
    header = "onset\tduration\ttrial_type\teventType\tchannels\tconfidence\trecordingDuration\tdateTime"
    path = _tsv(
        tmp_path,
        "10.5\t20.0\tx\tsz_foc_ia\tFp1-Avg,F7-Avg\t1.0\t600.00\t2000-01-01 00:00:00",
        "300\t10\tx\tartifact\tn/a\tn/a\t600.00\tn/a",
        "400\t12\tx\tfnsz\tn/a\tn/a\t600.00\tn/a",
        header=header,
    )
    ann = read_events_tsv(path)
    assert ann.duration == 600.0
    seizures = [(e.start, e.stop) for e in ann.events if e.is_seizure]
    assert seizures == [(10.5, 30.5), (400.0, 412.0)]
    assert any("'artifact'" in w and "background" in w for w in ann.warnings)
    assert any("'fnsz'" in w and "seizure" in w for w in ann.warnings)
    with pytest.raises(AnnotationError, match="header is"):
        read_events_tsv(path, strict=True)


def test_only_szcore_tsvs_are_annotations(tmp_path):
    (tmp_path / "participants.tsv").write_text("participant_id\tage\nsub-01\t30\n")
    assert not is_events_tsv(tmp_path / "participants.tsv")
    assert is_events_tsv(_tsv(tmp_path, ROW))


def test_a_bids_edf_finds_its_events_tsv(tmp_path):
    edf = tmp_path / "sub-01_ses-01_task-szMonitoring_run-01_eeg.edf"
    edf.write_bytes(b"")
    with pytest.raises(AnnotationError, match="sub-01_ses-01_task-szMonitoring_run-01_events.tsv"):
        annotation_for(edf)
    _tsv(tmp_path, ROW)
    ann = annotation_for(edf)
    assert [(e.start, e.stop) for e in ann.events] == [(10.0, 15.0)] and ann.duration == 3600.0
