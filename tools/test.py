"""Evaluate a checkpoint: PQ (and AP / mIoU where the metric reports them).

    python tools/test.py CONFIG CHECKPOINT [--work-dir DIR] [--out FILE.pkl]
        [--show-dir DIR] [--channels-last] [--cfg-options k=v ...]
        [--launcher {none,pytorch,slurm,mpi}]

CHECKPOINT may also be a ``last_checkpoint`` file written by the runner
(it holds the path of the latest checkpoint).
"""
import warnings

# setuptools' notice, raised by imports inside the OpenMMLab stack
warnings.filterwarnings('ignore', 'pkg_resources is deprecated')

import argparse
import os
import os.path as osp

from mmengine.config import DictAction
from mmengine.runner import Runner

from mmpanfpn.engine import check_checkpoint_fits
from mmpanfpn.registry import RUNNERS
from mmpanfpn.utils import register_all_modules
from mmpanfpn.utils.tool_config import init_cpu_distributed, prepare_config


def parse_args():
    parser = argparse.ArgumentParser(description='Test (and eval) a model')
    parser.add_argument(
        'config',
        help='config file, or mmpanfpn::<path> of a config the installed '
        'package carries')
    parser.add_argument('checkpoint', help='checkpoint file')
    parser.add_argument('--work-dir', help='the dir to save the metrics')
    parser.add_argument(
        '--out',
        help='also dump the predictions (panoptic maps, instances with RLE '
        'masks, semantic maps) to this .pkl file, as mmdet\'s test.py does')
    parser.add_argument(
        '--show-dir',
        help='draw GT | prediction side by side into this folder (relative '
        'to the work dir\'s timestamped folder)')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='run the model in the channels-last memory format (faster '
        'convolutions on CPU; outputs equal up to float rounding)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    parser.add_argument(
        '--launcher',
        choices=['none', 'pytorch', 'slurm', 'mpi'],
        default='none',
        help='job launcher')
    parser.add_argument('--local_rank', '--local-rank', type=int, default=0)
    args = parser.parse_args()
    if 'LOCAL_RANK' not in os.environ:
        os.environ['LOCAL_RANK'] = str(args.local_rank)
    return args


def resolve_checkpoint(path: str) -> str:
    """Follow a runner's ``last_checkpoint`` pointer file to the checkpoint."""
    if not osp.isfile(path):
        raise SystemExit(f'{path}: checkpoint not found')
    if osp.basename(path) == 'last_checkpoint':
        with open(path) as f:
            target = f.read().strip()
        if not osp.isfile(target):
            raise SystemExit(f'{path}: points to {target!r}, which does not '
                             'exist')
        return target
    return path


def main():
    args = parse_args()
    if args.out is not None and not args.out.endswith(('.pkl', '.pickle')):
        raise SystemExit(f'--out {args.out}: the dump file must end with '
                         '.pkl or .pickle')
    register_all_modules(init_default_scope=False)

    try:
        cfg = prepare_config(args.config, args.cfg_options, args.work_dir,
                             args.launcher)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    # mmengine's init_dist needs CUDA; on CPU the group is started here
    init_cpu_distributed(cfg)

    cfg.load_from = resolve_checkpoint(args.checkpoint)

    if args.show_dir:
        hooks = cfg.setdefault('default_hooks', {})
        if 'visualization' not in hooks:
            raise SystemExit(f'{args.config}: --show-dir needs a '
                             '"default_hooks.visualization" hook')
        hooks.visualization.draw = True
        hooks.visualization.test_out_dir = args.show_dir
        # mmseg's hook has no test_out_dir: ours adds it
        if hooks.visualization.get('type') in ('SegVisualizationHook',
                                               'mmseg.SegVisualizationHook'):
            hooks.visualization.type = 'mmpanfpn.SegVisualizationHook'

    if args.channels_last:
        cfg.custom_hooks = list(cfg.get(
            'custom_hooks', [])) + [dict(type='mmpanfpn.ChannelsLastHook')]

    if 'runner_type' not in cfg:
        runner = Runner.from_cfg(cfg)
    else:
        runner = RUNNERS.build(cfg)
    try:
        check_checkpoint_fits(runner.model, cfg.load_from)
    except ValueError as err:
        raise SystemExit(f'error: {err}')
    if args.out is not None:
        from mmdet.evaluation import DumpDetResults
        runner.test_evaluator.metrics.append(
            DumpDetResults(out_file_path=args.out))
    runner.test()


if __name__ == '__main__':
    main()
