"""Atomic local writes for MMEngine's file I/O (checkpoints included).

MMEngine's ``LocalBackend.put`` opens the final path and writes into it, so a
run killed during ``save_checkpoint`` leaves a truncated ``iter_N.pth`` that
looks complete. :class:`AtomicLocalBackend` writes every local
``put``/``put_text`` with :func:`~mmpanfpn.utils.atomic_io.atomic_write`
(temp file, flush, rename; the mode of a plain write).
:func:`register_atomic_local_backend` makes it MMEngine's local backend for
the process; :func:`~mmpanfpn.utils.register_all_modules` calls it, never
``import mmpanfpn``.
"""
from pathlib import Path
from typing import Union

from mmengine.fileio.backends import LocalBackend, register_backend

from mmpanfpn.utils.atomic_io import atomic_write

__all__ = [
    'AtomicLocalBackend', 'atomic_backend_args', 'atomic_write',
    'register_atomic_local_backend'
]

# AtomicLocalBackend's own name among MMEngine's backends ('local' is
# MMEngine's, unchanged unless register_atomic_local_backend is called)
ATOMIC_BACKEND = 'atomic_local'


class AtomicLocalBackend(LocalBackend):
    """``LocalBackend`` whose writes are atomic (see module docstring)."""

    def put(self, obj: bytes, filepath: Union[str, Path]) -> None:
        atomic_write(obj, filepath)

    def put_text(self,
                 obj: str,
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
        atomic_write(obj, filepath, encoding)


def register_atomic_local_backend() -> None:
    """Make MMEngine use :class:`AtomicLocalBackend` for local paths."""
    register_backend('local', AtomicLocalBackend, force=True, prefixes='')


def atomic_backend_args() -> dict:
    """``backend_args`` that select :class:`AtomicLocalBackend` for one call
    (``runner.save_checkpoint``, ``get_file_backend``), whatever MMEngine's
    local backend is.

    Registers it under its own name: an addition, nothing of MMEngine's is
    replaced.
    """
    register_backend(ATOMIC_BACKEND, AtomicLocalBackend, force=True)
    return dict(backend=ATOMIC_BACKEND)
