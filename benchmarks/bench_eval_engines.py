"""Evaluation engines side by side, on the same data, in one run.

    python benchmarks/bench_eval_engines.py [--num-images 40] \\
        [--det-images 120] [--rounds 3] [--seed 0] [--num-dets 50]

One thread everywhere (torch, OpenCV, and hotcoco's thread pool:
``RAYON_NUM_THREADS=1`` is set before hotcoco starts). Every method runs once
per round, in an order rotated from round to round; the table gives the
median over the rounds, and each ratio is the median of the rounds' ratios.

(1) ``COCOeval`` on a generated detection set
    (:mod:`mmpanfpn.testing.coco_detections`, ``--det-images`` images: crowd
    GT, images without GT or detections, > 100 detections per image, score
    ties), ``bbox`` and ``segm``, with mmdet's ``maxDets`` (100, 300, 1000):
    the engine's set-up + evaluate + accumulate + summarize, from the
    pycocotools ``COCO`` objects mmdet's ``CocoMetric`` builds, for
    pycocotools (the reference), hotcoco through
    :class:`~mmpanfpn.evaluation.functional.coco_eval.HotcocoEval` (what
    ``coco_eval_engine='fast'`` runs) and faster-coco-eval's
    ``COCOeval_faster``. The 12 summary values of hotcoco must equal
    pycocotools' exactly, faster-coco-eval's to the 3 digits mmdet reports.
(2) Offline PQ of ``bench_eval.py``'s generated 640x480 folders (GT and
    prediction PNG + JSON): hotcoco's ``PanopticEval`` on the JSON paths,
    and :func:`~mmpanfpn.evaluation.pq.evaluate_panoptic_files` with
    ``nproc=1``, engine ``'fast'`` (what ``tools/eval_panoptic.py`` runs by
    default: our JSON checks, then hotcoco) and ``'ours'`` (our decode and
    numpy core). Counts checked equal (TP / FP / FN exactly, IoU sums to
    1e-9).
(3) The joint metric (``CocoPanopticMetric``, PQ + box/mask AP + mIoU,
    ``--num-dets`` detections per image) on the same predictions:
    ``process`` of every image + ``compute_metrics``, per image, with
    ``coco_eval_engine='pycocotools'`` (before) and ``'fast'`` (after); and
    ``compute_metrics`` alone (where the AP is computed). All metrics
    checked equal.

Exit status 1 when a check fails.
"""
import argparse
import contextlib
import copy
import io
import os
import statistics
import sys
import tempfile
import time
import warnings
from typing import Callable, Dict, List

import cv2
import numpy as np
import torch
from pycocotools.coco import COCO

from mmpanfpn.evaluation import CocoPanopticMetric
from mmpanfpn.evaluation.functional import PQStat, evaluate_panoptic_files
from mmpanfpn.evaluation.functional.coco_eval import coco_eval_class
from mmpanfpn.evaluation.functional.hotcoco_pq import hotcoco_pq_stat
from mmpanfpn.testing import load_tool
from mmpanfpn.testing.coco_detections import make_detection_set

# the generated panoptic folders and predictions
bench_eval = load_tool('benchmarks/bench_eval.py')

MMDET_MAX_DETS = [100, 300, 1000]
TOLERANCE = 1e-9


def _quiet():
    return contextlib.redirect_stdout(io.StringIO())


# --------------------------------------------------------------------------
# (1) COCOeval engines
# --------------------------------------------------------------------------


def coco_objects(gt: dict, detections: list, iou_type: str):
    """The pycocotools GT and ``loadRes`` detections, as mmdet's CocoMetric
    builds them (mask results without boxes)."""
    drop = 'segmentation' if iou_type == 'bbox' else 'bbox'
    results = [{k: v for k, v in d.items() if k != drop} for d in detections]
    with _quiet():
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(results)
    return coco_gt, coco_dt


def run_coco_eval(engine: str, coco_gt, coco_dt, iou_type: str):
    """Seconds and the 12 stats of one evaluation."""
    if engine == 'faster-coco-eval':
        from faster_coco_eval import COCOeval_faster

        def make(gt, dt, iou):
            return COCOeval_faster(
                gt, dt, iou, print_function=lambda *a, **k: None)
    else:
        make = coco_eval_class(engine)
    with _quiet(), warnings.catch_warnings():
        warnings.simplefilter('ignore')
        start = time.perf_counter()
        evaluator = make(coco_gt, coco_dt, iou_type)
        evaluator.params.maxDets = list(MMDET_MAX_DETS)
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
        seconds = time.perf_counter() - start
    return seconds, np.asarray(evaluator.stats[:12], dtype=np.float64)


COCO_ENGINES = ('pycocotools', 'fast', 'faster-coco-eval')

# --------------------------------------------------------------------------
# (2) offline PQ, (3) the joint metric
# --------------------------------------------------------------------------


def hotcoco_alone(ds) -> PQStat:
    """hotcoco's PanopticEval on the JSON paths, as its users call it."""
    return hotcoco_pq_stat(ds.gt_json, ds.pred_json, ds.gt_dir, ds.pred_dir)


def joint_metric(ds, engine: str, num_dets: int, seed: int):
    """Seconds of ``process`` (all images) and of ``compute_metrics``, and the
    metrics."""
    metric = CocoPanopticMetric(
        ann_file=ds.gt_json,
        seg_prefix=ds.gt_dir,
        metric=['pq', 'bbox', 'segm', 'miou'],
        coco_eval_engine=engine)
    metric.dataset_meta = ds.meta
    process = 0.0
    for index in range(len(ds.image_ids)):
        sample = bench_eval.ours_sample(ds, index, True, num_dets, seed)
        start = time.perf_counter()
        metric.process({}, [sample])
        process += time.perf_counter() - start
    with _quiet():
        start = time.perf_counter()
        metrics = metric.compute_metrics(metric.results)
        compute = time.perf_counter() - start
    return process, compute, metrics


def count_disagreements(a: PQStat, b: PQStat) -> List[str]:
    a, b = a.to_dict(), b.to_dict()
    problems = [f'categories {sorted(a.keys() ^ b.keys())}'
                ] if a.keys() != b.keys() else []
    for cat_id in a.keys() & b.keys():
        x, y = a[cat_id], b[cat_id]
        if any(x[k] != y[k]
               for k in ('tp', 'fp',
                         'fn')) or abs(x['iou'] - y['iou']) > TOLERANCE:
            problems.append(f'category {cat_id}: {x} vs {y}')
    return problems


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------


def run(ds,
        detection_set,
        rounds: int,
        num_dets: int,
        seed: int,
        log=print) -> dict:
    n = len(ds.image_ids)
    det_images = len(detection_set.gt['images'])
    results: Dict[str, object] = {}

    def coco_method(engine: str, iou: str) -> Callable[[], float]:

        def method():
            # fresh objects: pycocotools rewrites the segmentations it reads
            coco_gt, coco_dt = coco_objects(detection_set.gt,
                                            detection_set.detections, iou)
            seconds, stats = run_coco_eval(engine, coco_gt, coco_dt, iou)
            results[f'coco {iou} {engine}'] = stats
            return 1000 * seconds / det_images

        return method

    def pq_method(name: str, fn) -> Callable[[], float]:

        def method():
            start = time.perf_counter()
            results[name] = fn()
            return 1000 * (time.perf_counter() - start) / n

        return method

    def metric_method(engine: str) -> Callable[[], float]:

        def method():
            process, compute, metrics = joint_metric(ds, engine, num_dets,
                                                     seed)
            results[f'metric {engine}'] = metrics
            times[f'metric compute {engine}'].append(1000 * compute / n)
            return 1000 * (process + compute) / n

        return method

    def offline(engine):
        return lambda: evaluate_panoptic_files(
            ds.gt_json,
            ds.gt_dir,
            ds.pred_json,
            ds.pred_dir,
            nproc=1,
            progress=False,
            engine=engine)

    methods = {}
    for iou in ('bbox', 'segm'):
        for engine in COCO_ENGINES:
            methods[f'coco {iou} {engine}'] = coco_method(engine, iou)
    methods['pq hotcoco'] = pq_method('pq hotcoco', lambda: hotcoco_alone(ds))
    for engine in ('fast', 'ours'):
        methods[f'pq {engine}'] = pq_method(f'pq {engine}', offline(engine))
    for engine in ('pycocotools', 'fast'):
        methods[f'metric {engine}'] = metric_method(engine)
    times: Dict[str, List[float]] = {name: [] for name in methods}
    times.update({f'metric compute {e}': [] for e in ('pycocotools', 'fast')})
    names = list(methods)
    for r in range(rounds):
        for name in names[r % len(names):] + names[:r % len(names)]:
            times[name].append(methods[name]())
        log(f'round {r + 1}/{rounds} done; load {os.getloadavg()[0]:.2f}')
    return dict(times=times, results=results)


def checks(results: dict) -> List[str]:
    """Every disagreement, as a line."""
    problems = []
    for iou in ('bbox', 'segm'):
        ref = results[f'coco {iou} pycocotools']
        if not np.array_equal(results[f'coco {iou} fast'], ref):
            problems.append(f'{iou}: hotcoco {results[f"coco {iou} fast"]} '
                            f'!= pycocotools {ref}')
        fce = results[f'coco {iou} faster-coco-eval']
        if not np.array_equal(np.round(fce, 3), np.round(ref, 3)):
            problems.append(f'{iou}: faster-coco-eval {fce} != pycocotools '
                            f'{ref} at 3 digits')
    ours = results['pq ours'].stat
    fast = results['pq fast']
    if fast.engine != 'fast':
        problems.append('offline PQ: the fast engine did not count')
    for name, stat in (('hotcoco', results['pq hotcoco']), ('fast',
                                                            fast.stat)):
        problems += [
            f'offline PQ {name} vs ours: {p}'
            for p in count_disagreements(stat, ours)
        ]
    before, after = results['metric pycocotools'], results['metric fast']
    if before.keys() != after.keys() or any(
            abs(before[k] - after[k]) > TOLERANCE for k in before):
        problems.append(f'joint metric: {before} != {after}')
    return problems


ROWS = [  # (label, numerator, denominator)
    ('COCOeval bbox: pycocotools / hotcoco', 'coco bbox pycocotools',
     'coco bbox fast'),
    ('COCOeval bbox: pycocotools / faster-coco-eval', 'coco bbox pycocotools',
     'coco bbox faster-coco-eval'),
    ('COCOeval segm: pycocotools / hotcoco', 'coco segm pycocotools',
     'coco segm fast'),
    ('COCOeval segm: pycocotools / faster-coco-eval', 'coco segm pycocotools',
     'coco segm faster-coco-eval'),
    ('offline PQ: ours fast engine / hotcoco alone', 'pq fast', 'pq hotcoco'),
    ('offline PQ: our numpy core / hotcoco alone', 'pq ours', 'pq hotcoco'),
    ('joint metric: before (pycocotools) / after (fast)', 'metric pycocotools',
     'metric fast'),
    ('joint compute_metrics (AP): pycocotools / fast',
     'metric compute pycocotools', 'metric compute fast'),
]


def format_report(times: Dict[str, List[float]], problems: List[str]) -> str:
    width = max(len(k) for k in times)
    lines = [f'{"method":<{width}}  {"ms/image":>9}  rounds']
    for key, values in times.items():
        lines.append(f'{key:<{width}}  {statistics.median(values):9.3f}  ' +
                     ' '.join(f'{v:.3f}' for v in values))
    lines.append('')
    width = max(len(r[0]) for r in ROWS)
    lines.append(f'{"ratio (median of the rounds)":<{width}}  {"value":>7}')
    for label, num, den in ROWS:
        values = [a / b for a, b in zip(times[num], times[den])]
        lines.append(f'{label:<{width}}  {statistics.median(values):7.2f}  ' +
                     ' '.join(f'{v:.2f}' for v in values))
    lines.append('')
    lines += problems or [
        'all results agree: hotcoco COCOeval stats == pycocotools exactly, '
        'faster-coco-eval at 3 digits; offline PQ counts (hotcoco, fast, '
        f'ours) to {TOLERANCE:g}; joint metric before == after'
    ]
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=40)
    parser.add_argument('--det-images', type=int, default=120)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument('--num-dets', type=int, default=50)
    parser.add_argument('--tmpdir', help='where to write the images')
    args = parser.parse_args(argv)
    # hotcoco's thread pool reads it when it starts, at the first evaluation
    os.environ.setdefault('RAYON_NUM_THREADS', '1')
    if min(args.num_images, args.det_images, args.rounds) < 1:
        parser.error('--num-images, --det-images and --rounds must be >= 1')
    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    load = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp:
        ds = bench_eval.write_dataset(tmp, args.num_images, args.seed)
        detection_set = make_detection_set(args.seed, args.det_images)
        print(f'{args.num_images} panoptic pairs of {bench_eval.WIDTH}x'
              f'{bench_eval.HEIGHT}; {args.det_images} detection images '
              f'({len(detection_set.detections)} detections); '
              f'{args.rounds} rounds; one thread (RAYON_NUM_THREADS='
              f'{os.environ.get("RAYON_NUM_THREADS")}); {os.cpu_count()} '
              f'CPUs, load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}')
        result = run(ds, detection_set, args.rounds, args.num_dets, args.seed)
        problems = checks(result['results'])
    print()
    print(format_report(result['times'], problems))
    return 1 if problems else 0


if __name__ == '__main__':
    sys.exit(main())
