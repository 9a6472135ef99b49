"""Atomic writes and stopping on a non-finite loss."""
import os
import stat

import pytest
import torch
from mmengine.fileio import get_file_backend
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmpanfpn.engine import AtomicLocalBackend, NonFiniteLossError
from mmpanfpn.utils import atomic_write


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


def runner_of(work_dir, max_iters: int, name: str, **hooks) -> Runner:
    """A runner of :class:`ExplodingModel` in the mmpanfpn scope that saves a
    checkpoint every iteration."""
    return Runner(
        model=ExplodingModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=Ones(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=1,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.01)),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=1, by_epoch=False),
            **hooks),
        default_scope='mmpanfpn',
        experiment_name=name)


def test_nan_loss_stops_with_iteration_and_terms(tmp_path):
    runner = runner_of(
        tmp_path, 6, 'nan-loss-test', finite_loss=dict(type='FiniteLossHook'))
    with pytest.raises(
            NonFiniteLossError, match=r'iteration 3 .*loss_mask=nan'):
        runner.train()
    saved = sorted(f for f in os.listdir(tmp_path) if f.endswith('.pth'))
    assert saved == ['iter_1.pth', 'iter_2.pth']  # the NaN step saved nothing


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_atomic_write_gives_the_mode_of_a_plain_write(tmp_path):
    old_umask = os.umask(0o027)
    try:
        atomic_write(b'new', tmp_path / 'new.bin')
        with open(tmp_path / 'plain.bin', 'wb') as f:
            f.write(b'plain')
        # 0o666 less the umask 0o027
        assert mode(tmp_path / 'new.bin') == mode(tmp_path / 'plain.bin') \
            == 0o640
        # an existing file keeps its mode, as with open(path, 'w')
        os.chmod(tmp_path / 'new.bin', 0o604)
        atomic_write('replaced', tmp_path / 'new.bin')
        assert mode(tmp_path / 'new.bin') == 0o604
        assert (tmp_path / 'new.bin').read_text() == 'replaced'
    finally:
        os.umask(old_umask)


def test_checkpoints_are_atomic_whoever_started_the_runner(
        tmp_path, monkeypatch):
    """With MMEngine's own local backend (a runner that
    ``register_all_modules`` did not prepare, e.g. mmseg's tools), the
    checkpoint hook of the mmpanfpn scope still writes through
    ``AtomicLocalBackend``."""
    from mmengine.fileio.backends import LocalBackend, registry_utils
    monkeypatch.setitem(registry_utils.backends, 'local', LocalBackend)
    monkeypatch.setitem(registry_utils.prefix_to_backends, '', LocalBackend)
    assert type(get_file_backend(str(tmp_path))) is LocalBackend
    written = []
    put = AtomicLocalBackend.put

    def spy(self, obj, filepath):
        written.append(os.path.basename(filepath))
        put(self, obj, filepath)

    monkeypatch.setattr(AtomicLocalBackend, 'put', spy)
    runner_of(tmp_path, 2, 'atomic-hook-test').train()
    assert written == ['iter_1.pth', 'iter_2.pth']


@pytest.mark.parametrize('umask, expected', [(0o022, 0o644), (0o077, 0o600)])
def test_checkpoints_get_the_mode_of_a_plain_write(tmp_path, umask, expected):
    """Teammates read checkpoints and ``last_checkpoint`` on a shared disk when
    the umask lets them (a temp file from ``mkstemp`` would be 0600)."""
    old_umask = os.umask(umask)
    try:
        runner_of(tmp_path, 1, f'mode-test-{umask:o}').train()
    finally:
        os.umask(old_umask)
    assert mode(tmp_path / 'iter_1.pth') == expected
    assert mode(tmp_path / 'last_checkpoint') == expected
