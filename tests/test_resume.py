"""`--resume` on torch >= 2.6: a real MMEngine checkpoint (meta, message hub
with HistoryBuffers and numpy values, optimizer, schedulers) loads with torch's
default ``weights_only=True`` thanks to the allow-list."""
import copy

import torch
from mmengine.model import BaseModel
from mmengine.runner import Runner
from torch.utils.data import Dataset


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
