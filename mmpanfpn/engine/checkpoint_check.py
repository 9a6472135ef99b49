"""Refuse a checkpoint whose tensors do not fit the model built from the
config, listing the keys, instead of MMEngine's warning after which the
mismatched layers silently keep their random initialisation."""
from typing import List, Tuple

import torch.nn as nn
from mmengine.runner.checkpoint import _load_checkpoint


def shape_mismatches(model: nn.Module,
                     state_dict: dict) -> List[Tuple[str, tuple, tuple]]:
    """``(key, checkpoint shape, model shape)`` for every tensor that exists in
    both with different shapes."""
    own = model.state_dict()
    found = []
    for key, value in state_dict.items():
        if key in own and hasattr(
                value,
                'shape') and tuple(value.shape) != tuple(own[key].shape):
            found.append((key, tuple(value.shape), tuple(own[key].shape)))
    return found


def check_checkpoint_fits(model: nn.Module, filename: str) -> None:
    """Raise ``ValueError`` naming the file and the mismatched keys.

    Use where a mismatch is always a mistake (testing, resuming, inference);
    fine-tuning from a checkpoint with other class counts goes through
    ``load_from`` in training, which keeps MMEngine's warning.
    """
    checkpoint = _load_checkpoint(filename, map_location='cpu')
    state_dict = checkpoint.get('state_dict', checkpoint)
    if hasattr(model, 'module'):  # a wrapped model
        model = model.module
    bad = shape_mismatches(model, state_dict)
    if bad:
        lines = '\n'.join(f'  {key}: checkpoint {tuple(a)} vs model {tuple(b)}'
                          for key, a, b in bad[:20])
        more = f'\n  ... and {len(bad) - 20} more' if len(bad) > 20 else ''
        raise ValueError(
            f'{filename}: {len(bad)} tensors do not fit the model built from '
            f'the config (class counts or channels differ?):\n{lines}{more}')


__all__ = ['shape_mismatches', 'check_checkpoint_fits']
