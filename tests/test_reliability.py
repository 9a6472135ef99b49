"""Atomic writes and stopping on a non-finite loss."""
import os

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmpanfpn.engine import AtomicLocalBackend, NonFiniteLossError


def test_local_writes_are_atomic(tmp_path, monkeypatch):
    path = tmp_path / 'ckpt.pth'
    backend = get_file_backend(str(path))
    assert isinstance(backend, AtomicLocalBackend)
    backend.put(b'old complete checkpoint', str(path))

    def crash(fd):
        raise KeyboardInterrupt('killed while saving')

    monkeypatch.setattr(os, 'fsync', crash)
    with pytest.raises(KeyboardInterrupt):
        backend.put(b'new but never finished', str(path))
    assert path.read_bytes() == b'old complete checkpoint'
    assert os.listdir(tmp_path) == ['ckpt.pth']  # no temp file left


class ExplodingModel(BaseModel):
    """Its loss becomes NaN at the third iteration."""

    def __init__(self):
        super().__init__()
        self.w = torch.nn.Parameter(torch.ones(1))
        self.calls = 0

    def forward(self, inputs, mode='tensor'):
        self.calls += 1
        bad = float('nan') if self.calls == 3 else 0.0
        return dict(
            loss_cls=(self.w * torch.stack(inputs)).mean(),
            loss_mask=self.w.sum() * 0 + bad)


class Ones(Dataset):

    def __len__(self):
        return 8

    def __getitem__(self, i):
        return dict(inputs=torch.ones(1))


def test_nan_loss_stops_with_iteration_and_terms(tmp_path):
    runner = Runner(
        model=ExplodingModel(),
        work_dir=str(tmp_path),
        train_dataloader=dict(
            dataset=Ones(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=6),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
            finite_loss=dict(type='FiniteLossHook')),
        default_scope='mmpanfpn',
        experiment_name='nan-loss-test')
    with pytest.raises(
            NonFiniteLossError, match=r'iteration 3 .*loss_mask=nan'):
        runner.train()
    saved = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth']  # the NaN step saved nothing
