"""Atomic file writes: a reader sees the old file or the new one, never half of
one.

The data goes to a temp file in the target's folder, is flushed to disk and
renamed over the target. The file gets the mode a plain ``open(path, 'w')``
would give it: an existing target keeps its mode, a new one gets ``0o666``
less the umask (0644 under umask 022), so that teammates can read
checkpoints and results on a shared machine.

Standard library only: the offline evaluator writes its results here
without torch.
"""
import os
import os.path as osp
import secrets
import stat
from pathlib import Path
from typing import Union


def _create_temp_beside(filepath: str) -> str:
    """Create an empty, unique temp file next to ``filepath``; return its path.

    ``os.open`` with mode 0o666 lets the kernel apply the umask, as a plain
    write does (``tempfile.mkstemp`` would make it 0600).
    """
    folder, name = osp.split(filepath)
    while True:
        tmp = osp.join(folder, f'.{name}.{secrets.token_hex(4)}.tmp')
        try:
            os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return tmp
        except FileExistsError:
            continue


def atomic_write(data: Union[bytes, str],
                 filepath: Union[str, Path],
                 encoding: str = 'utf-8') -> None:
    """Write ``data`` to ``filepath`` through a temp file and a rename.

    Args:
        data (bytes | str): The content; ``str`` is encoded with
            ``encoding``.
        filepath (str | Path): The target; its folder is created if needed.
        encoding (str): Of ``str`` data. Defaults to 'utf-8'.
    """
    filepath = osp.abspath(str(filepath))
    os.makedirs(osp.dirname(filepath), exist_ok=True)
    tmp = _create_temp_beside(filepath)
    try:
        with open(tmp, 'wb') as f:
            f.write(data.encode(encoding) if isinstance(data, str) else data)
            f.flush()
            os.fsync(f.fileno())
        if osp.exists(filepath):  # a plain write keeps the file's mode
            os.chmod(tmp, stat.S_IMODE(os.stat(filepath).st_mode))
        os.replace(tmp, filepath)
    except BaseException:
        if osp.exists(tmp):
            os.remove(tmp)
        raise
