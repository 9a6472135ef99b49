"""`--resume` on torch >= 2.6: a real MMEngine checkpoint (meta, message hub
with HistoryBuffers and numpy values, optimizer, schedulers) loads with torch's
default ``weights_only=True`` thanks to the allow-list."""
import copy
import os

import numpy as np
import torch
from mmengine.evaluator import BaseMetric
from mmengine.hooks import Hook
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset

from mmpanfpn.engine import register_checkpoint_safe_globals


class ToyModel(BaseModel):

    def __init__(self):
        super().__init__()
        self.linear = torch.nn.Linear(2, 1)

    def forward(self, inputs, targets, mode='tensor'):
        pred = self.linear(torch.stack(inputs))
        if mode == 'loss':
            return dict(
                loss=((pred.squeeze(1) - torch.stack(targets))**2).mean())
        return pred


class ToyData(Dataset):

    def __init__(self):
        g = torch.Generator().manual_seed(0)
        self.x = torch.randn(16, 2, generator=g)
        self.y = self.x @ torch.tensor([1.0, -2.0]) + 0.5

    def __len__(self):
        return 16

    def __getitem__(self, i):
        return dict(inputs=self.x[i], targets=self.y[i])


def _cfg(work_dir, max_iters):
    torch.manual_seed(0)  # same initial weights for every run
    return dict(
        model=ToyModel(),
        work_dir=str(work_dir),
        train_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=True, seed=0),
            batch_size=4,
            num_workers=0),
        optim_wrapper=dict(optimizer=dict(type='SGD', lr=0.1, momentum=0.9)),
        param_scheduler=dict(
            type='MultiStepLR', milestones=[3], by_epoch=False),
        train_cfg=dict(by_epoch=False, max_iters=max_iters),
        default_hooks=dict(
            checkpoint=dict(type='CheckpointHook', interval=2, by_epoch=False),
            logger=dict(type='LoggerHook', interval=1)),
        randomness=dict(seed=0, deterministic=True),
        default_scope='mmpanfpn',
        experiment_name=f'resume-{max_iters}-{work_dir.name}')


def test_resume_continues_where_it_stopped(tmp_path):
    straight = Runner(**_cfg(tmp_path / 'straight', 6))
    straight.train()
    expected = copy.deepcopy(straight.model.state_dict())

    first = Runner(**_cfg(tmp_path / 'split', 4))
    first.train()
    ckpt = tmp_path / 'split' / 'iter_4.pth'
    # the default of torch >= 2.6, as mmengine's loader calls it
    assert torch.load(ckpt, weights_only=True)['meta']['iter'] == 4

    cfg = _cfg(tmp_path / 'split', 6)
    cfg.update(resume=True, load_from=str(ckpt))
    second = Runner(**cfg)
    second.train()
    assert second.iter == 6
    for key, value in expected.items():
        torch.testing.assert_close(
            second.model.state_dict()[key], value, rtol=0, atol=0)


class ErrorMetric(BaseMetric):
    """Mean absolute error, a numpy float as real metrics give (the best-
    checkpoint hook keeps it in the message hub)."""

    default_prefix = 'toy'

    def process(self, data_batch, data_samples):
        targets = torch.stack(data_batch['targets'])
        preds = torch.cat(list(data_samples))
        self.results += (preds - targets).abs().tolist()

    def compute_metrics(self, results):
        return dict(error=np.float64(np.mean(results)))


class SaveAtStart(Hook):
    """The checkpoint of iteration 0: nothing logged yet."""

    def before_train(self, runner):
        runner.save_checkpoint(runner.work_dir, 'iter_0.pth')


def test_runner_checkpoints_load_with_weights_only(tmp_path):
    """Every checkpoint a runner writes, in every state of its message hub
    (iteration 0, mid-run before any validation, right after a validation (the
    best one), after it), loads with ``weights_only=True``; so does one whose
    hub holds an empty history buffer (its empty numpy array pickles its data
    as ``bytes()``, which was refused)."""
    register_checkpoint_safe_globals()
    cfg = _cfg(tmp_path, max_iters=4)
    cfg['default_hooks']['checkpoint'].update(
        save_best='toy/error', rule='less')
    cfg.update(
        val_dataloader=dict(
            dataset=ToyData(),
            sampler=dict(type='DefaultSampler', shuffle=False),
            batch_size=8),
        val_evaluator=[ErrorMetric()],
        val_cfg=dict(),
        custom_hooks=[SaveAtStart()])
    cfg['train_cfg'].update(val_interval=2)
    Runner(**cfg).train()
    names = sorted(n for n in os.listdir(tmp_path) if n.endswith('.pth'))
    # the best of the validations at 2 and 4, saved right after it
    assert names[1:] == ['iter_0.pth', 'iter_2.pth', 'iter_4.pth']
    assert names[0] in ('best_toy_error_iter_2.pth',
                        'best_toy_error_iter_4.pth')
    loaded = {
        name: torch.load(tmp_path / name, weights_only=True)
        for name in names
    }
    assert loaded['iter_0.pth']['meta']['iter'] == 0
    assert loaded['iter_4.pth']['meta']['iter'] == 4
    hub = loaded['iter_4.pth']['message_hub']
    assert isinstance(hub['runtime_info']['best_score'], np.float64)
    assert 'val/toy/error' in hub['log_scalars']

    # the runner's hub plus an empty buffer (MMEngine's loops start theirs
    # as HistoryBuffer()), kept for resuming as update_scalar keeps keys,
    # saved as the runner saves it
    hub = MessageHub.get_instance(f'empty-buffer-{tmp_path.name}')
    hub.load_state_dict(loaded['iter_2.pth']['message_hub'])
    hub._log_scalars['train/empty'] = HistoryBuffer()
    hub._resumed_keys['train/empty'] = True
    checkpoint = dict(loaded['iter_2.pth'], message_hub=hub.state_dict())
    torch.save(checkpoint, tmp_path / 'empty_buffer.pth')
    scalars = torch.load(
        tmp_path / 'empty_buffer.pth',
        weights_only=True)['message_hub']['log_scalars']
    assert len(scalars['train/empty'].data[0]) == 0
    assert len(scalars['train/loss'].data[0]) == 2
