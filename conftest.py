"""pytest at the repository root: doctests of optional modules run only with their extra.

``skae/onnx.py``'s examples need the ``onnx`` extra (onnx, onnxruntime,
skl2onnx); its tests in ``tests/test_onnx.py`` skip themselves without it.
"""

import importlib.util

collect_ignore = []
if any(importlib.util.find_spec(name) is None for name in ("onnx", "onnxruntime", "skl2onnx")):
    collect_ignore.append("skae/onnx.py")
