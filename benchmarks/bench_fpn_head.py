"""Forward + backward time and memory of mmpanfpn's FPNHead vs mmseg's.

    python benchmarks/bench_fpn_head.py [--size H W] [--batch N]
        [--in-channels C] [--channels C] [--norm {BN,GN}] [--repeats R]
        [--device cpu|cuda]

Both heads get the same weights (mmseg's state_dict loaded into ours) and the
same FPN features (4 levels at strides 4..32 of an H x W input). The heads are
timed in alternation, so that load from other jobs on a shared machine hits
both alike; the median over the repeats is printed. Memory of one forward +
backward: on CUDA the peak allocated; on CPU (no allocator statistics) the
growth of the peak resident set (Linux, least of 3 runs) and the bytes of the
tensors autograd saves for backward.
"""
import argparse
import ctypes
import statistics
import sys
import time

import torch
from mmengine.registry import DefaultScope
from mmseg.models.decode_heads import FPNHead as MMSegFPNHead

from mmpanfpn.models.fpn_head import FPNHead
from mmpanfpn.testing import PeakMemory


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--size', type=int, nargs=2, default=[512, 512], metavar=('H', 'W'))
    parser.add_argument('--batch', type=int, default=2)
    parser.add_argument('--in-channels', type=int, default=256)
    parser.add_argument('--channels', type=int, default=128)
    parser.add_argument('--num-classes', type=int, default=19)
    parser.add_argument('--norm', choices=['BN', 'GN'], default='BN')
    parser.add_argument('--repeats', type=int, default=10)
    parser.add_argument('--device', default='cpu')
    return parser.parse_args()


def saved_for_backward_bytes(head, feats):
    """Bytes of the distinct tensors autograd saves in one forward."""
    storages = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        head(feats).sum().backward()
    return sum(storages.values())


def map_large_allocations():
    """Have glibc give every block >= 64 KiB back to the system when it is
    freed (a fixed mmap threshold), so that the resident set follows the live
    tensors instead of what the heap keeps from earlier steps."""
    m_mmap_threshold = -3
    ctypes.CDLL('libc.so.6').mallopt(m_mmap_threshold, 64 * 1024)


def peak_bytes(head, feats, device):
    """Peak memory of one forward + backward, see the module docstring."""
    head.zero_grad(set_to_none=False)  # gradients allocated beforehand
    peaks = []
    for _ in range(1 if device.type == 'cuda' else 3):
        with PeakMemory(device) as peak:
            head(feats).sum().backward()
        peaks.append(peak.bytes)
    return min(peaks)


def step_seconds(head, feats, device):
    head.zero_grad(set_to_none=True)
    if device.type == 'cuda':
        torch.cuda.synchronize()
    start = time.perf_counter()
    head(feats).sum().backward()
    if device.type == 'cuda':
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main():
    args = parse_args()
    device = torch.device(args.device)
    if device.type == 'cpu' and sys.platform == 'linux':
        map_large_allocations()
    norm_cfg = dict(type=args.norm, requires_grad=True)
    if args.norm == 'GN':
        norm_cfg['num_groups'] = 32
    kwargs = dict(
        in_channels=[args.in_channels] * 4,
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=args.channels,
        num_classes=args.num_classes,
        dropout_ratio=0.0,  # no randomness: both heads compute the same
        norm_cfg=norm_cfg)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        heads = dict(mmseg=MMSegFPNHead(**kwargs), mmpanfpn=FPNHead(**kwargs))
    heads['mmpanfpn'].load_state_dict(heads['mmseg'].state_dict())
    for head in heads.values():
        head.to(device).train()

    h, w = args.size
    feats = [
        torch.randn(
            args.batch, args.in_channels, h // s, w // s, device=device)
        for s in (4, 8, 16, 32)
    ]
    with torch.no_grad():  # same outputs (BN in train mode: batch stats)
        diff = (heads['mmseg'](feats) - heads['mmpanfpn'](feats)).abs().max()

    memory = {
        name: peak_bytes(head, feats, device)
        for name, head in heads.items()
    }
    saved = {
        name: saved_for_backward_bytes(head, feats)
        for name, head in heads.items()
    }
    times = {name: [] for name in heads}
    for _ in range(2):  # warm-up
        for name, head in heads.items():
            step_seconds(head, feats, device)
    for _ in range(args.repeats):
        for name, head in heads.items():
            times[name].append(step_seconds(head, feats, device))

    print(f'FPNHead forward + backward, {device}, '
          f'{torch.get_num_threads()} threads: batch {args.batch}, input '
          f'{h}x{w}, {args.in_channels} -> {args.channels} channels, '
          f'{args.norm}, {args.repeats} repeats; max |logit diff| '
          f'{diff.item():.2e}')
    peak_kind = 'CUDA peak' if device.type == 'cuda' else 'peak RSS growth'
    print(f'| head | median ms | min ms | {peak_kind} MiB '
          '| saved for backward MiB |')
    print('|---|---:|---:|---:|---:|')
    for name in heads:
        print(f'| {name} | {1e3 * statistics.median(times[name]):.1f} | '
              f'{1e3 * min(times[name]):.1f} | '
              f'{memory[name] / 2**20:.1f} | {saved[name] / 2**20:.1f} |')
    ratio_time = (
        statistics.median(times['mmpanfpn']) /
        statistics.median(times['mmseg']))
    ratio_mem = memory['mmpanfpn'] / memory['mmseg']
    print(f'ratio mmpanfpn / mmseg: time {ratio_time:.3f}, '
          f'memory {ratio_mem:.3f}')


if __name__ == '__main__':
    main()
