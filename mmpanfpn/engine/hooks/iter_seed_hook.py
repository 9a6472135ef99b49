"""Model randomness as a function of (seed, iteration), so that a resumed run
draws exactly what an uninterrupted one would.

What a Panoptic FPN draws at random while training is torch's: the RPN and
RoI samplers (``torch.randperm``), dropout if any. MMEngine seeds torch once,
at start; after ``--resume`` the generator restarts from that seed, not from
where the killed run was, so the samplers pick other proposals and the
weights drift apart from an uninterrupted run. Saving the generator state in
the checkpoint is not enough either: the data loader draws from the same
generator whenever it starts a new pass over the dataset (the base seed of
its iterator), which may fall between the save and the next iteration.

This hook reseeds torch (CPU and every CUDA device) before each training
iteration from ``(runner.seed, iteration)``, so what the model draws in
iteration ``i`` depends on nothing else. The seed itself is restored from
the checkpoint's ``meta`` by MMEngine on resume. Data augmentation is
unaffected: mmcv/mmdet transforms draw from numpy, seeded per data-loader
worker by MMEngine (or, with ``num_workers=0``, replayed when MMEngine
advances the loader over the iterations already done).
"""
from typing import Optional

import numpy as np
import torch
from mmengine.hooks import Hook

from mmpanfpn.registry import HOOKS


def iteration_seed(seed: int, iteration: int) -> int:
    """A well-mixed 63-bit seed for ``iteration`` of a run seeded ``seed``."""
    words = np.random.SeedSequence([int(seed) % 2**32, int(iteration)])
    low, high = words.generate_state(2, dtype=np.uint32).tolist()
    return ((high << 32) | low) & (2**63 - 1)


@HOOKS.register_module()
class IterSeedHook(Hook):
    """Reseed torch before every training iteration (see module doc)."""

    priority = 'VERY_HIGH'

    def before_train_iter(self,
                          runner,
                          batch_idx: int,
                          data_batch: Optional[dict] = None) -> None:
        torch.manual_seed(iteration_seed(runner.seed, runner.iter))
