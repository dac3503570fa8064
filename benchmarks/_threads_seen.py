"""A skorch callback for the benchmarks: the torch thread count of each epoch of a skae fit.

skae chooses how many torch threads CPU training uses, and may change it while
it trains (``skae/_threads.py``); the benchmarks print what it chose. The
callback only reads ``torch.get_num_threads()``: training is unchanged.
"""

import torch
from skorch.callbacks import Callback


class ThreadsSeen(Callback):
    """Records the torch thread count at the end of each epoch in ``threads_``."""

    def initialize(self):
        self.threads_ = []
        return self

    def on_epoch_end(self, net, **kwargs):
        self.threads_.append(torch.get_num_threads())
