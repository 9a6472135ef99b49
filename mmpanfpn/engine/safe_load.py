"""Allow-list for loading MMEngine checkpoints with ``weights_only=True``.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which refuses
any class it does not know. MMEngine checkpoints carry a few such objects in
``meta`` and ``message_hub`` (``HistoryBuffer``, numpy arrays and scalars),
so ``--resume`` failed with ``UnpicklingError``. Instead of switching
``weights_only`` off (which would run arbitrary pickled code), exactly those
types are declared safe.
"""
import codecs
from typing import List

import numpy as np
import torch


def checkpoint_safe_globals() -> List[object]:
    """The classes and functions MMEngine/mmdet/mmseg checkpoints pickle."""
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy >= 2 moved the implementation to ``numpy._core``
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar

    dtype_classes = [type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGSUV']
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        _reconstruct,
        scalar,
        # numpy pickles byte strings of arrays through codecs.encode
        codecs.encode,
        *dtype_classes,
    ]


def register_checkpoint_safe_globals() -> None:
    """Declare :func:`checkpoint_safe_globals` safe for ``torch.load``."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no allow-list (and no default)
        add(checkpoint_safe_globals())
