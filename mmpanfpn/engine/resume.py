"""Which checkpoint ``--resume`` (without a path) continues from."""
import os
import os.path as osp
import re
import warnings
from typing import Optional

_CKPT_NAME = re.compile(r'^(?:iter|epoch)_(\d+)\.pth$')


def find_resume_checkpoint(work_dir: str) -> Optional[str]:
    """The checkpoint named by ``work_dir/last_checkpoint``, or, when that file
    is missing, empty or names a file that is gone (a run killed while
    MMEngine's own hook rewrote it, a folder copied by hand), the
    ``iter_N.pth``/``epoch_N.pth`` with the largest N in ``work_dir``.

    Returns None when ``work_dir`` holds no checkpoint: training starts from
    scratch.
    """
    pointer = osp.join(work_dir, 'last_checkpoint')
    if osp.isfile(pointer):
        with open(pointer) as f:
            target = f.read().strip()
        if target and osp.isfile(target):
            return target
        reason = (f'{pointer} is empty' if not target else
                  f'{pointer} names {target!r}, which does not exist')
    else:
        reason = f'no {pointer}'
    found = []
    if osp.isdir(work_dir):
        for name in os.listdir(work_dir):
            match = _CKPT_NAME.match(name)
            if match:
                found.append((int(match.group(1)), osp.join(work_dir, name)))
    if not found:
        return None
    latest = max(found)[1]
    warnings.warn(f'{reason}; resuming from the newest checkpoint in '
                  f'{work_dir}: {latest}')
    return latest
