"""The annotation reader as ingest uses it: columns by name, warnings for odd rows, errors for unreadable files."""

import pytest

from brain_brr.data.annotations import AnnotationError, annotation_for, read_csv, read_csv_bi


def _write(path, text):
    path.write_text(text)
    return path


def test_csv_bi_columns_found_by_name_not_position(tmp_path):
    p = _write(
        tmp_path / "a.csv_bi",
        "# version = csv_v1.0.0\n# duration = 100.0000 "
        "secs\nlabel,confidence,stop_time,channel,start_time\nseiz,1.0,20.5,TERM,10.0\nbckg,1.0,100,TERM,20.5\n",
    )
    ann = read_csv_bi(p)
    assert ann.duration == 100.0
    assert ann.seizure_intervals() == [(10.0, 20.5)]


@pytest.mark.parametrize("label", ["seiz", "fnsz", "GNSZ", "cpsz", "absz", "tcsz", "mysz"])
def test_seizure_labels(tmp_path, label):
    p = _write(tmp_path / "a.csv_bi", f"channel,start_time,stop_time,label,confidence\nTERM,1,2,{label},1\n")
    assert read_csv_bi(p).seizure_intervals() == [(1.0, 2.0)]


def test_csv_union_over_channels(tmp_path):
    p = _write(
        tmp_path / "a.csv",
        "channel,start_time,stop_time,label,confidence\nFP1-F7,10,20,fnsz,1\nF7-T3,15,30,fnsz,1\nC3-P3,40,41,bckg,1\n",
    )
    assert read_csv(p).seizure_intervals() == [(10.0, 30.0)]


def test_annotation_for_prefers_csv_bi(tmp_path):
    edf = tmp_path / "r.edf"
    _write(tmp_path / "r.csv", "channel,start_time,stop_time,label,confidence\nFP1-F7,1,2,fnsz,1\n")
    _write(tmp_path / "r.csv_bi", "channel,start_time,stop_time,label,confidence\nTERM,5,6,seiz,1\n")
    assert annotation_for(edf).seizure_intervals() == [(5.0, 6.0)]
    (tmp_path / "r.csv_bi").unlink()
    assert annotation_for(edf).seizure_intervals() == [(1.0, 2.0)]
    (tmp_path / "r.csv").unlink()
    with pytest.raises(AnnotationError, match="no annotation file"):
        annotation_for(edf)


def test_warnings_for_odd_events(tmp_path):
    p = _write(
        tmp_path / "a.csv_bi",
        "channel,start_time,stop_time,label,confidence\nTERM,5,3,seiz,1\nTERM,-2,4,seiz,1\nTERM,10,20,seiz,1\nTERM,15,25,fnsz,1\nTERM,30,40,zzzz,1\nTERM,90,120,seiz,1\nTERM,200,210,seiz,1\n",
    )
    ann = read_csv_bi(p)
    ivs = ann.seizure_intervals(100.0)
    assert ivs == [(0.0, 4.0), (10.0, 25.0), (90.0, 100.0)]
    text = "\n".join(ann.warnings)
    for expected in (
        "stop 3 <= start 5; dropped",
        "unknown label 'zzzz'",
        "overlapping",
        "starts before 0",
        "runs past the end",
        "lies past the end",
    ):
        assert expected in text


@pytest.mark.parametrize(
    "text, match",
    [
        ("", "no header row"),
        ("# only comments\n", "no header row"),
        ("a,b,c\n1,2,3\n", "lacks column"),
        ("channel,start_time,stop_time,label,confidence\nTERM,ten,20,seiz,1\n", "not numbers"),
        ("channel,start_time,stop_time,label,confidence\nTERM,10\n", "fields where the header has"),
        ("channel,start_time,stop_time,label,confidence\nTERM,nan,20,seiz,1\n", "not finite"),
    ],
)
def test_unreadable_annotations_raise_one_line(tmp_path, text, match):
    p = _write(tmp_path / "bad.csv_bi", text)
    with pytest.raises(AnnotationError, match=match) as err:
        read_csv_bi(p)
    assert len(err.value.lines) == 1 and str(p) in err.value.lines[0]
