"""Learning curve of a tiny panoptic model on the synthetic set (CPU).

Trains ``--config`` (default
``configs/panoptic_fpn/panoptic-fpn_tiny_synthetic.py``; e.g.
``configs/panoptic_fcn/panoptic-fcn_tiny_synthetic.py``) with
``tools/train.py``, evaluating every ``--val-interval`` iterations, and
prints one row per evaluation: iteration, training seconds so far (from
the logged iteration times), PQ / PQ_th / PQ_st, segm AP and mIoU. The
figures in README come from this script.

    python benchmarks/train_curve_panoptic.py [--config CONFIG]
        [--data data/synthetic] [--work-dir work_dirs/curve]
        [--max-iters 300] [--val-interval 50]

``--max-iters`` overrides only the loop's length, not the config's
learning-rate schedule; leave it out to train the config as it is.
"""
import argparse
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import time

ROOT = osp.join(osp.dirname(osp.abspath(__file__)), '..')
CONFIG = osp.join(ROOT, 'configs', 'panoptic_fpn',
                  'panoptic-fpn_tiny_synthetic.py')


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--config', default=CONFIG)
    parser.add_argument('--data', default='data/synthetic')
    parser.add_argument('--work-dir', default='work_dirs/curve')
    parser.add_argument(
        '--max-iters',
        type=int,
        default=None,
        help='default: the config\'s train_cfg.max_iters')
    parser.add_argument('--val-interval', type=int, default=50)
    parser.add_argument(
        '--no-train',
        action='store_true',
        help='only print the table of the last run in '
        '--work-dir (same --max-iters / --val-interval)')
    args = parser.parse_args()
    if args.max_iters is None:
        from mmengine.config import Config
        args.max_iters = Config.fromfile(args.config).train_cfg.max_iters

    total = float('nan') if args.no_train else train(args)
    report(args, total)


def train(args) -> float:
    if not osp.isdir(args.data):
        subprocess.run([
            sys.executable,
            osp.join(ROOT, 'tools', 'make_synthetic_dataset.py'), args.data
        ],
                       check=True)
    data_root = args.data.rstrip('/') + '/'
    start = time.time()
    subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'),
        args.config,
        '--work-dir',
        args.work_dir,
        '--cfg-options',
        f'train_cfg.max_iters={args.max_iters}',
        f'train_cfg.val_interval={args.val_interval}',
        f'train_dataloader.dataset.data_root={data_root}',
        f'val_dataloader.dataset.data_root={data_root}',
        f'test_dataloader.dataset.data_root={data_root}',
        f'val_evaluator.ann_file={data_root}annotations/panoptic_val.json',
        f'val_evaluator.seg_prefix={data_root}annotations/panoptic_val/',
    ],
                   check=True)
    return time.time() - start


def report(args, total: float) -> None:
    logs = sorted(
        glob.glob(osp.join(args.work_dir, '*', 'vis_data', 'scalars.json')),
        key=os.path.getmtime)
    with open(logs[-1]) as f:
        records = [json.loads(line) for line in f]
    # validation records carry step 0: the k-th one ran after iteration
    # min(k * val_interval, max_iters). Training seconds are summed from the
    # logged iteration times (each the mean over its logging window; the
    # last window's mean for iterations not logged yet).
    rows, logged, train_s, last_time, iter_times = [], 0, 0.0, 0.0, []
    for record in records:
        if 'loss' in record:
            train_s += record['time'] * (record['step'] - logged)
            logged, last_time = record['step'], record['time']
            iter_times.append(record['time'])
        elif 'coco_panoptic/PQ' in record:
            step = min((len(rows) + 1) * args.val_interval, args.max_iters)
            rows.append(
                dict(
                    record,
                    step=step,
                    train_s=train_s + last_time * (step - logged)))
    wall = '' if total != total else f', {total:.0f} s wall in all ' \
        '(training + evaluations)'
    name = osp.splitext(osp.basename(args.config))[0]
    print(f'\n{name}, {args.max_iters} iterations{wall}')
    print('iter | train s |     PQ |  PQ_th |  PQ_st | segm mAP |   mIoU')
    for r in rows:
        print(f"{r['step']:4d} | {r['train_s']:7.0f} | "
              f"{r['coco_panoptic/PQ']:6.2f} | "
              f"{r['coco_panoptic/PQ_th']:6.2f} | "
              f"{r['coco_panoptic/PQ_st']:6.2f} | "
              f"{r.get('coco/segm_mAP', float('nan')):8.3f} | "
              f"{r.get('sem_seg/mIoU', float('nan')):6.2f}")
    if iter_times:
        print(f'mean logged iteration time: '
              f'{sum(iter_times) / len(iter_times):.2f} s')


if __name__ == '__main__':
    main()
