"""
=====================================
Saving a model and serving it in ONNX
=====================================

A fitted model is shared as a file and served somewhere else. Pickle would
do the first, but loading a pickle runs whatever code the file holds.
:func:`skae.save` writes a file that holds only data -- weights and arrays as
safetensors, everything else as JSON -- and :func:`skae.load` reads it without
running anything. :func:`skae.onnx.to_onnx` then turns the model into an ONNX
graph that onnxruntime serves without PyTorch, alone or inside a whole
scikit-learn pipeline. See :ref:`serving` for what each way promises.
"""

# %%
# Fit a pipeline on the digits: scaling, an autoencoder with 8 codes, and a
# classifier on the codes.
import os
import tempfile
import warnings

import numpy as np
import onnxruntime
import skl2onnx
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

import skae
from skae.onnx import register_skl2onnx_converters, to_onnx

X, y = load_digits(return_X_y=True)
X = (X / 16).astype(np.float32)
X_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)

with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    ae = skae.AutoencoderTransformer(n_components=8, max_epochs=30, random_state=0)
    pipe = Pipeline([("reduce", ae), ("classify", LogisticRegression(max_iter=2000))])
    pipe.fit(X_train, y_train)
print(f"test accuracy: {pipe.score(X_test, y_test):.3f}")

# %%
# Save and load
# -------------
# The file is a safetensors file: any safetensors reader lists its arrays. The
# loaded autoencoder gives exactly the same codes, bit for bit.
path = os.path.join(tempfile.mkdtemp(), "autoencoder.skae")
skae.save(pipe["reduce"], path)
loaded = skae.load(path)
print(f"file size: {os.path.getsize(path) / 1024:.0f} KiB")
print("same codes bit for bit:",
      np.array_equal(loaded.transform(X_test), pipe["reduce"].transform(X_test)))

# %%
# A file that is not a skae model -- here a pickle -- is refused with a
# ``ValueError``, never executed.
import pickle  # noqa: E402

with open(path, "wb") as f:
    pickle.dump(pipe["reduce"], f)
try:
    skae.load(path)
except ValueError as exc:
    print("refused:", exc)

# %%
# Serve the autoencoder with onnxruntime
# --------------------------------------
# The exported graph takes float32 rows (float64 ones if exported with
# ``dtype=np.float64``), of any number, and includes the network's input
# normalisation.
model = to_onnx(loaded, "transform")
session = onnxruntime.InferenceSession(model.SerializeToString())
(codes,) = session.run(None, {"X": X_test})
print(f"largest difference from skae: {np.abs(codes - loaded.transform(X_test)).max():.1e}")

# %%
# Serve the whole pipeline
# ------------------------
# With skae's converters registered, skl2onnx converts the pipeline, the
# classifier included. (``zipmap=False`` gives the probabilities as an array.)
register_skl2onnx_converters()
onx = skl2onnx.to_onnx(pipe, X_test[:1], options={LogisticRegression: {"zipmap": False}})
session = onnxruntime.InferenceSession(onx.SerializeToString())
labels, probabilities = session.run(None, {"X": X_test})
print("same labels as the pipeline:", np.array_equal(labels, pipe.predict(X_test)))
print(f"largest probability difference: "
      f"{np.abs(probabilities - pipe.predict_proba(X_test)).max():.1e}")
