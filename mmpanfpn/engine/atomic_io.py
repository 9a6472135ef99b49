"""Atomic local writes for MMEngine's file I/O (checkpoints included).

MMEngine's ``LocalBackend.put`` opens the final path and writes into it, so a
run killed during ``save_checkpoint`` leaves a truncated ``iter_N.pth`` that
looks complete. Here every local ``put``/``put_text`` writes a temp file in the
same folder, flushes it to disk and renames it over the target: a reader sees
the old file or the new one, never half of one.
"""
import os
import os.path as osp
import tempfile
from pathlib import Path
from typing import Union

from mmengine.fileio.backends import LocalBackend, register_backend


def atomic_write(data: Union[bytes, str],
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``filepath`` through a temp file and a rename."""
    filepath = str(filepath)
    folder = osp.dirname(osp.abspath(filepath))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        dir=folder, prefix='.' + osp.basename(filepath), suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data.encode(encoding) if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise


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
