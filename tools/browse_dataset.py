"""Draw the ground-truth panoptic annotations of a config's dataset.

    python tools/browse_dataset.py CONFIG [--split train|val|test]
        [--out-dir DIR] [--max-images N] [--show] [--cfg-options k=v ...]

Reads the raw annotations (image + panoptic PNG + segments), not the
augmented training samples, so what is drawn is what the files say.
"""
import warnings

# setuptools' notice, raised by imports inside the OpenMMLab stack
warnings.filterwarnings('ignore', 'pkg_resources is deprecated')

import argparse
import os
import os.path as osp

import mmcv
from mmengine.config import Config, DictAction
from mmengine.registry import init_default_scope
from mmengine.utils import ProgressBar

from mmpanfpn.datasets import read_panoptic_png
from mmpanfpn.registry import DATASETS, VISUALIZERS
from mmpanfpn.utils import register_all_modules, resolve_config


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'config', help='config file, or mmpanfpn::<path> of a packaged one')
    parser.add_argument(
        '--split', default='train', choices=['train', 'val', 'test'])
    parser.add_argument('--out-dir', default='work_dirs/browse')
    parser.add_argument('--max-images', type=int, default=8)
    parser.add_argument('--show', action='store_true')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction)
    return parser.parse_args()


def main():
    args = parse_args()
    register_all_modules(init_default_scope=False)
    try:
        cfg = Config.fromfile(resolve_config(args.config))
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    if args.cfg_options:
        cfg.merge_from_dict(args.cfg_options)
    init_default_scope(cfg.get('default_scope', 'mmpanfpn'))

    dataset_cfg = cfg[f'{args.split}_dataloader'].dataset
    dataset_cfg.pipeline = []
    dataset = DATASETS.build(dataset_cfg)
    visualizer = VISUALIZERS.build(
        dict(type='PanopticLocalVisualizer', name='browse_dataset'))
    visualizer.dataset_meta = dataset.metainfo

    os.makedirs(args.out_dir, exist_ok=True)
    count = min(args.max_images, len(dataset))
    progress = ProgressBar(count)
    for index in range(count):
        info = dataset.get_data_info(index)
        image = mmcv.imread(info['img_path'], channel_order='rgb')
        if image is None:
            raise SystemExit(f'{info["img_path"]}: image missing or corrupt')
        id_map = read_panoptic_png(info['seg_map_path'])
        drawn = visualizer.draw_panoptic(image, id_map, info['segments_info'])
        name = osp.splitext(osp.basename(info['img_path']))[0] + '.png'
        mmcv.imwrite(drawn[..., ::-1], osp.join(args.out_dir, name))
        if args.show:
            visualizer.show(drawn, win_name=name)
        progress.update()
    print(f'\n{count} pictures written to {args.out_dir}')


if __name__ == '__main__':
    main()
