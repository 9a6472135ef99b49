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


def check_resume_checkpoint(path: str) -> None:
    """Refuse, naming ``path``, a checkpoint ``--resume`` cannot continue
    from: missing, unreadable (truncated, or not written by ``torch.save``) or
    not a training checkpoint of an MMEngine runner (``meta.epoch``,
    ``meta.iter``, ``state_dict`` and ``message_hub``, which the runner reads
    without checking).

    Raises:
        FileNotFoundError: ``path`` does not exist.
        ValueError: it cannot be resumed from; the message says why.
    """
    from mmengine.runner.checkpoint import _load_checkpoint

    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: checkpoint not found')
    try:
        checkpoint = _load_checkpoint(path, map_location='cpu')
    except Exception as err:  # torch raises a different type per damage
        reason = str(err).strip().splitlines()[0] if str(err) else ''
        raise ValueError(
            f'{path}: not a readable checkpoint (truncated, or not written '
            f'by torch.save): {type(err).__name__}: {reason}') from None
    meta = checkpoint.get('meta') if isinstance(checkpoint, dict) else None
    missing = [
        key for key, found in (
            ('state_dict',
             isinstance(checkpoint, dict) and 'state_dict' in checkpoint),
            ('message_hub',
             isinstance(checkpoint, dict) and 'message_hub' in checkpoint),
            ('meta.epoch', isinstance(meta, dict) and 'epoch' in meta),
            ('meta.iter', isinstance(meta, dict) and 'iter' in meta))
        if not found
    ]
    if missing:
        raise ValueError(
            f'{path}: not a training checkpoint of an MMEngine runner (no '
            f'{", ".join(missing)}); to start from its weights instead, '
            f'train with --cfg-options load_from={path}')
