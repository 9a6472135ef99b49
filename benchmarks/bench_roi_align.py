"""mmpanfpn's CPU RoIAlign (mmpanfpn._ext) vs mmcv's, on Panoptic FPN's RoIs.

    python benchmarks/bench_roi_align.py [--shape H W] [--channels C]
        [--proposals N] [--detections M] [--repeats R] [--threads T]

FPN features of an H x W image (strides 4..32, C channels, random) and RoIs
of the sizes a Panoptic FPN extracts: N box-head proposals (7 x 7) and M
mask-head detections (14 x 14), with the scale spread over mmdet's level
ranges; each RoI goes to its FPN level with mmdet's ``map_roi_levels``, as
``SingleRoIExtractor`` does. Both kernels run on the same inputs, in
alternation, R times; the script checks that the outputs are equal
(``torch.equal``) and prints the median times and their ratio, per head and
in all: the forward (inference), and the backward (training: the gradient of
the features for a random output gradient, also checked equal).
"""
import argparse
import math
import statistics
import time

import torch
from mmcv.ops import roi_align as mmcv_roi_align
from mmdet.models.roi_heads.roi_extractors import SingleRoIExtractor

from mmpanfpn.ops import HAS_CPU_KERNEL, roi_align_cpu, roi_align_cpu_backward

STRIDES = (4, 8, 16, 32)


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1216])
    parser.add_argument('--channels', type=int, default=256)
    parser.add_argument('--proposals', type=int, default=1000)
    parser.add_argument('--detections', type=int, default=100)
    parser.add_argument('--repeats', type=int, default=5)
    parser.add_argument('--threads', type=int)
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


def make_rois(num: int, shape, gen: torch.Generator) -> torch.Tensor:
    """Boxes whose sqrt(area) is log-uniform in [16, 800) px (every level),
    aspect ratios log-normal, clipped to the image."""
    height, width = shape
    scale = torch.exp(
        torch.rand(num, generator=gen) * (math.log(800) - math.log(16)) +
        math.log(16))
    ratio = torch.exp(torch.randn(num, generator=gen) * 0.5)
    box_w, box_h = scale * ratio.sqrt(), scale / ratio.sqrt()
    x1 = torch.rand(num, generator=gen) * (width - 1)
    y1 = torch.rand(num, generator=gen) * (height - 1)
    return torch.stack([
        torch.zeros(num), x1, y1, (x1 + box_w).clamp(max=width),
        (y1 + box_h).clamp(max=height)
    ],
                       dim=1)


def per_level(rois: torch.Tensor) -> list:
    """mmdet's level assignment (finest_scale 56)."""
    extractor = SingleRoIExtractor(
        roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
        out_channels=1,
        featmap_strides=list(STRIDES))
    levels = extractor.map_roi_levels(rois, len(STRIDES))
    return [rois[levels == i] for i in range(len(STRIDES))]


def mmcv_backward(feature, rois, grad, scale):
    feature = feature.detach().requires_grad_(True)
    mmcv_roi_align(feature, rois, grad.shape[-1], scale, 0, 'avg',
                   True).backward(grad)
    return feature.grad


def ours_backward(feature, rois, grad, scale):
    return roi_align_cpu_backward(grad, rois, feature.shape, scale, 0, True)


def run_backward(kernel, feats, groups, grads) -> torch.Tensor:
    return torch.cat([
        kernel(feats[level], rois, grads[level], 1 / STRIDES[level]).flatten()
        for level, rois in enumerate(groups) if len(rois)
    ])


def run(kernel, feats, groups, size) -> torch.Tensor:
    outputs = []
    for level, rois in enumerate(groups):
        if len(rois):
            outputs.append(
                kernel(feats[level], rois, size, 1 / STRIDES[level]))
    return torch.cat(outputs)


def main():
    args = parse_args()
    if not HAS_CPU_KERNEL:
        raise SystemExit('mmpanfpn._ext is not built: '
                         'pip install --no-build-isolation -e .')
    if args.threads:
        torch.set_num_threads(args.threads)
    gen = torch.Generator().manual_seed(args.seed)
    height, width = args.shape
    feats = [
        torch.randn(
            1,
            args.channels,
            math.ceil(height / s),
            math.ceil(width / s),
            generator=gen) for s in STRIDES
    ]
    kernels = {
        'mmcv':
        lambda f, r, size, scale: mmcv_roi_align(f, r, size, scale, 0, 'avg',
                                                 True),
        'ours':
        lambda f, r, size, scale: roi_align_cpu(f, r,
                                                (size, size), scale, 0, True),
    }
    heads = {
        f'box head ({args.proposals} RoIs, 7x7)':
        (per_level(make_rois(args.proposals, args.shape, gen)), 7),
        f'mask head ({args.detections} RoIs, 14x14)':
        (per_level(make_rois(args.detections, args.shape, gen)), 14),
    }
    backward = {'mmcv': mmcv_backward, 'ours': ours_backward}
    grads = {
        head: [
            torch.randn(len(rois), args.channels, size, size, generator=gen)
            for rois in groups
        ]
        for head, (groups, size) in heads.items()
    }
    for head, (groups, size) in heads.items():
        with torch.no_grad():
            outputs = {
                name: run(kernel, feats, groups, size)
                for name, kernel in kernels.items()
            }
        if not torch.equal(outputs['mmcv'], outputs['ours']):
            raise SystemExit(f'{head}: outputs differ from mmcv\'s')
        outputs = {
            name: run_backward(kernel, feats, groups, grads[head])
            for name, kernel in backward.items()
        }
        if not torch.equal(outputs['mmcv'], outputs['ours']):
            raise SystemExit(f'{head}: gradients differ from mmcv\'s')

    times = {(pass_, head, name): []
             for pass_ in ('forward', 'backward') for head in heads
             for name in kernels}
    for _ in range(args.repeats):
        for head, (groups, size) in heads.items():
            for name in kernels:
                with torch.no_grad():
                    start = time.perf_counter()
                    run(kernels[name], feats, groups, size)
                    times[('forward', head,
                           name)].append(time.perf_counter() - start)
                start = time.perf_counter()
                run_backward(backward[name], feats, groups, grads[head])
                times[('backward', head,
                       name)].append(time.perf_counter() - start)

    print(f'input {height}x{width}, {args.channels} channels, '
          f'{torch.get_num_threads()} threads, median of {args.repeats}; '
          'outputs and gradients equal to mmcv\'s (torch.equal): yes')
    print(f'{"":44s}{"mmcv":>10s}{"ours":>10s}{"mmcv/ours":>11s}')
    for pass_ in ('forward', 'backward'):
        total = {'mmcv': 0.0, 'ours': 0.0}
        for head in heads:
            median = {
                name: statistics.median(times[(pass_, head, name)])
                for name in kernels
            }
            for name in kernels:
                total[name] += median[name]
            print(f'{pass_ + ", " + head:44s}{median["mmcv"] * 1e3:8.1f}ms'
                  f'{median["ours"] * 1e3:8.1f}ms'
                  f'{median["mmcv"] / median["ours"]:10.1f}x')
        print(f'{pass_ + ", both":44s}{total["mmcv"] * 1e3:8.1f}ms'
              f'{total["ours"] * 1e3:8.1f}ms'
              f'{total["mmcv"] / total["ours"]:10.1f}x')


if __name__ == '__main__':
    main()
