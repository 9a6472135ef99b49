"""Speed and memory of Panoptic FPN, optionally against mmdet's PanopticFPN on
the same weights and inputs, in one run.

    python benchmarks/bench_model.py CONFIG [CHECKPOINT] \\
        [--vs-mmdet] [--shape H W] [--num-images N] [--warmup K] \\
        [--train-step] [--score-thr T] [--images DIR] [--threads T]

Inference runs on N images (random smooth images of ``--shape``, or the first
N of ``--images DIR`` resized to fit ``--shape`` like the test pipeline), one
at a time, after K warm-up images. The table gives the median latency of each
stage: backbone + FPN, RPN, RoI (box and mask heads, box NMS included),
semantic head (the network at 1/4 scale), and post-processing, which is
everything else (mask paste, semantic upsample + argmax, fusion). On the CPU
our RoI features come from ``mmpanfpn._ext``'s RoIAlign (mmcv's results, on
all cores; the report says which kernel ran). Peak memory
is the largest increase of the process's peak resident set (CPU; the kernel's
``VmHWM``, reset before every image) or of ``torch.cuda.max_memory_allocated``
(CUDA) over an inference.

``--vs-mmdet`` builds mmdet's PanopticFPN from ``--mmdet-config`` with our
class counts and test settings, loads the same state dict (strict: the
architectures must match), runs it on the same inputs, checks that the
panoptic maps are identical (category per pixel, and the same segments up to
their numbering) and prints mmdet/ours ratios. mmdet filters instances in its
RoI head, so its ``rcnn.score_thr`` is set to our ``panoptic.score_thr``.
Every model runs in a fresh process (spawned), so that neither one's
allocations count in the other's peak; ``--rounds R`` alternates the two
R times, to average out a machine whose load drifts.

Without a checkpoint the weights are random (no download: the backbone's
``init_cfg`` is dropped), with norm statistics and the box and semantic
classifiers spread by ``mmpanfpn.testing.randomise_weights``, as in
``tests/test_parity_mmdet.py`` (top box scores about 0.4 to 0.8). The knob
that sets the number of detections is ``--score-thr T``: it sets our
``rcnn.score_thr`` and ``panoptic.score_thr`` and mmdet's
``rcnn.score_thr`` all to T (the configs' own thresholds
otherwise); with random weights, T=0.3 leaves about a thousand boxes before
NMS and gives every image ``max_per_img`` (100) detections, all of which
enter the fusion.

``--train-step`` also times a training step (forward, backward, SGD update
with lr 0 so that every step is the same) on a batch of ``--train-batch``
images of ``--shape`` with synthetic ground truth (boxes, masks, stuff map).
"""
import argparse
import concurrent.futures
import copy
import logging
import multiprocessing
import os
import os.path as osp
import statistics
import tempfile
import time
import warnings
from collections import defaultdict
from typing import Dict, List, Optional, Tuple

import numpy as np
import torch

from mmpanfpn.testing import PeakMemory

MMDET_CONFIG = 'mmdet::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py'
STAGES = ('backbone + FPN', 'RPN', 'RoI (bbox + mask heads)', 'semantic head',
          'post-processing')
IMAGE_SUFFIXES = ('.jpg', '.jpeg', '.png', '.bmp')


def parse_args():
    parser = argparse.ArgumentParser(
        description='Panoptic FPN speed and memory (vs mmdet)')
    parser.add_argument('config', help='our config file, or mmpanfpn::<path>')
    parser.add_argument('checkpoint', nargs='?', help='weights (optional)')
    parser.add_argument(
        '--vs-mmdet',
        action='store_true',
        help='also run mmdet\'s PanopticFPN on the same '
        'weights and inputs and print the ratios')
    parser.add_argument(
        '--mmdet-config',
        default=MMDET_CONFIG,
        help='the equivalent mmdet config, or "mirror": '
        'mmdet\'s R50 Panoptic FPN given our backbone, neck, '
        'RPN, RoI and semantic-head settings (for configs '
        'the mmdet zoo lacks, e.g. the tiny synthetic one)')
    parser.add_argument(
        '--shape',
        type=int,
        nargs=2,
        default=[800, 1216],
        metavar=('H', 'W'),
        help='input size')
    parser.add_argument(
        '--images',
        help='folder of images instead of random '
        'ones; each is resized to fit --shape')
    parser.add_argument('--num-images', type=int, default=3)
    parser.add_argument('--warmup', type=int, default=1)
    parser.add_argument(
        '--rounds',
        type=int,
        default=1,
        help='runs of each model, alternating')
    parser.add_argument(
        '--score-thr',
        type=float,
        help='instance score threshold of both models (see '
        'the module doc)')
    parser.add_argument('--train-step', action='store_true')
    parser.add_argument('--train-batch', type=int, default=1)
    parser.add_argument('--train-iters', type=int, default=2)
    parser.add_argument(
        '--threads', type=int, help='torch threads (default: torch\'s)')
    parser.add_argument('--device', default='cpu')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args()


# ------------------------------------------------------------- configs


def quiet() -> None:
    """No weight-init report, no config warnings: the table is the output."""
    from mmengine.logging import MMLogger
    MMLogger.get_current_instance().setLevel(logging.WARNING)
    warnings.filterwarnings('ignore', category=UserWarning)


def _mmdet_config_path(name: str) -> str:
    if name.startswith('mmdet::'):
        import mmdet
        return osp.join(
            osp.dirname(mmdet.__file__), '.mim', 'configs',
            name[len('mmdet::'):])
    return name


def our_model_cfg(config: str, score_thr: Optional[float]):
    from mmengine.config import Config

    from mmpanfpn.utils import resolve_config
    model = Config.fromfile(resolve_config(config)).model
    model.backbone.init_cfg = None
    if score_thr is not None:
        model.test_cfg.rcnn.score_thr = score_thr
        model.test_cfg.panoptic.score_thr = score_thr
    return model


def _drop_scope(cfg):
    """A config without ``_scope_`` keys (ours are 'mmpanfpn')."""
    if isinstance(cfg, dict):
        return type(cfg)(
            {k: _drop_scope(v)
             for k, v in cfg.items() if k != '_scope_'})
    if isinstance(cfg, (list, tuple)):
        return type(cfg)(_drop_scope(v) for v in cfg)
    return cfg


def mmdet_model_cfg(mmdet_config: str, ours):
    """mmdet's model config with our class counts and test settings."""
    from mmengine.config import Config
    mirror = mmdet_config == 'mirror'
    model = Config.fromfile(
        _mmdet_config_path(MMDET_CONFIG if mirror else mmdet_config)).model
    if mirror:
        # the parts mmdet's PanopticFPN shares with ours, as we configure
        # them (same module types and keys: mmdet's own)
        for key in ('data_preprocessor', 'backbone', 'neck', 'rpn_head',
                    'roi_head', 'train_cfg'):
            model[key] = _drop_scope(copy.deepcopy(ours[key]))
        for key in ('in_channels', 'inner_channels', 'start_level',
                    'end_level', 'norm_cfg', 'conv_cfg'):
            if key in ours.semantic_head:
                model.semantic_head[key] = copy.deepcopy(
                    ours.semantic_head[key])
    model.backbone.init_cfg = None
    num_things = ours.panoptic_fusion_head.num_things_classes
    num_stuff = ours.panoptic_fusion_head.num_stuff_classes
    model.roi_head.bbox_head.num_classes = num_things
    model.roi_head.mask_head.num_classes = num_things
    for head in (model.semantic_head, model.panoptic_fusion_head):
        head.update(num_things_classes=num_things, num_stuff_classes=num_stuff)
    model.test_cfg.rpn = copy.deepcopy(ours.test_cfg.rpn)
    model.test_cfg.rcnn = copy.deepcopy(ours.test_cfg.rcnn)
    panoptic = ours.test_cfg.panoptic
    # mmdet keeps, in the RoI head, what our fusion keeps
    model.test_cfg.rcnn.score_thr = panoptic.get('score_thr', 0.6)
    model.test_cfg.panoptic = dict(
        mask_overlap=panoptic.get('mask_overlap', 0.5),
        stuff_area_limit=panoptic.get('stuff_area_limit', 4096))
    return model


def build(kind: str, model_cfg, device: str) -> torch.nn.Module:
    from mmengine.registry import DefaultScope
    if kind == 'mmdet':
        from mmdet.registry import MODELS
        with DefaultScope.overwrite_default_scope('mmdet'):
            model = MODELS.build(model_cfg)
    else:
        from mmpanfpn.registry import MODELS
        model = MODELS.build(model_cfg)
    return model.to(device)


# -------------------------------------------------------------- inputs


def random_images(shape: Tuple[int, int], num: int, seed: int) -> List[dict]:
    """Smooth random images (blobs, not white noise), uint8 (3, H, W)."""
    gen = torch.Generator().manual_seed(seed)
    height, width = shape
    images = []
    for _ in range(num):
        low = torch.rand((1, 3, height // 16, width // 16), generator=gen)
        image = torch.nn.functional.interpolate(
            low, size=(height, width), mode='bilinear', align_corners=False)[0]
        images.append(
            dict(
                image=(image * 255).to(torch.uint8),
                metainfo=dict(
                    img_shape=(height, width),
                    ori_shape=(height, width),
                    scale_factor=(1.0, 1.0))))
    return images


def folder_images(folder: str, shape: Tuple[int, int], num: int) -> List[dict]:
    """The first ``num`` images of a folder, resized (keeping the aspect ratio)
    to fit ``shape`` as (long side, short side), as mmdet's
    ``Resize(scale=(1333, 800), keep_ratio=True)`` does."""
    import mmcv
    names = sorted(
        n for n in os.listdir(folder)
        if n.lower().endswith(IMAGE_SUFFIXES))[:num]
    if len(names) < num:
        raise ValueError(f'{folder}: {len(names)} images, {num} asked for')
    images = []
    for name in names:
        original = mmcv.imread(osp.join(folder, name))  # BGR
        resized = mmcv.imrescale(original, (max(shape), min(shape)))
        h_scale = resized.shape[0] / original.shape[0]
        w_scale = resized.shape[1] / original.shape[1]
        images.append(
            dict(
                image=torch.from_numpy(resized).permute(2, 0, 1).contiguous(),
                metainfo=dict(
                    img_shape=resized.shape[:2],
                    ori_shape=original.shape[:2],
                    scale_factor=(w_scale, h_scale))))
    return images


def synthetic_train_batch(shape, batch: int, num_things: int, num_stuff: int,
                          seed: int) -> List[dict]:
    """Images with ground truth: blocky stuff regions under ten elliptic thing
    instances, a little void."""
    from mmdet.structures.mask import BitmapMasks
    rng = np.random.default_rng(seed)
    height, width = shape
    samples = []
    for image in random_images(shape, batch, seed):
        coarse = rng.integers(
            num_things,
            num_things + num_stuff,
            size=(height // 100 + 1, width // 100 + 1))
        sem = np.kron(coarse, np.ones((100, 100), np.int64))[:height, :width]
        sem[rng.random((height, width)) < 0.01] = 255
        boxes, masks, labels = [], [], []
        yy, xx = np.mgrid[:height, :width]
        for _ in range(10):
            bh = rng.integers(32, height // 2)
            bw = rng.integers(32, width // 2)
            y0, x0 = rng.integers(0, height - bh), rng.integers(0, width - bw)
            cy, cx = y0 + bh / 2, x0 + bw / 2
            mask = ((yy - cy) / (bh / 2))**2 + ((xx - cx) / (bw / 2))**2 < 1
            label = int(rng.integers(0, num_things))
            sem[mask] = label
            boxes.append([x0, y0, x0 + bw, y0 + bh])
            masks.append(mask)
            labels.append(label)
        image.update(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            labels=torch.tensor(labels),
            masks=BitmapMasks(np.stack(masks).astype(np.uint8), height, width),
            sem_seg=torch.from_numpy(sem)[None])
        samples.append(image)
    return samples


# ----------------------------------------------------------- measuring


class StageTimer:
    """Adds the time spent in some methods of a model's parts to named stages,
    by wrapping them on the instances (the classes are untouched)."""

    def __init__(self, device: str) -> None:
        self.seconds: Dict[str, float] = defaultdict(float)
        self.cuda = device.startswith('cuda')

    def now(self) -> float:
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    def wrap(self, owner, name: str, stage: str) -> None:
        method = getattr(owner, name)

        def timed(*args, **kwargs):
            start = self.now()
            try:
                return method(*args, **kwargs)
            finally:
                self.seconds[stage] += self.now() - start

        # a plain instance attribute, also on an nn.Module (not a submodule)
        object.__setattr__(owner, name, timed)

    def instrument(self, model) -> None:
        self.wrap(model, 'extract_feat', STAGES[0])
        self.wrap(model.rpn_head, 'predict', STAGES[1])
        self.wrap(model.roi_head, 'predict_bbox', STAGES[2])
        self.wrap(model.roi_head, '_mask_forward', STAGES[2])
        self.wrap(model.semantic_head, 'forward', STAGES[3])


def canonical_panoptic(kind: str, sample, num_things: int,
                       num_stuff: int) -> Tuple[np.ndarray, np.ndarray]:
    """(category per pixel, -1 void; segment per pixel) of either model's
    ``pred_panoptic_seg``."""
    pan = sample.pred_panoptic_seg.sem_seg[0].long().cpu()
    if kind == 'mmdet':
        from mmdet.evaluation.functional import INSTANCE_OFFSET
        category = torch.where(pan == num_things + num_stuff, -1,
                               pan % INSTANCE_OFFSET)
    else:
        segments = sample.pred_panoptic_seg.segments_info
        category_of_id = torch.full((len(segments) + 1, ), -1)
        for segment in segments:
            category_of_id[segment['id']] = segment['category']
        category = category_of_id[pan]
    return category.int().numpy(), pan.int().numpy()


def run_model(spec: dict) -> dict:
    """Build one model, run inference (and a training step), measure.

    Runs in a fresh process.
    """
    if spec['threads']:
        torch.set_num_threads(spec['threads'])
    from mmdet.structures import DetDataSample
    from mmengine.structures import InstanceData, PixelData

    from mmpanfpn.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    quiet()

    kind, device = spec['kind'], spec['device']
    model = build(kind, spec['model_cfg'], device)
    state_dict = torch.load(spec['weights'], map_location=device)
    model.load_state_dict(state_dict, strict=True)
    model.eval()
    num_things = model.panoptic_fusion_head.num_things_classes
    num_stuff = model.panoptic_fusion_head.num_stuff_classes

    timer = StageTimer(device)
    timer.instrument(model)
    batches = []
    for item in spec['images']:
        sample = DetDataSample(metainfo=item['metainfo'])
        batches.append(
            model.data_preprocessor(
                dict(inputs=[item['image']], data_samples=[sample]), False))

    result = dict(
        kind=kind,
        stages=defaultdict(list),
        total=[],
        memory=[],
        panoptic=[],
        detections=[])
    with torch.no_grad():
        for i, batch in enumerate(batches):
            samples = copy.deepcopy(batch['data_samples'])
            timer.seconds.clear()
            with PeakMemory(device) as memory:
                start = timer.now()
                out = model.predict(batch['inputs'], samples)
                total = timer.now() - start
            if i < spec['warmup']:
                continue
            result['total'].append(total)
            result['memory'].append(memory.mib)
            for stage in STAGES[:-1]:
                result['stages'][stage].append(timer.seconds[stage])
            result['stages'][STAGES[-1]].append(total -
                                                sum(timer.seconds[s]
                                                    for s in STAGES[:-1]))
            result['panoptic'].append(
                canonical_panoptic(kind, out[0], num_things, num_stuff))
            # mmdet's PanopticFPN returns no instances
            if 'pred_instances' in out[0]:
                result['detections'].append(len(out[0].pred_instances))
            del out, samples

    if spec['train']:
        result.update(
            train_step(model, spec, DetDataSample, InstanceData, PixelData,
                       num_things, num_stuff))
    result['stages'] = dict(result['stages'])
    return result


def train_step(model, spec, DetDataSample, InstanceData, PixelData, num_things,
               num_stuff) -> dict:
    device = spec['device']
    items = synthetic_train_batch(spec['shape'], spec['train_batch'],
                                  num_things, num_stuff, spec['seed'])
    samples = []
    for item in items:
        sample = DetDataSample(metainfo=item['metainfo'])
        sample.gt_instances = InstanceData(
            bboxes=item['bboxes'], labels=item['labels'], masks=item['masks'])
        sample.gt_sem_seg = PixelData(sem_seg=item['sem_seg'])
        samples.append(sample)
    batch = model.data_preprocessor(
        dict(inputs=[item['image'] for item in items], data_samples=samples),
        True)
    model.train()
    # lr 0: every step does the same work on the same weights
    optimizer = torch.optim.SGD(model.parameters(), lr=0.0, momentum=0.9)
    times, memory = [], []
    now = StageTimer(device).now
    for i in range(spec['warmup'] + spec['train_iters']):
        data_samples = copy.deepcopy(batch['data_samples'])
        torch.manual_seed(spec['seed'])  # same RoI sampling in both models
        with PeakMemory(device) as peak:
            start = now()
            losses = model.loss(batch['inputs'], data_samples)
            loss, _ = model.parse_losses(losses)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
            elapsed = now() - start
        if i >= spec['warmup']:
            times.append(elapsed)
            memory.append(peak.mib)
    return dict(train=times, train_memory=memory)


# ------------------------------------------------------------ reporting


def same_panoptic(ours, theirs) -> bool:
    """Same category per pixel, and the same segments up to numbering."""
    our_category, our_segments = ours
    their_category, their_segments = theirs
    if not np.array_equal(our_category, their_category):
        return False
    pairs = np.unique(
        np.stack([our_segments.ravel(),
                  their_segments.ravel()], 1), axis=0)
    return len(pairs) == len(np.unique(our_segments)) == len(
        np.unique(their_segments))


def merge(results: List[dict]) -> dict:
    """Pool the rounds of one model."""
    merged = dict(
        stages=defaultdict(list),
        total=[],
        memory=[],
        train=[],
        train_memory=[],
        panoptic=results[0]['panoptic'],
        detections=results[0]['detections'])
    for result in results:
        for stage, values in result['stages'].items():
            merged['stages'][stage] += values
        for key in ('total', 'memory', 'train', 'train_memory'):
            merged[key] += result.get(key, [])
    return merged


def report(args, results: Dict[str, dict]) -> None:
    ours, theirs = results['ours'], results.get('mmdet')
    ms = lambda values: 1000 * statistics.median(values)  # noqa: E731

    load = os.getloadavg()[0]
    print(f'\n{args.config}\n  input {"x".join(map(str, args.shape))}'
          f'{" (" + args.images + ")" if args.images else " (random)"}, '
          f'{args.num_images} images x {args.rounds} round(s) after '
          f'{args.warmup} warm-up, detections per image '
          f'{ours["detections"]}, device {args.device}, threads '
          f'{args.threads or torch.get_num_threads()}, load average '
          f'{load:.2f} (on {os.cpu_count()} CPUs)')
    from mmpanfpn.ops import HAS_CPU_KERNEL
    print('  our RoIAlign on the CPU: ' +
          ('mmpanfpn._ext (mmcv\'s results, all cores)' if HAS_CPU_KERNEL else
           'mmcv\'s kernel (mmpanfpn built without its C++ ops)') + '\n')
    header = f'{"":28s}{"ours":>12s}'
    if theirs:
        header += f'{"mmdet":>12s}{"mmdet/ours":>12s}'
    print(header)

    def row(name, our_value, their_value, unit, fmt='.0f', ratio=True):
        line = f'{name:28s}{our_value:>10{fmt}}{unit:>2s}'
        if theirs:
            line += f'{their_value:>10{fmt}}{unit:>2s}'
            if ratio:
                line += f'{their_value / our_value:>11.2f}x'
        print(line)
        return their_value / our_value if theirs else None

    ratios = {}
    for stage in STAGES:
        ratios[stage] = row(stage, ms(ours['stages'][stage]), theirs
                            and ms(theirs['stages'][stage]), 'ms')
    ratios['end to end'] = row('end to end', ms(ours['total']), theirs
                               and ms(theirs['total']), 'ms')
    row('images/s',
        1 / statistics.median(ours['total']),
        theirs and 1 / statistics.median(theirs['total']),
        '',
        '.3f',
        ratio=False)
    ratios['memory'] = row('peak memory (inference)', max(ours['memory']),
                           theirs and max(theirs['memory']), 'Mi')
    if args.train_step:
        ratios['train'] = row('training step', ms(ours['train']), theirs
                              and ms(theirs['train']), 'ms')
        row('peak memory (training)', max(ours['train_memory']), theirs
            and max(theirs['train_memory']), 'Mi')
    if not theirs:
        return

    identical = [
        same_panoptic(a, b)
        for a, b in zip(ours['panoptic'], theirs['panoptic'])
    ]
    num_segments = [len(np.unique(seg)) for _, seg in ours['panoptic']]
    print(f'\npanoptic outputs identical to mmdet\'s: '
          f'{sum(identical)}/{len(identical)} images '
          f'({num_segments} segments incl. void)')
    print('targets:')
    checks = [
        ('post-processing >= 4x faster', ratios['post-processing'] >= 4),
        ('end to end >= 1.3x faster', ratios['end to end'] >= 1.3),
        ('peak memory no higher', ratios['memory'] >= 1),
        ('outputs identical', all(identical)),
    ]
    if args.train_step:
        checks.append(
            ('training step <= 1.05x mmdet\'s', 1 / ratios['train'] <= 1.05))
    for name, met in checks:
        print(f'  {"met    " if met else "NOT met"}  {name}')


def main():
    args = parse_args()
    from mmpanfpn.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    quiet()

    model_cfgs = dict(ours=our_model_cfg(args.config, args.score_thr))
    if args.vs_mmdet:
        model_cfgs['mmdet'] = mmdet_model_cfg(args.mmdet_config,
                                              model_cfgs['ours'])
    if args.images:
        images = folder_images(args.images, args.shape,
                               args.warmup + args.num_images)
    else:
        images = random_images(args.shape, args.warmup + args.num_images,
                               args.seed)

    with tempfile.TemporaryDirectory() as tmp:
        weights = osp.join(tmp, 'weights.pth')
        torch.manual_seed(args.seed)
        model = build('ours', model_cfgs['ours'], 'cpu')
        if args.checkpoint:
            from mmengine.runner import load_checkpoint
            load_checkpoint(
                model, args.checkpoint, map_location='cpu', strict=True)
        else:
            from mmpanfpn.testing import randomise_weights
            model.init_weights()
            # box logit std 0.005: the random R50 box head's features are
            # large, and logits of a few units keep box scores from tying
            randomise_weights(model, args.seed, box_logit_std=0.005)
        torch.save(model.state_dict(), weights)
        del model

        spec = dict(
            weights=weights,
            images=images,
            warmup=args.warmup,
            threads=args.threads,
            device=args.device,
            train=args.train_step,
            train_batch=args.train_batch,
            train_iters=args.train_iters,
            shape=tuple(args.shape),
            seed=args.seed)
        runs = defaultdict(list)
        context = multiprocessing.get_context('spawn')
        for _ in range(args.rounds):
            for kind, model_cfg in model_cfgs.items():
                with concurrent.futures.ProcessPoolExecutor(
                        1, mp_context=context) as pool:
                    runs[kind].append(
                        pool.submit(run_model,
                                    dict(spec, kind=kind,
                                         model_cfg=model_cfg)).result())
                print(
                    f'{kind}: end to end '
                    f'{[round(t, 2) for t in runs[kind][-1]["total"]]} s',
                    flush=True)
    report(args, {kind: merge(r) for kind, r in runs.items()})


if __name__ == '__main__':
    main()
