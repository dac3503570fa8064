"""Tests for skae's numpy reader and writer of the safetensors format."""

import io

import numpy as np
import pytest

from skae import _safetensors

ARRAYS = {
    "f32": np.arange(6, dtype=np.float32).reshape(2, 3),
    "f64": np.array([np.pi, -np.inf, np.nan]),
    "i64": np.array([[-(2**62)], [7]], dtype=np.int64),
    "u32": np.arange(624, dtype=np.uint32),
    "bool": np.array([True, False, True]),
    "scalar": np.array(2.5, dtype=np.float32),
    "empty": np.zeros((0, 4), dtype=np.float32),
    "big_endian": np.arange(3, dtype=">f8"),
    "fortran": np.asfortranarray(np.arange(6.0).reshape(2, 3)),
}


def read(raw):
    stream = io.BytesIO(raw)
    entries, metadata, size = _safetensors.read_header(stream, len(raw))
    return _safetensors.read_tensors(entries, stream.read(size)), metadata


def test_round_trip_keeps_values_shapes_and_dtypes():
    tensors, metadata = read(_safetensors.dumps(ARRAYS, {"note": "hello"}))
    assert metadata == {"note": "hello"}
    assert list(tensors) == list(ARRAYS)
    for name, array in ARRAYS.items():
        assert tensors[name].dtype == array.dtype.newbyteorder("=")
        assert tensors[name].shape == array.shape
        np.testing.assert_array_equal(tensors[name], array)
        assert tensors[name].flags.writeable and tensors[name].flags.owndata


def test_data_starts_aligned():
    raw = _safetensors.dumps({"x": np.ones(3)}, {"a": "b"})
    header_size = int.from_bytes(raw[:8], "little")
    assert header_size % 8 == 0


@pytest.mark.parametrize("array", [np.array(["a"], dtype=object), np.array(["ab"]),
                                   np.zeros(2, dtype=np.complex64)])
def test_only_numeric_arrays_can_be_written(array):
    with pytest.raises(ValueError, match="cannot store"):
        _safetensors.dumps({"x": array}, {})


def test_files_are_readable_by_the_reference_implementation(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    safe_open = pytest.importorskip("safetensors").safe_open
    path = tmp_path / "x.safetensors"
    path.write_bytes(_safetensors.dumps(ARRAYS, {"note": "hello"}))
    loaded = safetensors_numpy.load_file(str(path))
    for name, array in ARRAYS.items():
        np.testing.assert_array_equal(loaded[name], array)
    with safe_open(str(path), "np") as f:
        assert f.metadata() == {"note": "hello"}


def test_reads_files_of_the_reference_implementation():
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    arrays = {name: np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("="))
              for name, a in ARRAYS.items()}
    raw = safetensors_numpy.save(arrays, metadata={"note": "hello"})
    tensors, metadata = read(raw)
    assert metadata == {"note": "hello"}
    for name, array in arrays.items():
        np.testing.assert_array_equal(tensors[name], array)


def test_a_gap_between_tensors_is_refused():
    raw = _safetensors.dumps({"a": np.ones(1), "b": np.ones(1)}, {})
    text = raw[8:8 + int.from_bytes(raw[:8], "little")].replace(b"[8,16]", b"[9,17]")
    with pytest.raises(ValueError, match="gap or overlap"):
        read(len(text).to_bytes(8, "little") + text + raw[8 + len(text):] + b"\0")
