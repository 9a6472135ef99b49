"""Run a Panoptic FPN or Semantic FPN model on images; write pictures and label
files.

    python demo/image_demo.py IMG_OR_DIR CONFIG [--weights CKPT]
        [--out-dir outputs] [--device cpu] [--channels-last] [--score-thr 0.6]
        [--cfg-options k=v ...]

Panoptic configs write, per image, ``<stem>_panoptic.jpg`` (a colour per
segment, thing outlines, class legend), ``<stem>.png`` (the COCO-format
panoptic PNG) and one ``panoptic.json`` for all images; Semantic FPN configs
write ``<stem>_semantic.jpg`` and ``<stem>.png`` (the label map). See
:mod:`mmpanfpn.apis.image_demo`.
"""
import warnings

# setuptools' notice, raised by imports inside the OpenMMLab stack
warnings.filterwarnings('ignore', 'pkg_resources is deprecated')

import argparse
import os
import os.path as osp

from mmengine.config import DictAction

from mmpanfpn.apis import init_model, run_image_demo

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument(
        'config',
        help='model config file, or mmpanfpn::<path> of a packaged config')
    parser.add_argument('--weights', help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--channels-last',
        action='store_true',
        help='run the model in the channels-last memory format (faster on '
        'CPU; outputs equal up to float rounding)')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=None,
        help='override test_cfg.panoptic.score_thr (panoptic configs)')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    return parser.parse_args()


def list_images(inputs: str):
    if osp.isdir(inputs):
        names = sorted(
            n for n in os.listdir(inputs)
            if n.lower().endswith(IMAGE_EXTENSIONS))
        if not names:
            raise SystemExit(f'{inputs}: no images in this folder')
        return [osp.join(inputs, n) for n in names]
    if not osp.isfile(inputs):
        raise SystemExit(f'{inputs}: no such image or folder')
    return [inputs]


def main():
    args = parse_args()
    images = list_images(args.inputs)
    cfg_options = dict(args.cfg_options or {})
    if args.score_thr is not None:
        cfg_options['model.test_cfg.panoptic.score_thr'] = args.score_thr
    try:
        model = init_model(args.config, args.weights, args.device, cfg_options,
                           args.channels_last)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    for line in run_image_demo(model, images, args.out_dir):
        print(line)
    print(f'results written to {args.out_dir}')


if __name__ == '__main__':
    main()
