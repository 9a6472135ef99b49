"""Allow-list for loading MMEngine checkpoints with ``weights_only=True``.

Since torch 2.6 ``torch.load`` defaults to ``weights_only=True``, which refuses
any class it does not know. MMEngine checkpoints carry a few such objects in
``meta`` and ``message_hub`` (``HistoryBuffer``, numpy arrays and scalars of
any dtype, and ``bytes``: an empty array, e.g. the history of a buffer nothing
was logged to yet, pickles its data as ``bytes()``), so ``--resume`` failed
with ``UnpicklingError``. Instead of switching ``weights_only`` off (which
would run arbitrary pickled code), exactly those types are declared safe.
"""
import codecs
import pickle
from typing import List

import numpy as np
import torch


def _history_buffer_method(owner: type, name: str):
    """``getattr`` restricted to ``HistoryBuffer``'s statistics methods.

    A pickled ``HistoryBuffer`` stores its ``statistics_methods`` as
    ``getattr(HistoryBuffer, 'mean')`` and so on; allowing the real ``getattr``
    would let a checkpoint reach any attribute of any allowed class, so only
    these lookups are served.
    """
    from mmengine.logging.history_buffer import HistoryBuffer

    if owner is HistoryBuffer and name in ('min', 'max', 'current', 'mean'):
        return getattr(HistoryBuffer, name)
    raise pickle.UnpicklingError(
        f'checkpoint asks for getattr({owner!r}, {name!r}), which is not on '
        "mmpanfpn's allow-list; load it with torch.load(..., "
        'weights_only=False) only if you trust its source')


def checkpoint_safe_globals() -> List[object]:
    """The classes and functions MMEngine/mmdet/mmseg checkpoints pickle."""
    from mmengine.logging.history_buffer import HistoryBuffer

    try:  # numpy >= 2 moved the implementation to ``numpy._core``
        from numpy._core.multiarray import _reconstruct, scalar
    except ImportError:  # numpy 1.x
        from numpy.core.multiarray import _reconstruct, scalar

    # every dtype a numpy array or scalar can have (object arrays too: their
    # items go through the same allow-list)
    dtype_classes = [
        type(np.dtype(code)) for code in '?bBhHiIlLqQefdgFDGSUVOMm'
    ]
    return [
        HistoryBuffer,
        np.ndarray,
        np.dtype,
        _reconstruct,
        scalar,
        # numpy pickles byte strings of arrays through codecs.encode, and an
        # empty one (protocol 2) as bytes()
        codecs.encode,
        bytes,
        (bytes, '__builtin__.bytes'),
        *dtype_classes,
        # pickle protocol 2 (torch.save's default) names builtins __builtin__
        (_history_buffer_method, '__builtin__.getattr'),
        (_history_buffer_method, 'builtins.getattr'),
    ]


def register_checkpoint_safe_globals() -> None:
    """Declare :func:`checkpoint_safe_globals` safe for ``torch.load``."""
    add = getattr(torch.serialization, 'add_safe_globals', None)
    if add is not None:  # torch < 2.4 has no allow-list (and no default)
        add(checkpoint_safe_globals())
