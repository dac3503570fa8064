"""skae: scikit-learn estimators for nonlinear, probabilistic low-dimensional representations.

Autoencoders and variational autoencoders built with PyTorch, trained through
skorch, usable anywhere :class:`sklearn.decomposition.PCA` is.
"""

from ._autoencoder import AutoencoderTransformer
from ._outlier import ReconstructionOutlierDetector
from ._persistence import load, save
from ._vae import VAETransformer

__version__ = "0.1.0.dev0"

__all__ = [
    "AutoencoderTransformer",
    "ReconstructionOutlierDetector",
    "VAETransformer",
    "__version__",
    "load",
    "save",
]
