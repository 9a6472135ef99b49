"""Training curve of the tiny Semantic FPN on the synthetic set.

    python benchmarks/train_curve_semantic.py [--data-root DIR]
        [--val-interval K] [--max-iters N] [--threads T] [--work-dir DIR]
        [--cfg-options k=v ...]

Trains ``configs/semantic_fpn/fpn_r18_tiny_synthetic.py`` with the MMEngine
runner, as ``tools/train.py`` does, validates every K iterations and prints
one row per validation: iteration, wall time since the start of training
(validations included), training time alone, process CPU time and the val
mIoU. CPU time / wall time shows how much of the machine the run got (2.0 =
both cores of a 2-core machine); the load average before and after is
printed too, as other jobs on a shared machine slow the run down. On a
loaded machine ``--threads 1`` is often faster than two threads that wait
for each other.
"""
import argparse
import os
import os.path as osp
import tempfile
import time

import torch
from mmengine.config import Config, DictAction
from mmengine.hooks import Hook
from mmengine.runner import Runner

from mmpanfpn.datasets.synthetic import make_synthetic_panoptic
from mmpanfpn.utils import register_all_modules

CONFIG = osp.join(
    osp.dirname(__file__), '..', 'configs', 'semantic_fpn',
    'fpn_r18_tiny_synthetic.py')


class CurveHook(Hook):
    """Record (iteration, wall, train-only, cpu, mIoU) at each validation."""

    priority = 'LOWEST'

    def __init__(self):
        self.rows = []
        self.start = self.val_start = None
        self.val_time = 0.0

    def before_train(self, runner):
        self.start = time.perf_counter()
        self.cpu_start = sum(os.times()[:2])

    def before_val_epoch(self, runner):
        self.val_start = time.perf_counter()

    def after_val_epoch(self, runner, metrics=None):
        now = time.perf_counter()
        self.val_time += now - self.val_start
        wall = now - self.start
        self.rows.append((runner.iter, wall, wall - self.val_time,
                          sum(os.times()[:2]) - self.cpu_start,
                          (metrics or {}).get('mIoU', float('nan'))))
        print(format_row(self.rows[-1]), flush=True)  # progress, live


def format_row(row):
    it, wall, train, cpu, miou = row
    return (f'| {it} | {wall:.1f} | {train:.1f} | {cpu:.1f} | '
            f'{cpu / wall:.2f} | {miou:.2f} |')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--data-root',
        default='data/synthetic',
        help='synthetic set; generated (240/40) if missing')
    parser.add_argument('--val-interval', type=int, default=50)
    parser.add_argument(
        '--max-iters',
        type=int,
        help='default: the config\'s (the schedule follows)')
    parser.add_argument(
        '--threads', type=int, help='torch CPU threads (default: torch\'s)')
    parser.add_argument('--work-dir', help='default: a temporary folder')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    register_all_modules(init_default_scope=False)
    if not osp.isdir(osp.join(args.data_root, 'semantic', 'val')):
        make_synthetic_panoptic(args.data_root, 240, 40, (128, 128), 0)

    cfg = Config.fromfile(CONFIG)
    root = osp.abspath(args.data_root) + '/'
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    if args.max_iters:
        cfg.train_cfg.max_iters = args.max_iters
        cfg.param_scheduler[-1].end = args.max_iters
        cfg.default_hooks.checkpoint.interval = args.max_iters
    cfg.train_cfg.val_interval = args.val_interval
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    cfg.work_dir = args.work_dir or tempfile.mkdtemp(prefix='semfpn_curve_')
    cfg.log_level = 'WARNING'

    load_before = os.getloadavg()
    runner = Runner.from_cfg(cfg)
    curve = CurveHook()
    runner.register_hook(curve)
    runner.train()
    load_after = os.getloadavg()

    print(f'\n{osp.basename(CONFIG)}: {cfg.train_cfg.max_iters} iterations, '
          f'batch {cfg.train_dataloader.batch_size}, '
          f'{torch.get_num_threads()} torch threads, '
          f'{os.cpu_count()} CPUs; load average (1, 5, 15 min) before '
          f'{load_before}, after {load_after}')
    print('| iteration | wall s (with val) | train s | CPU s | CPU/wall '
          '| val mIoU |')
    print('|---:|---:|---:|---:|---:|---:|')
    for row in curve.rows:
        print(format_row(row))


if __name__ == '__main__':
    main()
