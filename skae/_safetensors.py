"""Reading and writing the safetensors container format with numpy only.

A safetensors file is an 8-byte little-endian header length, a JSON header
naming each tensor's dtype, shape and byte range, and the raw little-endian
bytes of the tensors, back to back. Reading one is parsing JSON and slicing
bytes: nothing in it can execute code, which is why skae stores models in it.

skae writes and reads the format itself (about a hundred lines) rather than
depending on the ``safetensors`` package, and checks more than the format
requires: byte ranges must tile the data exactly, every shape must match its
byte count, and the header is bounded in size. Files written here load with
``safetensors.numpy.load_file`` and the other way round (tested).
"""

import json
import struct

import numpy as np

#: The safetensors specification's bound on the header size.
MAX_HEADER_BYTES = 100_000_000

#: safetensors dtype names -> numpy dtypes (little-endian). The set is closed:
#: no object, string or structured dtype can be named, so no array read here
#: can hold a Python object.
DTYPES = {
    "BOOL": np.dtype("bool"),
    "U8": np.dtype("<u1"),
    "I8": np.dtype("<i1"),
    "U16": np.dtype("<u2"),
    "I16": np.dtype("<i2"),
    "U32": np.dtype("<u4"),
    "I32": np.dtype("<i4"),
    "U64": np.dtype("<u8"),
    "I64": np.dtype("<i8"),
    "F16": np.dtype("<f2"),
    "F32": np.dtype("<f4"),
    "F64": np.dtype("<f8"),
}
_NAMES = {dtype: name for name, dtype in DTYPES.items()}


def _dtype_name(array):
    name = _NAMES.get(array.dtype.newbyteorder("<"))
    if name is None:
        raise ValueError(f"cannot store an array of dtype {array.dtype} (numeric dtypes only).")
    return name


def dumps(tensors, metadata):
    """The bytes of a safetensors file holding ``tensors`` and ``metadata``.

    Parameters
    ----------
    tensors : dict of str to ndarray
        Numeric arrays, stored in C order, little-endian.
    metadata : dict of str to str
        Stored under the header's ``"__metadata__"`` key.
    """
    header = {"__metadata__": dict(metadata)} if metadata else {}
    chunks, offset = [], 0
    for name, array in tensors.items():
        array = np.asarray(array, order="C")
        dtype_name = _dtype_name(array)
        data = array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {
            "dtype": dtype_name,
            "shape": list(array.shape),
            "data_offsets": [offset, offset + len(data)],
        }
        chunks.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 8)  # the data starts 8-byte aligned, as the reference writer does
    return b"".join([struct.pack("<Q", len(text)), text, *chunks])


def read_header(stream, size):
    """Read and check the header of a safetensors file of ``size`` bytes.

    Returns ``(entries, metadata, data_size)``: the tensor entries (name ->
    ``(dtype, shape, begin, end)``), the metadata dict and the byte count the
    data section must have. Raises ``ValueError`` on anything malformed before
    reading the data, so a forged header cannot make the reader allocate more
    than the file's size.
    """
    prefix = stream.read(8)
    if len(prefix) != 8:
        raise ValueError("not a safetensors file: shorter than its 8-byte header length.")
    (header_size,) = struct.unpack("<Q", prefix)
    if header_size > min(MAX_HEADER_BYTES, size - 8):
        raise ValueError(
            f"not a valid safetensors file: the header claims {header_size} bytes, the file "
            f"has {size - 8} after the length (limit {MAX_HEADER_BYTES})."
        )
    text = stream.read(header_size)
    try:
        header = json.loads(text.decode("utf-8"), parse_constant=_reject_constant)
    except (UnicodeDecodeError, json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ValueError(f"not a valid safetensors file: unreadable header ({exc}).") from None
    if not isinstance(header, dict):
        raise ValueError("not a valid safetensors file: the header is not a JSON object.")
    metadata = header.pop("__metadata__", {})
    if not isinstance(metadata, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in metadata.items()
    ):
        raise ValueError("not a valid safetensors file: __metadata__ must map strings to strings.")
    entries = {name: _check_entry(name, entry) for name, entry in header.items()}
    # The byte ranges must tile the data section exactly: no gap, no overlap.
    end = 0
    for name, (_, _, begin, stop) in sorted(entries.items(), key=lambda item: item[1][2:]):
        if begin != end:
            raise ValueError(
                f"not a valid safetensors file: tensor {name!r} starts at byte {begin}, "
                f"expected {end} (gap or overlap)."
            )
        end = stop
    if end != size - 8 - header_size:
        raise ValueError(
            f"truncated or corrupted file: the tensors need {end} bytes of data, "
            f"the file holds {size - 8 - header_size}."
        )
    return entries, metadata, end


def _reject_constant(name):
    raise ValueError(f"{name} is not valid JSON")


def _is_count(value):
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_entry(name, entry):
    if not (
        isinstance(entry, dict)
        and set(entry) == {"dtype", "shape", "data_offsets"}
        and entry["dtype"] in DTYPES
        and isinstance(entry["shape"], list)
        and all(_is_count(n) for n in entry["shape"])
        and isinstance(entry["data_offsets"], list)
        and len(entry["data_offsets"]) == 2
        and all(_is_count(n) for n in entry["data_offsets"])
    ):
        raise ValueError(f"not a valid safetensors file: malformed entry for tensor {name!r}.")
    dtype = DTYPES[entry["dtype"]]
    shape = tuple(entry["shape"])
    begin, end = entry["data_offsets"]
    # Python integers do not overflow: an absurd shape gives an absurd byte count.
    if end < begin or int(np.prod(shape, dtype=object)) * dtype.itemsize != end - begin:
        raise ValueError(
            f"not a valid safetensors file: tensor {name!r} of shape {list(shape)} and dtype "
            f"{entry['dtype']} does not fill its byte range [{begin}, {end})."
        )
    return dtype, shape, begin, end


def read_tensors(entries, data):
    """The arrays of ``entries`` (from :func:`read_header`), copied out of ``data``."""
    return {
        name: np.frombuffer(data, dtype=dtype, count=(end - begin) // dtype.itemsize,
                            offset=begin).reshape(shape).astype(dtype.newbyteorder("="))
        for name, (dtype, shape, begin, end) in entries.items()
    }
