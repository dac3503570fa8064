"""Network bodies for images and sequences: convolutional and recurrent.

Every skae encoder and decoder is a linear path plus a nonlinear *body* whose
contribution starts at zero, so a network started at (probabilistic) PCA's
solution computes exactly that solution before training. The MLP body is
``_modules.ResidualMLP``; this module holds :class:`ResidualBody`, the linear
path around any other body, and the built-in convolutional and recurrent
bodies. A body sees one sample in its natural shape, channels first
(``(C, H, W)`` images, ``(C, T)`` sequences); the network's input and output
stay flat rows (their C-order flattenings). No scikit-learn in here.

Built-in bodies have ``zero_output_()``, which zeroes their last layer: the
body then contributes nothing, while its earlier layers keep their random
initialisation, so gradients reach them once the last layer moves.

A body may also *gate* the linear path: it returns ``(shift, gate)`` and the
map is ``linear(x) * 2 sigmoid(gate) + shift``; a zero last layer gives a gate
of exactly 1 and a shift of 0, so the start is still the linear map. The
convolutional decoder for images does so (see :class:`ConvDecoderBody` for why).
"""

import math

import torch
from torch import nn

from ._modules import ACTIVATIONS, Dropout

#: Convolution and transposed convolution per number of spatial dimensions.
_CONVOLUTIONS = {1: (nn.Conv1d, nn.ConvTranspose1d), 2: (nn.Conv2d, nn.ConvTranspose2d)}
_RECURRENT_CELLS = {"gru": nn.GRU, "lstm": nn.LSTM}


def _zero_(layer):
    with torch.no_grad():
        layer.weight.zero_()
        layer.bias.zero_()


class ResidualBody(nn.Module):
    """``linear(x) + body(x)``: a linear path with a nonlinear body beside it.

    Parameters
    ----------
    in_features, out_features : int
        Widths of the flat input and output rows.
    body : torch.nn.Module or None, default=None
        Maps a batch viewed as ``(batch, *in_shape)`` to a tensor with
        ``out_features`` values per row (in any shape: it is flattened), or
        fewer, which are added to the first outputs (a user's decoder giving
        only the mean where the likelihood also takes a log-variance); or to a
        pair ``(shift, gate)`` of tensors with ``out_features`` values per row,
        and then the map is ``linear(x) * 2 sigmoid(gate) + shift``. It has
        ``zero_output_()``, after which it contributes nothing (a zero, or a
        zero shift and gate). None gives the linear map alone.
    in_shape : tuple of int or None, default=None
        How the body views one input row; ``(in_features,)`` if None.
    """

    def __init__(self, in_features, out_features, body=None, in_shape=None):
        super().__init__()
        self.linear = nn.Linear(in_features, out_features)
        self.body = body
        self.in_shape = tuple(in_shape) if in_shape is not None else (in_features,)

    def forward(self, x):
        out = self.linear(x)
        if self.body is None:
            return out
        body = self.body(x.reshape(x.shape[0], *self.in_shape))
        if isinstance(body, tuple):
            shift, gate = body
            return out * (2 * torch.sigmoid(gate.reshape(out.shape))) + shift.reshape(out.shape)
        body = body.reshape(x.shape[0], -1)
        width = body.shape[1]
        if width == out.shape[1]:
            return out + body
        return torch.cat([out[:, :width] + body, out[:, width:]], dim=1)

    @torch.no_grad()
    def start_at(self, weight, bias):
        """Make the map exactly ``x @ weight.T + bias``; the body contributes zero."""
        self.linear.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        self.linear.bias.copy_(torch.as_tensor(bias, dtype=torch.float32))
        if self.body is not None:
            self.body.zero_output_()


class ChannelsLast(nn.Module):
    """Lay image batches out channels last (``(N, H, W, C)`` in memory); other ranks pass.

    The shape and the values are unchanged. oneDNN's CPU convolutions run
    faster on that layout and keep it, so the convolutions that follow run
    without reordering their inputs (``benchmarks/RESULTS_performance.md``).
    """

    def forward(self, x):
        return x.contiguous(memory_format=torch.channels_last) if x.dim() == 4 else x


def conv_sizes(spatial, n_layers):
    """Spatial sizes before and after each of ``n_layers`` encoder convolutions.

    A 3-wide kernel with stride 2 and padding 1 maps a size ``n`` to
    ``ceil(n / 2)``: 28 -> 14 -> 7, 8 -> 4 -> 2, 7 -> 4 -> 2.
    """
    sizes = [tuple(spatial)]
    for _ in range(n_layers):
        sizes.append(tuple((s + 1) // 2 for s in sizes[-1]))
    return sizes


def _group_count(norm_groups, channels):
    """The groups of a ``GroupNorm`` of ``channels`` maps: their gcd with ``norm_groups``."""
    return math.gcd(norm_groups, channels)


def check_group_norms(input_shape, channels, norm_groups, encoder=True, decoder=True):
    """Raise ``ValueError`` where a convolutional body would group-normalise single values.

    ``encoder``, ``decoder``: whether :class:`ConvEncoderBody` and
    :class:`ConvDecoderBody` are built with these ``channels`` (a user's body
    replaces a side). Layer ``i`` of the encoder outputs ``channels[i]`` maps of
    size ``conv_sizes(input_shape[1:], ...)[i + 1]`` and normalises each
    sample's maps in groups of ``channels[i] / groups``; the decoder normalises
    the same maps, but not the last layer's (its output layer stands there). A
    group of one 1 x 1 map is a single value, which normalises to zero whatever
    the input: the layer would pass on its bias only (and torch refuses to
    normalise it for a single sample).
    """
    if encoder:
        normalised = len(channels)
    elif decoder:
        normalised = len(channels) - 1
    else:
        return
    sizes = conv_sizes(input_shape[1:], normalised)
    for i, (width, size) in enumerate(zip(channels[:normalised], sizes[1:])):
        groups = _group_count(norm_groups, width)
        if width // groups * math.prod(size) == 1:
            raise ValueError(
                f"hidden_layer_sizes={tuple(channels)} is too deep for images of shape "
                f"{tuple(input_shape)}: each convolution halves the height and width (rounding "
                f"up), so layer {i + 1}'s feature maps are 1 x 1, and its GroupNorm would hold "
                f"one map per group (groups = gcd({width}, {norm_groups}) = {groups}): a single "
                f"value, which normalises to zero whatever the image. Use fewer convolutional "
                f"layers, more than {norm_groups} channels in layer {i + 1}, or larger images."
            )


def _hidden(activation, dropout, channels=None, norm_groups=None):
    """The activation, and a dropout after it when ``dropout > 0``.

    With ``norm_groups``, a ``GroupNorm`` of the ``channels`` feature maps
    comes first, in at most ``norm_groups`` groups (as many as divide
    ``channels``). skae's :class:`~skae._modules.Dropout` draws its masks from
    the fit's generator, so ``random_state`` fixes them.
    """
    layers = [ACTIVATIONS[activation]()]
    if norm_groups:
        layers.insert(0, nn.GroupNorm(_group_count(norm_groups, channels), channels))
    if dropout > 0:
        layers.append(Dropout(dropout))
    return layers


class ConvEncoderBody(nn.Module):
    """Stride-2 convolutions, then a linear layer to ``out_features``.

    ``Conv2d`` for ``input_shape = (C, H, W)``, ``Conv1d`` for ``(C, T)``; each
    layer has a 3-wide kernel, stride 2 and padding 1 (it halves every spatial
    size, rounding up) and ``channels[i]`` output channels. With
    ``norm_groups``, each convolution's maps are group-normalised before the
    activation (see :func:`build_encoder_body`).
    """

    def __init__(self, input_shape, channels, out_features, activation="relu", dropout=0.0,
                 norm_groups=None):
        super().__init__()
        conv = _CONVOLUTIONS[len(input_shape) - 1][0]
        layers, width = [], input_shape[0]
        for c in channels:
            layers += [conv(width, c, 3, stride=2, padding=1),
                       *_hidden(activation, dropout, c, norm_groups)]
            width = c
        last = conv_sizes(input_shape[1:], len(channels))[-1]
        self.features = nn.Sequential(ChannelsLast(), *layers, nn.Flatten())
        self.head = nn.Linear(width * math.prod(last), out_features)

    def forward(self, x):
        return self.head(self.features(x))

    def zero_output_(self):
        _zero_(self.head)


class ConvDecoderBody(nn.Module):
    """The mirror of :class:`ConvEncoderBody`: a linear layer, then transposed convolutions.

    Codes are mapped to ``channels[-1]`` feature maps of the encoder's smallest
    size; each transposed convolution doubles the sizes back to the encoder's,
    exactly: its ``output_padding`` is 1 where the encoder halved an even size
    and 0 where it halved an odd one. For images (``(C, H, W)``) the last layer
    outputs ``2 C`` channels: a shift and a gate per output value
    (:class:`ResidualBody`); for sequences, ``C`` channels added to the linear
    path.

    Why a gate: trained on squared error, a body that can only *add* to the
    PCA path must cancel that path's error everywhere -- on an image, the
    ringing PCA leaves on the blank background -- with features that are active
    there, and it learns several times slower than the same network without
    the linear path. A ReLU network outputs an exact constant where its
    features are off, and a saturating gate lets it switch the linear path off
    there (``benchmarks/RESULTS_quality.md``). Series have no blank
    background: on two UCR sets the 1-D gate did not help, so sequences keep
    the additive body. ``norm_groups`` group-normalises the maps of every
    transposed convolution but the last, as in the encoder.
    """

    def __init__(self, in_features, output_shape, channels, activation="relu", dropout=0.0,
                 norm_groups=None):
        super().__init__()
        transposed = _CONVOLUTIONS[len(output_shape) - 1][1]
        sizes = conv_sizes(output_shape[1:], len(channels))
        layers = [
            nn.Linear(in_features, channels[-1] * math.prod(sizes[-1])),
            *_hidden(activation, dropout),
            nn.Unflatten(1, (channels[-1], *sizes[-1])),
            ChannelsLast(),
        ]
        self.channels = output_shape[0]
        self.gated = len(output_shape) == 3
        for i in reversed(range(len(channels))):
            out_channels = channels[i - 1] if i > 0 else (1 + self.gated) * self.channels
            # size out = 2 * size in - 1 + output_padding
            padding = tuple(t - (2 * s - 1) for t, s in zip(sizes[i], sizes[i + 1]))
            layers.append(
                transposed(channels[i], out_channels, 3, stride=2, padding=1,
                           output_padding=padding)
            )
            if i > 0:
                layers += _hidden(activation, dropout, out_channels, norm_groups)
        self.layers = nn.Sequential(*layers)

    def forward(self, z):
        out = self.layers(z)
        if not self.gated:
            return out
        return out[:, : self.channels], out[:, self.channels :]  # shift, gate

    def zero_output_(self):
        _zero_(self.layers[-1])


def _recurrent_stack(cell, input_size, hidden_sizes):
    rnn = _RECURRENT_CELLS[cell]
    layers, width = [], input_size
    for size in hidden_sizes:
        layers.append(rnn(width, size, batch_first=True))
        width = size
    return nn.ModuleList(layers)


def _run_stack(layers, h, dropout, first_state=None):
    """Run the recurrent ``layers`` over ``h`` (batch, time, features), dropout between them."""
    for i, layer in enumerate(layers):
        h, _ = layer(h, first_state) if i == 0 and first_state is not None else layer(h)
        if dropout is not None and i < len(layers) - 1:
            h = dropout(h)
    return h


class RecurrentEncoderBody(nn.Module):
    """Recurrent layers over the ``T`` steps of ``(C, T)`` inputs, then a linear layer.

    One ``cell`` layer (``"gru"`` or ``"lstm"``) per entry of ``hidden_sizes``;
    the last layer's state after the last step goes through a linear layer.
    """

    def __init__(self, input_shape, hidden_sizes, out_features, cell="gru", dropout=0.0):
        super().__init__()
        self.layers = _recurrent_stack(cell, input_shape[0], hidden_sizes)
        self.dropout = Dropout(dropout) if dropout > 0 else None
        self.head = nn.Linear(hidden_sizes[-1], out_features)

    def forward(self, x):
        h = _run_stack(self.layers, x.transpose(1, 2), self.dropout)  # (batch, T, features)
        return self.head(h[:, -1])

    def zero_output_(self):
        _zero_(self.head)


class RecurrentDecoderBody(nn.Module):
    """Unrolls a code over ``T`` steps into a ``(C, T)`` sequence.

    The code is the input at every step and sets the first layer's initial
    state (through a linear layer and tanh); each step's last-layer output goes
    through a linear layer to ``C`` channels. ``hidden_sizes`` are the layers'
    sizes in order (the estimator passes the encoder's, reversed).
    """

    def __init__(self, in_features, output_shape, hidden_sizes, cell="gru", dropout=0.0):
        super().__init__()
        self.length = output_shape[1]
        self.is_lstm = cell == "lstm"
        self.initial = nn.Linear(in_features, hidden_sizes[0])
        self.layers = _recurrent_stack(cell, in_features, hidden_sizes)
        self.dropout = Dropout(dropout) if dropout > 0 else None
        self.head = nn.Linear(hidden_sizes[-1], output_shape[0])

    def forward(self, z):
        state = torch.tanh(self.initial(z)).unsqueeze(0)
        if self.is_lstm:
            state = (state, torch.zeros_like(state))
        steps = z.unsqueeze(1).expand(z.shape[0], self.length, z.shape[1])
        h = _run_stack(self.layers, steps, self.dropout, first_state=state)
        return self.head(h).transpose(1, 2)  # (batch, C, T)

    def zero_output_(self):
        _zero_(self.head)


def is_image_conv(architecture, input_shape):
    """Whether the network is 2-D convolutional: ``"conv"`` on ``(C, H, W)`` samples."""
    return architecture == "conv" and len(input_shape) == 3


#: ``batch_size="auto"`` takes at most this many images per batch for 2-D
#: convolutions: per epoch, batches of 64 lowered the held-out error of the
#: default network on MNIST well below batches of 200, for about the same cost per
#: image on a CPU (``benchmarks/RESULTS_quality.md``).
IMAGE_MAX_AUTO_BATCH = 64


def auto_batch_limit(architecture, input_shape):
    """The most rows ``batch_size="auto"`` puts in a batch for this network, or None."""
    if is_image_conv(architecture, input_shape):
        return IMAGE_MAX_AUTO_BATCH
    return None


#: The autoencoder's 2-D convolutional body normalises each hidden layer's feature
#: maps with a ``GroupNorm`` in (at most) this many groups. On MNIST it lowered the
#: held-out error after 25 epochs from 0.0140 to about 0.0130 for a few percent
#: more time per epoch, as a ``BatchNorm`` did -- but a ``GroupNorm`` normalises
#: each image on its own, so a row's code never depends on the rest of its
#: batch (``benchmarks/RESULTS_quality.md``).
IMAGE_NORM_GROUPS = 8


#: The autoencoder's ``"auto"`` training settings for 2-D convolutions (images):
#: a fixed budget of epochs with the learning rate warmed up to a higher peak
#: and decayed to zero over it. With a constant rate the validation loss of the
#: default network still crept down after 100 epochs (many times the time budget
#: of a CPU fit); with the schedule the group-normalised network
#: (``IMAGE_NORM_GROUPS``) reaches a lower error in a quarter of the epochs, and
#: tolerates the higher peak (``benchmarks/RESULTS_quality.md``).
IMAGE_CONV_TRAINING = {"learning_rate": 5e-3, "max_epochs": 25, "learning_rate_schedule": "cosine"}


def auto_training(architecture, input_shape, defaults):
    """``defaults`` (a dict of training settings) with this network's own values."""
    if is_image_conv(architecture, input_shape):
        return {**defaults, **IMAGE_CONV_TRAINING}
    return dict(defaults)


#: Default widths of each architecture's layers (``hidden_layer_sizes="auto"``).
DEFAULT_HIDDEN_LAYER_SIZES = {
    "mlp": (128, 64),
    "conv": (32, 64),
    "gru": (64,),
    "lstm": (64,),
}


def build_encoder_body(architecture, input_shape, hidden_layer_sizes, out_features,
                       activation="relu", dropout=0.0, norm_groups=None):
    """The built-in encoder body of ``architecture`` (``"conv"``, ``"gru"`` or ``"lstm"``).

    ``norm_groups`` (convolutions only): group-normalise the hidden feature maps
    (``IMAGE_NORM_GROUPS`` says why).
    """
    if not hidden_layer_sizes:
        return None
    if architecture == "conv":
        return ConvEncoderBody(input_shape, hidden_layer_sizes, out_features, activation, dropout,
                               norm_groups)
    return RecurrentEncoderBody(input_shape, hidden_layer_sizes, out_features, architecture,
                                dropout)


def build_decoder_body(architecture, in_features, output_shape, hidden_layer_sizes,
                       activation="relu", dropout=0.0, norm_groups=None):
    """The built-in decoder body of ``architecture``, mirroring its encoder body."""
    if not hidden_layer_sizes:
        return None
    if architecture == "conv":
        return ConvDecoderBody(in_features, output_shape, hidden_layer_sizes, activation,
                               dropout, norm_groups)
    return RecurrentDecoderBody(in_features, output_shape, tuple(reversed(hidden_layer_sizes)),
                                architecture, dropout)
