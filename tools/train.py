"""Train a Panoptic FPN / Semantic FPN model with an MMEngine runner.

python tools/train.py CONFIG [--work-dir DIR] [--resume [CKPT]]     [--amp]
[--auto-scale-lr] [--cfg-options k=v ...]     [--launcher
{none,pytorch,slurm,mpi}]
"""
import warnings

# setuptools' notice, raised by imports inside the OpenMMLab stack
warnings.filterwarnings('ignore', 'pkg_resources is deprecated')

import argparse
import os
import sys

from mmengine.config import DictAction
from mmengine.runner import Runner

from mmpanfpn.engine import (check_checkpoint_fits, check_resume_checkpoint,
                             find_resume_checkpoint)
from mmpanfpn.registry import RUNNERS
from mmpanfpn.utils import register_all_modules
from mmpanfpn.utils.errors import error_message
from mmpanfpn.utils.tool_config import init_cpu_distributed, prepare_config


def parse_args():
    parser = argparse.ArgumentParser(description='Train a model')
    parser.add_argument(
        'config',
        help='config file, or mmpanfpn::<path> of a config the installed '
        'package carries')
    parser.add_argument('--work-dir', help='the dir to save logs and models')
    parser.add_argument(
        '--amp', action='store_true', help='automatic mixed precision')
    parser.add_argument(
        '--auto-scale-lr',
        action='store_true',
        help='scale the learning rate by the actual batch size')
    parser.add_argument(
        '--resume',
        nargs='?',
        type=str,
        const='auto',
        help='resume from this checkpoint, or, without a path, from the '
        'latest checkpoint in the work directory')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value (nested keys with '
        'dots, lists as key="[a,b]")')
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


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)

    try:
        cfg = prepare_config(args.config, args.cfg_options, args.work_dir,
                             args.launcher)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    # mmengine's init_dist needs CUDA; on CPU the group is started here
    init_cpu_distributed(cfg)

    if args.amp:
        cfg.optim_wrapper.type = 'AmpOptimWrapper'
        cfg.optim_wrapper.loss_scale = 'dynamic'

    if args.auto_scale_lr:
        if 'base_batch_size' not in cfg.get('auto_scale_lr', {}):
            raise SystemExit(f'{args.config}: --auto-scale-lr needs '
                             '"auto_scale_lr.base_batch_size" in the config')
        cfg.auto_scale_lr.enable = True

    if args.resume == 'auto':
        # MMEngine would trust work_dir/last_checkpoint blindly (an empty
        # one means: start from scratch); see find_resume_checkpoint
        cfg.resume = True
        cfg.load_from = find_resume_checkpoint(cfg.work_dir)
        if cfg.load_from is None:
            print(f'--resume: no checkpoint in {cfg.work_dir}, training '
                  'from scratch')
            cfg.resume = False
    elif args.resume is not None:
        cfg.resume = True
        cfg.load_from = args.resume

    if cfg.get('resume'):
        try:
            check_resume_checkpoint(cfg.load_from)
        except (FileNotFoundError, ValueError) as err:
            raise SystemExit(f'error: --resume: {err}')
    try:
        if 'runner_type' not in cfg:
            runner = Runner.from_cfg(cfg)
        else:
            runner = RUNNERS.build(cfg)
        if cfg.get('resume'):
            try:
                check_checkpoint_fits(runner.model, cfg.load_from)
            except ValueError as err:
                # the mismatched keys first, the file last
                summary, _, keys = str(err).partition('\n')
                print(keys, file=sys.stderr)
                raise SystemExit(f'error: --resume: {summary.rstrip(":")}')
        runner.train()
    except (FileNotFoundError, ValueError) as err:
        # broken data or checkpoint: the message names the file and the
        # field or id; a dataset not made yet also gets the config's recipe
        message = error_message(err)
        recipe = cfg.get('data_preparation')
        data_root = cfg.train_dataloader.dataset.get('data_root')
        if (recipe and isinstance(err, FileNotFoundError) and data_root
                and not os.path.isdir(data_root)):
            message += f' (make the data: {recipe})'
        raise SystemExit(f'error: {message}')


if __name__ == '__main__':
    main()
