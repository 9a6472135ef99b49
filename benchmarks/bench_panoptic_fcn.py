"""Speed and memory of Panoptic FCN on the CPU, beside our Panoptic FPN on the
same images, in one run.

    python benchmarks/bench_panoptic_fcn.py \\
        [--shape 800 1216] [--ori-shape H W] [--rounds 2] [--warmup 1] \\
        [--batch 4] [--batch-rounds 1] \\
        [--threads T] [--skip-dcn] [--channels-last] [--train-config CFG]

Models (random weights, no download): the R50 Panoptic FCN without
deformable convs (``panoptic-fcn_r50_fpn_no-dcn_1x_coco.py``), the official
R50 one with the deformable position head (``panoptic-fcn_r50_fpn_1x_coco``)
and our R50 Panoptic FPN (``panoptic-fpn_r50_fpn_1x_coco.py``, weights spread
by ``mmpanfpn.testing.randomise_weights``). Every round runs each model once
per image (after ``--warmup`` images), alternating models, so that a
machine whose load drifts slows all of them alike; the table gives medians.

Panoptic FCN's stages: backbone + FPN, encoder, heads (position and kernel
heads on all levels), kernel generation and fusion (peaks, stuff regions,
embeds, fusion), mask generation (dynamic convs, rescoring, resizing, stuff
argmax) and the panoptic assembly. Post-processing is everything after the
heads. Peak memory is the growth of the process's peak resident set over an
inference. ``--batch N`` compares one call on N images with N calls on one
(the outputs are checked equal); ``--train-config`` times a training step of
that config (the tiny one by default) on a synthetic batch. ``--channels-last``
runs all models in that memory format (``set_channels_last``).
"""
import argparse
import os
import os.path as osp
import statistics
import time
from collections import defaultdict

import numpy as np
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
FCN = osp.join(ROOT, 'configs', 'panoptic_fcn', 'panoptic-fcn_r50_fpn_{}.py')
FPN = osp.join(ROOT, 'configs', 'panoptic_fpn',
               'panoptic-fpn_r50_fpn_1x_coco.py')
TINY = osp.join(ROOT, 'configs', 'panoptic_fcn',
                'panoptic-fcn_tiny_synthetic.py')
FCN_STAGES = ('backbone + FPN', 'encoder', 'heads', 'kernels + fusion',
              'mask generation', 'panoptic assembly')
KERNEL_FUNCTIONS = ('thing_peaks', 'stuff_regions', 'fuse_thing_kernels',
                    'average_stuff_kernels')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--shape', type=int, nargs=2, default=[800, 1216])
    parser.add_argument(
        '--ori-shape',
        type=int,
        nargs=2,
        help='predict at this size, as for images resized from it to '
        '--shape (default: --shape, no rescaling)')
    parser.add_argument('--rounds', type=int, default=2)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument('--batch', type=int, default=4)
    parser.add_argument(
        '--batch-rounds',
        type=int,
        default=1,
        help='rounds that also compare a batch with single calls')
    parser.add_argument('--threads', type=int)
    parser.add_argument('--skip-dcn', action='store_true')
    parser.add_argument('--channels-last', action='store_true')
    parser.add_argument(
        '--configs',
        nargs=3,
        metavar=('FCN', 'FCN_DCN', 'FPN'),
        default=[FCN.format('no-dcn_1x_coco'),
                 FCN.format('1x_coco'), FPN],
        help='the three models (default: the R50 ones above)')
    parser.add_argument('--train-config', default=TINY)
    parser.add_argument('--train-iters', type=int, default=3)
    parser.add_argument(
        '--count-macs',
        action='store_true',
        help='only count each model\'s multiply-adds per part (convs and '
        'linear layers, one image) and exit')
    return parser.parse_args()


def build(config: str):
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmpanfpn.registry import MODELS
    cfg = Config.fromfile(config).model
    cfg.backbone.init_cfg = None
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpanfpn'):
        model = MODELS.build(cfg)
    model.init_weights()
    if cfg.type == 'PanopticFPN':
        from mmpanfpn.testing import randomise_weights
        randomise_weights(model, 0, box_logit_std=0.005)
    return model.eval()


def images(shape, num, seed=0, ori_shape=None):
    """Smooth random uint8 images (blobs) with their data samples; predicted at
    ``ori_shape`` (default: ``shape``), as for images resized from it."""
    from mmdet.structures import DetDataSample
    gen = torch.Generator().manual_seed(seed)
    ori_shape = tuple(ori_shape or shape)
    out = []
    for _ in range(num):
        low = torch.rand((1, 3, shape[0] // 16, shape[1] // 16), generator=gen)
        image = torch.nn.functional.interpolate(
            low, size=tuple(shape), mode='bilinear', align_corners=False)[0]
        meta = dict(
            img_shape=tuple(shape),
            ori_shape=ori_shape,
            scale_factor=(shape[1] / ori_shape[1], shape[0] / ori_shape[0]))
        out.append(
            ((image * 255).to(torch.uint8), DetDataSample(metainfo=meta)))
    return out


class Timer:
    """Seconds spent in wrapped callables, per stage."""

    def __init__(self):
        self.seconds = defaultdict(float)

    def wrap(self, owner, name, stage, module_function=False):
        method = getattr(owner, name)

        def timed(*args, **kwargs):
            start = time.perf_counter()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[stage] += time.perf_counter() - start

        if module_function:
            setattr(owner, name, timed)
        else:
            object.__setattr__(owner, name, timed)


def instrument_fcn(model, timer):
    from mmpanfpn.models import panoptic_fcn as module
    timer.wrap(model, 'extract_feat', FCN_STAGES[0])
    timer.wrap(model.encoder, 'forward', FCN_STAGES[1])
    timer.wrap(model, '_heads', FCN_STAGES[2])
    for embed in (model.thing_embed, model.stuff_embed):
        timer.wrap(embed, 'forward', FCN_STAGES[3])
    # module functions: wrapped once, for every model (one shared timer)
    if not getattr(module, '_stages_timed', False):
        for name in KERNEL_FUNCTIONS:
            timer.wrap(module, name, FCN_STAGES[3], module_function=True)
        timer.wrap(module, 'assemble_panoptic', FCN_STAGES[5], True)
        module._stages_timed = True


def infer(model, items, timer=None):
    """One ``predict`` call on ``items``; (seconds, peak MiB, outputs)."""
    import copy

    from mmpanfpn.testing import PeakMemory
    batch = model.data_preprocessor(
        dict(
            inputs=[image for image, _ in items],
            data_samples=[copy.deepcopy(s) for _, s in items]), False)
    if timer is not None:
        timer.seconds.clear()
    with torch.no_grad(), PeakMemory('cpu') as memory:
        start = time.perf_counter()
        out = model.predict(batch['inputs'], batch['data_samples'])
        total = time.perf_counter() - start
    return total, memory.mib, out


def count_macs(model, item) -> dict:
    """Multiply-adds of the convolutions (deformable ones included) and linear
    layers in one inference, per top-level part, in GMAC."""
    macs = defaultdict(float)

    def hook(part):

        def count(module, inputs, output):
            # a transposed conv's weight is (in, out, kh, kw): one
            # multiply-add per input element and weight[0] entry
            per = inputs[0] if isinstance(module,
                                          torch.nn.ConvTranspose2d) else output
            macs[part] += per.numel() * module.weight[0].numel() / 1e9

        return count

    handles = []
    for name, module in model.named_modules():
        weight = getattr(module, 'weight', None)
        if isinstance(weight, torch.nn.Parameter) and weight.dim() in (
                2, 4) and not list(module.children()) or hasattr(
                    module, 'conv_offset'):
            handles.append(
                module.register_forward_hook(hook(name.split('.')[0])))
    infer(model, [item])
    for handle in handles:
        handle.remove()
    return dict(macs)


def same_outputs(a, b) -> bool:
    return (
        torch.equal(a.pred_panoptic_seg.sem_seg, b.pred_panoptic_seg.sem_seg)
        and torch.equal(a.pred_instances.masks, b.pred_instances.masks)
        and torch.allclose(a.pred_instances.scores, b.pred_instances.scores))


def train_step_ms(config: str, iters: int) -> float:
    """Median time of a training step (forward, backward, SGD with lr 0) on a
    batch of two synthetic 128x128 images: stuff bands and square things."""
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData, PixelData
    model = build(config)
    things, stuff = model.num_things_classes, model.num_stuff_classes
    rng = np.random.default_rng(0)
    inputs, samples = [], []
    for image, sample in images((128, 128), 2, seed=1):
        sem = np.repeat(
            rng.integers(things, things + stuff, size=(4, 1)), 32, 0)
        sem = np.broadcast_to(sem, (128, 128)).copy()
        masks, boxes, labels = [], [], []
        for _ in range(4):
            y, x, size = *rng.integers(0, 96, 2), int(rng.integers(12, 32))
            mask = np.zeros((128, 128), np.uint8)
            mask[y:y + size, x:x + size] = 1
            sem[mask > 0] = label = int(rng.integers(0, things))
            masks.append(mask)
            boxes.append([x, y, min(x + size, 128), min(y + size, 128)])
            labels.append(label)
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            labels=torch.tensor(labels),
            masks=BitmapMasks(np.stack(masks), 128, 128))
        sample.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(sem)[None])
        inputs.append(image)
        samples.append(sample)
    batch = model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), True)
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    times = []
    for _ in range(iters + 1):
        start = time.perf_counter()
        loss, _ = model.parse_losses(
            model.loss(batch['inputs'], batch['data_samples']))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        times.append(time.perf_counter() - start)
    return 1000 * statistics.median(times[1:])


def main():
    args = parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    from mmpanfpn.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    import logging
    import warnings

    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    warnings.filterwarnings('ignore')

    configs = {'FCN no-DCN': args.configs[0]}
    if not args.skip_dcn:
        configs['FCN DCN'] = args.configs[1]
    configs['Panoptic FPN'] = args.configs[2]
    models = {name: build(cfg) for name, cfg in configs.items()}
    if args.channels_last:
        from mmpanfpn.engine.hooks import set_channels_last
        for model in models.values():
            set_channels_last(model)
    data = images(
        args.shape, max(args.batch, 1 + args.warmup), ori_shape=args.ori_shape)
    if args.count_macs:
        for name, model in models.items():
            macs = count_macs(model, data[0])
            print(f'{name}: {sum(macs.values()):.0f} GMAC: ' +
                  ', '.join(f'{part} {value:.1f}'
                            for part, value in macs.items()))
        return
    timer = Timer()  # shared: the models run one at a time
    timers = {name: timer for name in models if name.startswith('FCN')}
    for name, timer in timers.items():
        instrument_fcn(models[name], timer)
    for name, model in models.items():  # warm-up
        for item in data[:args.warmup]:
            infer(model, [item])

    totals, memory = defaultdict(list), defaultdict(list)
    stages = defaultdict(lambda: defaultdict(list))
    counts = {}
    singles, batched = defaultdict(list), defaultdict(list)
    for round_ in range(args.rounds):
        for name, model in models.items():
            timer = timers.get(name)
            seconds, mib, out = infer(model, data[:1], timer)
            totals[name].append(seconds)
            memory[name].append(mib)
            counts[name] = (len(out[0].pred_instances),
                            len(out[0].pred_panoptic_seg.segments_info)
                            if 'segments_info' in out[0].pred_panoptic_seg else
                            None)
            if timer is not None:
                s = timer.seconds
                for stage in FCN_STAGES[:3] + FCN_STAGES[5:]:
                    stages[name][stage].append(s[stage])
                stages[name][FCN_STAGES[3]].append(s[FCN_STAGES[3]])
                stages[name][FCN_STAGES[4]].append(seconds - sum(
                    s[k] for k in FCN_STAGES if k != FCN_STAGES[4]))
            print(f'round {round_ + 1} {name}: {seconds:.2f} s', flush=True)
        if args.batch > 1 and round_ < args.batch_rounds:
            model = models['FCN no-DCN']
            one = [infer(model, [item]) for item in data[:args.batch]]
            many = infer(model, data[:args.batch])
            singles['time'].append(sum(t for t, _, _ in one))
            batched['time'].append(many[0])
            batched['memory'].append(many[1])
            batched['same'].append(
                all(same_outputs(a[2][0], b) for a, b in zip(one, many[2])))
            print(
                f'round {round_ + 1} batch of {args.batch}: '
                f'{many[0]:.2f} s vs {singles["time"][-1]:.2f} s',
                flush=True)
    train_ms = train_step_ms(args.train_config, args.train_iters) \
        if args.train_config else None

    ms = lambda values: 1000 * statistics.median(values)  # noqa: E731
    rescale = f', predicted at {args.ori_shape[0]}x{args.ori_shape[1]}' \
        if args.ori_shape else ''
    print(f'\ninput {args.shape[0]}x{args.shape[1]} (random){rescale}, '
          f'{args.rounds} round(s) after {args.warmup} warm-up, '
          f'{"channels last, " if args.channels_last else ""}threads '
          f'{torch.get_num_threads()}, load average '
          f'{os.getloadavg()[0]:.2f} (on {os.cpu_count()} CPUs)')
    print('instances / segments per image: ' +
          ', '.join(f'{n} {c[0]} / {c[1]}' for n, c in counts.items()))
    names = list(models)
    print(f'\n{"":24s}' + ''.join(f'{n:>14s}' for n in names))
    for stage in FCN_STAGES:
        print(f'{stage:24s}' + ''.join(
            f'{ms(stages[n][stage]):>12.0f}ms' if n in stages else f'{"":>14s}'
            for n in names))
    post = {
        n: ms([
            sum(stages[n][s][i] for s in FCN_STAGES[3:])
            for i in range(args.rounds)
        ])
        for n in stages
    }
    print(f'{"post-processing":24s}' +
          ''.join(f'{post[n]:>12.0f}ms' if n in post else f'{"":>14s}'
                  for n in names))
    print(f'{"end to end":24s}' + ''.join(f'{ms(totals[n]):>12.0f}ms'
                                          for n in names))
    print(f'{"peak memory":24s}' + ''.join(f'{max(memory[n]):>12.0f}Mi'
                                           for n in names))

    end = {n: ms(totals[n]) for n in names}
    ratios = [('post-processing share of end to end (no-DCN)',
               post['FCN no-DCN'] / end['FCN no-DCN'], '<= 0.15',
               post['FCN no-DCN'] / end['FCN no-DCN'] <= 0.15),
              ('Panoptic FPN / FCN no-DCN end to end',
               end['Panoptic FPN'] / end['FCN no-DCN'], '>= 1.00',
               end['Panoptic FPN'] >= end['FCN no-DCN'])]
    if 'FCN DCN' in end:
        ratios.append(('FCN DCN / FCN no-DCN end to end',
                       end['FCN DCN'] / end['FCN no-DCN'], '(reported)', None))
    if batched:
        ratios.append(
            (f'throughput, batch of {args.batch} / {args.batch} single calls',
             statistics.median(singles['time']) /
             statistics.median(batched['time']), '>= 1.30',
             statistics.median(singles['time']) /
             statistics.median(batched['time']) >= 1.3))
    print()
    for name, value, target, met in ratios:
        verdict = '' if met is None else ('met' if met else 'NOT met')
        print(f'{name:58s}{value:6.2f}  {target:10s} {verdict}')
    if batched:
        print(f'batched outputs equal to single-image ones: '
              f'{all(batched["same"])}; batch peak memory '
              f'{max(batched["memory"]):.0f} MiB')
    if train_ms is not None:
        print(f'training step, {osp.basename(args.train_config)}, 2 images '
              f'128x128: {train_ms:.0f} ms')


if __name__ == '__main__':
    main()
