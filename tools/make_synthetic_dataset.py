"""Generate the synthetic COCO-panoptic dataset used by the demo and tests.

Example::

    python tools/make_synthetic_dataset.py data/synthetic --num-train 240 \
        --num-val 40 --size 128 128 --seed 0
"""
import warnings

# setuptools' notice, raised by imports inside the OpenMMLab stack
warnings.filterwarnings('ignore', 'pkg_resources is deprecated')

import argparse

from mmpanfpn.datasets.synthetic import make_synthetic_panoptic


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('out', help='output folder')
    parser.add_argument('--num-train', type=int, default=240)
    parser.add_argument('--num-val', type=int, default=40)
    parser.add_argument(
        '--size', type=int, nargs=2, default=[128, 128], metavar=('H', 'W'))
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--stuff-only-ratio',
        type=float,
        default=0.1,
        help='fraction of images without things')
    args = parser.parse_args()
    if args.num_train < 0 or args.num_val < 0:
        parser.error('--num-train and --num-val must be >= 0')
    if min(args.size) < 32:
        parser.error('--size: each side must be at least 32 pixels')
    return args


def main():
    args = parse_args()
    make_synthetic_panoptic(args.out, args.num_train, args.num_val,
                            tuple(args.size), args.seed, args.stuff_only_ratio)
    print(f'synthetic panoptic dataset written to {args.out}')


if __name__ == '__main__':
    main()
