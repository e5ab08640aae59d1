import numpy as np
import pyarrow.parquet as pq

from brain_brr.data import store


def test_segment_round_trip_stores_each_sample_once(tmp_path):
    fs, stride_s, label_rate = 64, 10, 2
    rng = np.random.default_rng(0)
    n = fs * 95 + 7  # not a whole number of segments
    signal = rng.standard_normal((19, n)).astype(np.float32)
    labels = (rng.random(-(-n * label_rate // fs)) > 0.7).astype(np.uint8)
    path = tmp_path / "segments" / "train" / "r.parquet"
    n_seg = store.write_recording(
        path, signal, labels, fs=fs, label_rate=label_rate, stride_s=stride_s, metadata={"fingerprint": "abc"}
    )
    assert n_seg == 10
    table = pq.read_table(path)
    assert table.num_rows == 10 and table.schema.names == ["seg", "signal", "labels"]
    assert len(table.column("signal")[0].as_py()) == 19 * stride_s * fs * 2  # float16, no window stored twice
    back, back_labels, meta = store.read_recording(path)
    assert back.shape == signal.shape and back.dtype == np.float16
    np.testing.assert_allclose(back.astype(np.float32), signal, rtol=1e-3, atol=2e-3)
    np.testing.assert_array_equal(back_labels, labels)
    assert meta["fingerprint"] == "abc" and meta["n_samples"] == str(n)
    assert not list(path.parent.glob(".*tmp*"))
