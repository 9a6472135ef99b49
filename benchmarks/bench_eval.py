"""Speed of PQ evaluation against the COCO panoptic reference, in one run.

    python benchmarks/bench_eval.py [--num-images 50] \\
        [--rounds 3] [--seed 0] [--noise 0.05] [--void 0.02] [--num-dets 50]

Writes N generated images (640x480 by default) in COCO panoptic format to a
temporary folder: a GT and an imperfect prediction per image, PNG + JSON
(about 20 segments each: blocky stuff regions under thing rectangles, some
crowd, scattered void; the prediction is the GT shifted by a few pixels,
with ``--noise`` of its pixels relabelled and some class errors). Then, in
this process, with one torch / OpenCV thread (single core, single worker),
it times per image:

(a) reference: mmdet's ``pq_compute_single_core`` over the files, real file
    reads included, as ``panopticapi.evaluation.pq_compute`` runs it per
    worker (the JSON files are loaded beforehand, untimed, as panopticapi
    loads them before its workers start);
(b) ours offline: :func:`mmpanfpn.evaluation.evaluate_panoptic_files`
    with ``nproc=1``, the function ``tools/eval_panoptic.py --nproc 1``
    calls (JSON loading and validation included; without the progress bar);
(c) the decode floor: what the reference spends reading the two PNGs into
    id maps (mmdet's copy reads the bytes
    with ``mmengine.fileio.get``, decodes with ``mmcv.imfrombytes`` in RGB
    order and applies panopticapi's ``rgb2id``);
(c') our own decode floor, stricter: the same two PNGs read the way our
    path reads them (:func:`~mmpanfpn.datasets.panoptic_format.
    read_panoptic_png` with ``dtype=np.uint32``: file read, ``cv2.imdecode``
    and a faster rgb2id), for information;
(d) online, per ``process`` call on the same predictions: mmdet's
    ``CocoPanopticMetric`` (real mmdet code: it writes the predicted PNG and
    reads it and the GT PNG back, then runs ``pq_compute_single_core``), and
    ours (:class:`mmpanfpn.evaluation.CocoPanopticMetric`, in memory), with
    ``metric='pq'`` and with all of PQ + bbox + segm + mIoU (``--num-dets``
    detections per image: the thing segments and shifted, low-scoring
    copies).

Every method runs over all N images once per round, in an order rotated
from round to round, for ``--rounds`` rounds; the table gives the median
over the rounds (and every round's value), and each ratio is the median of
the rounds' ratios (the two methods of a ratio ran in the same round,
seconds apart, so that a load that drifts over the run cancels out). The
PQ of (a), (b) and both online metrics must agree (per category TP / FP /
FN exactly, IoU sums and PQ / SQ / RQ to 1e-9), or the script exits with
status 1. Printed ratios and targets: ours offline / reference
<= 1.0, ours offline / decode floor (c) <= 1.2, ours online (PQ) / mmdet
online <= 1/3; and, without a target, ours offline / our own decode (c').

panopticapi is not installed, and is not imported: the reference is mmdet's
copy of its per-image code, made runnable by the bookkeeping stand-in of
:mod:`mmpanfpn.testing.panopticapi_reference`, for the duration of the run.
"""
import argparse
import contextlib
import copy
import io
import json
import os
import os.path as osp
import statistics
import sys
import tempfile
import time
from typing import Callable, Dict, List, NamedTuple

import cv2
import numpy as np
import torch

from mmpanfpn.datasets.panoptic_format import id2rgb, read_panoptic_png
from mmpanfpn.evaluation import (CocoPanopticMetric, PQStat,
                                 evaluate_panoptic_files)
from mmpanfpn.testing.panopticapi_reference import (StandinPQStat,
                                                    panopticapi_standin,
                                                    standin_as_ours,
                                                    standin_rgb2id)

HEIGHT, WIDTH = 480, 640
NUM_STUFF, NUM_THINGS = 8, 12
# COCO-like: 80 thing and 53 stuff categories; ids not contiguous, so the
# label <-> category mapping matters
THING_IDS = list(range(1, 81))
STUFF_IDS = list(range(101, 154))
# mmdet's panoptic encoding of a prediction: label + instance * OFFSET
INSTANCE_OFFSET = 1000
TOLERANCE = 1e-9
TARGETS = {  # name: (bound, description)
    'offline_vs_reference': (1.0, 'ours offline / reference'),
    'offline_vs_decode': (1.2, 'ours offline / decode floor (c)'),
    'online_vs_mmdet': (1 / 3, 'ours online (PQ) / mmdet online'),
}

# --------------------------------------------------------------------------
# data: GT and prediction PNGs + JSONs
# --------------------------------------------------------------------------


class Prediction(NamedTuple):
    ids: np.ndarray  # int32 (H, W): label + k * INSTANCE_OFFSET, 0 = void
    segments: List[dict]  # [{'id', 'category_id'}]


class Dataset(NamedTuple):
    root: str
    gt_json: str
    gt_dir: str
    pred_json: str
    pred_dir: str
    categories: List[dict]  # as in the GT JSON
    meta: dict  # dataset_meta: classes (labels in category order), ...
    image_ids: List[int]
    predictions: List[Prediction]
    shape: tuple  # (H, W)


def make_categories() -> List[dict]:
    return ([dict(id=i, name=f'thing_{i}', isthing=1) for i in THING_IDS] +
            [dict(id=i, name=f'stuff_{i}', isthing=0) for i in STUFF_IDS])


def make_pair(rng: np.random.Generator, height: int, width: int, noise: float,
              void: float, label_of: Dict[int, int]):
    """One GT and its imperfect prediction (crowd segments included; mmdet-
    style predicted ids).

    Returns:
        tuple: GT ids (int32 (H, W), 0 = void), GT segments (``id``,
        ``category_id``, ``iscrowd``, ``area``), and a :class:`Prediction`.
    """
    ids = rng.choice(
        256**3 - 1, size=NUM_STUFF + NUM_THINGS, replace=False) + 1
    coarse = rng.integers(0, NUM_STUFF, size=(6, 8))
    gt = ids[cv2.resize(
        coarse.astype(np.uint8), (width, height),
        interpolation=cv2.INTER_NEAREST)]
    for seg_id in ids[NUM_STUFF:]:
        y = rng.integers(0, max(1, height - height // 12))
        x = rng.integers(0, max(1, width - width // 16))
        h = rng.integers(max(1, height // 24), max(2, height * 5 // 12))
        w = rng.integers(max(1, width // 32), max(2, width * 5 // 16))
        gt[y:y + h, x:x + w] = seg_id
    gt[rng.random((height, width)) < void] = 0
    category = {int(i): int(rng.choice(STUFF_IDS)) for i in ids[:NUM_STUFF]}
    category.update(
        {int(i): int(rng.choice(THING_IDS))
         for i in ids[NUM_STUFF:]})
    # at most one crowd segment, a thing (COCO has at most one per category)
    crowd = int(ids[NUM_STUFF]) if rng.random() < 0.3 else None
    seg_ids, areas = np.unique(gt, return_counts=True)
    area_of = dict(zip(seg_ids.tolist(), areas.tolist()))
    gt_segments = [{
        'id': i,
        'category_id': c,
        'iscrowd': int(i == crowd),
        'area': area_of[i]
    } for i, c in category.items() if i in area_of]

    # prediction: shifted, noisy, some class errors; ids as mmdet's fusion
    # numbers them (label + k * INSTANCE_OFFSET), 0 = void
    shifted = np.roll(gt, tuple(rng.integers(-8, 9, size=2)), axis=(0, 1))
    flip = rng.random((height, width)) < noise
    shifted[flip] = rng.choice(ids, size=int(flip.sum()))
    present = set(np.unique(shifted).tolist())
    pred = np.zeros((height, width), np.int32)
    pred_segments = []
    for k, (gt_id, cat_id) in enumerate(category.items()):
        if gt_id not in present:
            continue
        if rng.random() >= 0.9:  # a class error, of the same kind
            cat_id = int(
                rng.choice(THING_IDS if cat_id in THING_IDS else STUFF_IDS))
        pred_id = (k + 1) * INSTANCE_OFFSET + label_of[cat_id]
        pred[shifted == gt_id] = pred_id
        pred_segments.append({'id': pred_id, 'category_id': cat_id})
    return gt.astype(np.int32), gt_segments, Prediction(pred, pred_segments)


def write_png(path: str, id_map: np.ndarray) -> None:
    if not cv2.imwrite(path, id2rgb(id_map)[..., ::-1]):  # RGB -> BGR
        raise OSError(f'{path}: cannot write')


def write_dataset(root: str,
                  num_images: int,
                  seed: int = 0,
                  shape: tuple = (HEIGHT, WIDTH),
                  noise: float = 0.05,
                  void: float = 0.02) -> Dataset:
    """Write ``root/gt/*.png``, ``root/pred/*.png``, ``root/gt.json`` and
    ``root/pred.json``."""
    height, width = shape
    categories = make_categories()
    label_of = {c['id']: label for label, c in enumerate(categories)}
    gt_dir, pred_dir = osp.join(root, 'gt'), osp.join(root, 'pred')
    os.makedirs(gt_dir)
    os.makedirs(pred_dir)
    rng = np.random.default_rng(seed)
    images, gt_anns, pred_anns, predictions = [], [], [], []
    image_ids = list(range(1, num_images + 1))
    for image_id in image_ids:
        gt, gt_segments, pred = make_pair(rng, height, width, noise, void,
                                          label_of)
        png = f'{image_id:012d}.png'
        write_png(osp.join(gt_dir, png), gt)
        write_png(osp.join(pred_dir, png), pred.ids)
        images.append({
            'id': image_id,
            'file_name': png[:-4] + '.jpg',
            'height': height,
            'width': width
        })
        gt_anns.append({
            'image_id': image_id,
            'file_name': png,
            'segments_info': gt_segments
        })
        pred_anns.append({
            'image_id': image_id,
            'file_name': png,
            'segments_info': pred.segments
        })
        predictions.append(pred)
    gt_json, pred_json = osp.join(root, 'gt.json'), osp.join(root, 'pred.json')
    with open(gt_json, 'w') as f:
        json.dump(
            {
                'images': images,
                'annotations': gt_anns,
                'categories': categories
            }, f)
    with open(pred_json, 'w') as f:
        json.dump({'annotations': pred_anns}, f)
    meta = dict(
        classes=tuple(c['name'] for c in categories),
        thing_classes=tuple(c['name'] for c in categories if c['isthing']),
        stuff_classes=tuple(c['name'] for c in categories if not c['isthing']),
        label2cat=tuple(c['id'] for c in categories))
    return Dataset(root, gt_json, gt_dir, pred_json, pred_dir, categories,
                   meta, image_ids, predictions, (height, width))


# --------------------------------------------------------------------------
# the measured methods; each returns its summed stats
# --------------------------------------------------------------------------


def load_annotation_set(ds: Dataset) -> list:
    """``[(gt_ann, pred_ann)]`` as panopticapi's ``pq_compute`` pairs them."""
    with open(ds.gt_json) as f:
        gt_content = json.load(f)
    with open(ds.pred_json) as f:
        pred_by_image = {a['image_id']: a for a in json.load(f)['annotations']}
    return [(a, pred_by_image[a['image_id']])
            for a in gt_content['annotations']]


def reference_offline(ds: Dataset, annotation_set: list):
    """(a) mmdet's ``pq_compute_single_core`` (in the stand-in's scope)."""
    from mmdet.evaluation.functional import pq_compute_single_core
    categories = {c['id']: c for c in ds.categories}
    return pq_compute_single_core(0, annotation_set, ds.gt_dir, ds.pred_dir,
                                  categories)


def ours_offline(ds: Dataset) -> PQStat:
    """(b) what ``tools/eval_panoptic.py --nproc 1`` runs."""
    return evaluate_panoptic_files(
        ds.gt_json,
        ds.gt_dir,
        ds.pred_json,
        ds.pred_dir,
        nproc=1,
        progress=False).stat


def reference_decode_floor(ds: Dataset) -> None:
    """(c) read both PNGs of every image into id maps as the reference (mmdet's
    ``pq_compute_single_core``) reads them."""
    import mmcv
    from mmengine.fileio import get
    for image_id in ds.image_ids:
        png = f'{image_id:012d}.png'
        for folder in (ds.gt_dir, ds.pred_dir):
            standin_rgb2id(
                mmcv.imfrombytes(
                    get(osp.join(folder, png)),
                    flag='color',
                    channel_order='rgb'))


def decode_floor(ds: Dataset) -> None:
    """(c) read both PNGs of every image into id maps, as our offline path
    reads them (uint32 ids: no int64 copy)."""
    for image_id in ds.image_ids:
        png = f'{image_id:012d}.png'
        read_panoptic_png(osp.join(ds.gt_dir, png), dtype=np.uint32)
        read_panoptic_png(osp.join(ds.pred_dir, png), dtype=np.uint32)


def _box_of(mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def ours_sample(ds: Dataset,
                index: int,
                full: bool,
                num_dets: int = 50,
                seed: int = 0) -> dict:
    """The prediction of image ``index`` as our model outputs it (after the
    Evaluator's ``to_dict``): segment ids, 0 void, with dataset labels."""
    image_id = ds.image_ids[index]
    pred = ds.predictions[index]
    label_of = {c['id']: label for label, c in enumerate(ds.categories)}
    sample = dict(
        img_id=image_id,
        img_path=osp.join(ds.root, f'{image_id:012d}.jpg'),
        ori_shape=ds.shape,
        pred_panoptic_seg=dict(
            sem_seg=torch.from_numpy(pred.ids.astype(np.int64))[None],
            segments_info=[{
                'id': s['id'],
                'category': label_of[s['category_id']]
            } for s in pred.segments]))
    if not full:
        return sample
    rng = np.random.default_rng((seed, index))
    sem = np.full(ds.shape, 255, np.int64)  # 255: not a stuff label
    masks, labels = [], []
    for seg in pred.segments:
        label = label_of[seg['category_id']]
        mask = pred.ids == seg['id']
        if seg['category_id'] in THING_IDS:
            masks.append(mask)
            labels.append(label)
        else:
            sem[mask] = label
    while masks and len(masks) < num_dets:  # worse, low-scoring copies
        k = int(rng.integers(len(masks)))
        masks.append(np.roll(masks[k], int(rng.integers(5, 30)), axis=1))
        labels.append(int(rng.integers(len(THING_IDS))))
    sample['pred_instances'] = dict(
        bboxes=torch.tensor([_box_of(m) for m in masks],
                            dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.int64),
        scores=torch.from_numpy(np.sort(rng.random(
            len(masks)))[::-1].copy()).float(),
        masks=torch.from_numpy(
            np.stack(masks) if masks else np.zeros((0, ) + ds.shape, bool)))
    sample['pred_sem_seg'] = dict(sem_seg=torch.from_numpy(sem)[None])
    return sample


def mmdet_sample(ds: Dataset, index: int) -> dict:
    """The same prediction as mmdet's panoptic heads output it: ``label +

    k * INSTANCE_OFFSET``, void as the label ``num_classes``.
    """
    image_id = ds.image_ids[index]
    ids = ds.predictions[index].ids.astype(np.int64)
    pan = np.where(ids == 0, len(ds.categories), ids)
    return dict(
        img_id=image_id,
        img_path=osp.join(ds.root, f'{image_id:012d}.jpg'),
        ori_shape=ds.shape,
        pred_panoptic_seg=dict(sem_seg=torch.from_numpy(pan)[None]))


def make_mmdet_metric(ds: Dataset):
    """mmdet's ``CocoPanopticMetric`` (in the stand-in's scope), computing the
    PQ counts in ``process`` as it does without ``outfile_prefix``."""
    from mmdet.evaluation.metrics import \
        CocoPanopticMetric as MMDetCocoPanopticMetric
    with contextlib.redirect_stdout(io.StringIO()):  # pycocotools chatter
        metric = MMDetCocoPanopticMetric(
            ann_file=ds.gt_json, seg_prefix=ds.gt_dir, nproc=1)
    metric.dataset_meta = ds.meta
    return metric


def make_ours_metric(ds: Dataset, metrics) -> CocoPanopticMetric:
    metric = CocoPanopticMetric(
        ann_file=ds.gt_json, seg_prefix=ds.gt_dir, metric=metrics)
    metric.dataset_meta = ds.meta
    return metric


def time_online(metric, make_sample: Callable[[int], dict],
                num_images: int) -> float:
    """Seconds spent in ``metric.process``, one image per call; the samples are
    built outside the timing, fresh for every call (mmdet's metric writes into
    the predicted map)."""
    total = 0.0
    for index in range(num_images):
        sample = make_sample(index)
        start = time.perf_counter()
        metric.process({}, [sample])
        total += time.perf_counter() - start
    return total


def mmdet_online_stat(metric) -> StandinPQStat:
    total = StandinPQStat()
    for stat in metric.results:
        total += stat
    return total


def ours_online_stat(metric) -> PQStat:
    total = PQStat()
    for record in metric.results:
        total += PQStat.from_dict(record['pq'])
    return total


# --------------------------------------------------------------------------
# agreement of the PQ results
# --------------------------------------------------------------------------


def disagreements(reference: StandinPQStat, ours: PQStat,
                  categories: List[dict]) -> List[str]:
    """Where ``ours`` differs from the reference's counts or from its
    ``pq_average`` (empty when they agree)."""
    cats = {c['id']: c for c in categories}
    problems = []
    ref = standin_as_ours(reference).to_dict()
    got = ours.to_dict()
    for cat_id in sorted(set(ref) | set(got)):
        a = ref.get(cat_id, dict(tp=0, fp=0, fn=0, iou=0.0))
        b = got.get(cat_id, dict(tp=0, fp=0, fn=0, iou=0.0))
        if any(a[k] != b[k] for k in ('tp', 'fp', 'fn')) or \
                abs(a['iou'] - b['iou']) > TOLERANCE:
            problems.append(f'category {cat_id}: reference {a}, ours {b}')
    summary = ours.summarize(cats)
    for name, isthing in (('All', None), ('Things', True), ('Stuff', False)):
        try:
            expected, _ = reference.pq_average(cats, isthing=isthing)
        except ZeroDivisionError:  # panopticapi's, when n == 0
            expected = dict(pq=0.0, sq=0.0, rq=0.0, n=0)
        for key in ('pq', 'sq', 'rq'):
            if abs(expected[key] - summary[name][key]) > TOLERANCE:
                problems.append(f'{name} {key}: reference {expected[key]!r}'
                                f', ours {summary[name][key]!r}')
        if expected['n'] != summary[name]['n']:
            problems.append(f'{name} n: reference {expected["n"]}, ours '
                            f'{summary[name]["n"]}')
    return problems


# --------------------------------------------------------------------------
# the run
# --------------------------------------------------------------------------

METHODS = {
    'reference': '(a) reference: mmdet pq_compute_single_core',
    'ours_offline': '(b) ours offline: evaluate_panoptic_files(nproc=1)',
    'reference_decode': '(c) decode floor: the reference\'s PNG decode + '
    'rgb2id',
    'decode': '(c\') our decode: 2 x read_panoptic_png(uint32)',
    'mmdet_online': '(d) mmdet CocoPanopticMetric.process',
    'ours_online_pq': '(d) ours CocoPanopticMetric.process, PQ',
    'ours_online_all': '(d) ours CocoPanopticMetric.process, PQ+AP+mIoU',
}


def run_benchmark(ds: Dataset,
                  rounds: int,
                  num_dets: int = 50,
                  seed: int = 0,
                  full: bool = True,
                  log=print) -> dict:
    """Time every method ``rounds`` times; check the PQ agreement.

    Returns:
        dict: ``times`` ``{method: [ms/image of every round]}``,
        ``problems`` ``{comparison: [disagreements]}`` and ``summary`` (our
        offline PQ summary).
    """
    n = len(ds.image_ids)
    annotation_set = load_annotation_set(ds)
    stats = {}

    def reference():
        work = copy.deepcopy(annotation_set)  # it writes pred areas in
        start = time.perf_counter()
        stats['reference'] = reference_offline(ds, work)
        return time.perf_counter() - start

    def offline():
        start = time.perf_counter()
        stats['ours_offline'] = ours_offline(ds)
        return time.perf_counter() - start

    def decode():
        start = time.perf_counter()
        decode_floor(ds)
        return time.perf_counter() - start

    def reference_decode():
        start = time.perf_counter()
        reference_decode_floor(ds)
        return time.perf_counter() - start

    def mmdet_online():
        metric = make_mmdet_metric(ds)
        seconds = time_online(metric, lambda i: mmdet_sample(ds, i), n)
        stats['mmdet_online'] = mmdet_online_stat(metric)
        return seconds

    def ours_online(metrics, key, with_all):

        def method():
            metric = make_ours_metric(ds, metrics)
            seconds = time_online(
                metric, lambda i: ours_sample(ds, i, with_all, num_dets, seed),
                n)
            stats[key] = ours_online_stat(metric)
            return seconds

        return method

    methods = {
        'reference': reference,
        'ours_offline': offline,
        'reference_decode': reference_decode,
        'decode': decode,
        'mmdet_online': mmdet_online,
        'ours_online_pq': ours_online('pq', 'ours_online_pq', False),
    }
    if full:
        methods['ours_online_all'] = ours_online(
            ['pq', 'bbox', 'segm', 'miou'], 'ours_online_all', True)
    times = {name: [] for name in methods}
    names = list(methods)
    for r in range(rounds):
        order = names[r % len(names):] + names[:r % len(names)]
        for name in order:
            times[name].append(1000 * methods[name]() / n)
        log(f'round {r + 1}/{rounds}: ' +
            ', '.join(f'{name} {times[name][-1]:.2f}' for name in names) +
            f' ms/image; load {os.getloadavg()[0]:.2f}')

    problems = {}
    for key in ('ours_offline', 'ours_online_pq', 'ours_online_all'):
        if key in stats:
            problems[f'{key} vs reference'] = disagreements(
                stats['reference'], stats[key], ds.categories)
    problems['mmdet_online vs reference'] = disagreements(
        stats['reference'], standin_as_ours(stats['mmdet_online']),
        ds.categories)
    summary = stats['ours_offline'].summarize(
        {c['id']: c
         for c in ds.categories})
    return dict(times=times, problems=problems, summary=summary)


RATIOS = {  # target: (numerator, denominator)
    'offline_vs_reference': ('ours_offline', 'reference'),
    'offline_vs_decode': ('ours_offline', 'reference_decode'),
    'online_vs_mmdet': ('ours_online_pq', 'mmdet_online'),
}


def ratios(times: Dict[str, List[float]]) -> Dict[str, List[float]]:
    """Every round's ratio of each target."""
    return {
        key: [a / b for a, b in zip(times[num], times[den])]
        for key, (num, den) in RATIOS.items()
    }


def format_report(result: dict) -> str:
    times = result['times']
    medians = {k: statistics.median(v) for k, v in times.items()}
    width = max(len(METHODS[k]) for k in times)
    lines = [f'{"method":<{width}}  {"ms/image":>9}  rounds']
    for key, values in times.items():
        lines.append(f'{METHODS[key]:<{width}}  {medians[key]:9.2f}  ' +
                     ' '.join(f'{v:.2f}' for v in values))
    lines.append('')
    lines.append(f'{"ratio (median of the rounds)":<{width}}  '
                 f'{"value":>9}  target           rounds')
    for key, values in ratios(times).items():
        bound, name = TARGETS[key]
        value = statistics.median(values)
        verdict = 'met' if value <= bound else 'NOT met'
        lines.append(f'{name:<{width}}  {value:9.3f}  <= {bound:.3f} '
                     f'{verdict:<7}  ' + ' '.join(f'{v:.3f}' for v in values))
    name = 'ours offline / our own decode (c\')'
    values = [a / b for a, b in zip(times['ours_offline'], times['decode'])]
    lines.append(f'{name:<{width}}  {statistics.median(values):9.3f}  '
                 '(no target)')
    if 'ours_online_all' in times:
        name = 'ours online (PQ+AP+mIoU) / mmdet online (PQ)'
        values = [
            a / b
            for a, b in zip(times['ours_online_all'], times['mmdet_online'])
        ]
        lines.append(f'{name:<{width}}  {statistics.median(values):9.3f}  '
                     '(no target)')
    lines.append('')
    s = result['summary']
    lines.append('PQ (ours offline): ' + ', '.join(
        f'{name} {100 * s[name]["pq"]:.3f} (n {s[name]["n"]})'
        for name in ('All', 'Things', 'Stuff')))
    for comparison, problems in result['problems'].items():
        if problems:
            lines.append(f'PQ DISAGREES, {comparison}: ' +
                         '; '.join(problems[:5]))
        else:
            lines.append(f'PQ agrees to {TOLERANCE:g}, {comparison}')
    return '\n'.join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=50)
    parser.add_argument('--rounds', type=int, default=3)
    parser.add_argument('--seed', type=int, default=0)
    parser.add_argument(
        '--noise',
        type=float,
        default=0.05,
        help='fraction of predicted pixels relabelled at '
        'random (default 0.05)')
    parser.add_argument(
        '--void',
        type=float,
        default=0.02,
        help='fraction of GT pixels made void at random')
    parser.add_argument(
        '--num-dets',
        type=int,
        default=50,
        help='detections per image for the PQ+AP+mIoU run')
    parser.add_argument(
        '--no-full',
        action='store_true',
        help='skip our PQ+AP+mIoU online run')
    parser.add_argument('--tmpdir', help='where to write the images')
    args = parser.parse_args(argv)
    if args.num_images < 1 or args.rounds < 1:
        parser.error('--num-images and --rounds must be >= 1')

    torch.set_num_threads(1)
    cv2.setNumThreads(1)
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(dir=args.tmpdir) as tmp, \
            panopticapi_standin():
        ds = write_dataset(
            tmp, args.num_images, args.seed, noise=args.noise, void=args.void)
        segments = np.mean([len(p.segments) for p in ds.predictions])
        print(f'{args.num_images} images of {WIDTH}x{HEIGHT}, '
              f'{segments:.1f} predicted segments each on average; '
              f'{args.rounds} rounds; 1 torch thread, 1 OpenCV thread; '
              f'{os.cpu_count()} CPUs, load average {load_before[0]:.2f} '
              f'{load_before[1]:.2f} {load_before[2]:.2f}')
        result = run_benchmark(
            ds, args.rounds, args.num_dets, args.seed, full=not args.no_full)
    print()
    print(format_report(result))
    load_after = os.getloadavg()
    print(f'load average after: {load_after[0]:.2f} {load_after[1]:.2f} '
          f'{load_after[2]:.2f}')
    return 1 if any(result['problems'].values()) else 0


if __name__ == '__main__':
    sys.exit(main())
