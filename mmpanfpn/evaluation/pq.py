"""Panoptic Quality (PQ), written from its definition (Kirillov et al., 2019).

For one category, with TP the matched (ground truth, prediction) pairs::

    PQ = sum_{(g, p) in TP} IoU(g, p) / (|TP| + |FP| / 2 + |FN| / 2)
    SQ = sum_{(g, p) in TP} IoU(g, p) / |TP|            (0 when |TP| = 0)
    RQ = |TP| / (|TP| + |FP| / 2 + |FN| / 2)             so PQ = SQ * RQ

and the matching follows the COCO panoptic reference evaluation:

* a ground-truth (GT) segment ``g`` and a predicted segment ``p`` of the same
  category match when ``IoU(g, p) > 0.5`` (strictly), where the union leaves
  out the prediction's pixels on void: ``|g| + |p| - |g & p| - |p & void|``.
  Such matches are unique, so no assignment step is needed;
* crowd GT segments (``iscrowd == 1``) are never matched and never counted as
  false negatives (FN); every other unmatched GT segment is an FN;
* an unmatched prediction is a false positive (FP) unless more than half of
  its pixels lie on void or on crowd GT of its own category;
* areas are pixel counts of the id maps, never the JSON ``area`` fields;
* the dataset averages are plain means over the categories that have at
  least one TP, FP or FN; the others are left out of the mean and of ``n``.

Two deliberate differences from the reference code, both on data it does not
handle: several crowd segments of one category in an image all count as
crowd (the reference keeps only the last one listed; COCO has at most one),
and inconsistent annotations (ids in a PNG but not in its JSON, JSON segments
with no pixels, repeated ids) raise ``ValueError`` for the GT as for the
prediction, instead of being skipped or miscounted.
"""
import functools
import os
import os.path as osp
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np

VOID_ID = 0
# a pair matches when its IoU is strictly above this
MATCH_IOU = 0.5
# an unmatched prediction is not an FP when more than this fraction of it
# lies on void or on same-category crowd
IGNORE_FRACTION = 0.5


class SegmentsError(ValueError):
    """Inconsistent segments; ``side`` is ``'gt'`` or ``'pred'``, so that a
    caller can name the file at fault."""

    def __init__(self, side: str, message: str):
        super().__init__(message)
        self.side = side


@dataclass
class PQStatCat:
    """Accumulators of one category."""
    tp: int = 0
    fp: int = 0
    fn: int = 0
    iou: float = 0.0  # sum of the IoUs of the TP pairs

    def __iadd__(self, other: 'PQStatCat') -> 'PQStatCat':
        self.tp += other.tp
        self.fp += other.fp
        self.fn += other.fn
        self.iou += other.iou
        return self


class PQStat:
    """Per-category PQ accumulators, indexed by dataset category id.

    Stats of images (or of distributed ranks) add up with ``+=`` / ``+``;
    ``to_dict`` / ``from_dict`` convert to plain Python types for gathering or
    JSON.
    """

    def __init__(self):
        self.per_cat: Dict[int, PQStatCat] = defaultdict(PQStatCat)

    def __getitem__(self, cat_id: int) -> PQStatCat:
        return self.per_cat[cat_id]

    def __setitem__(self, cat_id: int, cat_stat: PQStatCat):
        self.per_cat[cat_id] = cat_stat

    def __iadd__(self, other: 'PQStat') -> 'PQStat':
        for cat_id, cat_stat in other.per_cat.items():
            self.per_cat[cat_id] += cat_stat
        return self

    def __add__(self, other: 'PQStat') -> 'PQStat':
        total = PQStat()
        total += self
        total += other
        return total

    def __eq__(self, other) -> bool:
        return isinstance(other, PQStat) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f'PQStat({self.to_dict()})'

    def to_dict(self) -> Dict[int, dict]:
        """``{category_id: {'tp', 'fp', 'fn', 'iou'}}`` of plain ints and
        floats; categories with nothing counted are left out."""
        return {
            int(cat_id): {
                'tp': int(s.tp),
                'fp': int(s.fp),
                'fn': int(s.fn),
                'iou': float(s.iou)
            }
            for cat_id, s in sorted(self.per_cat.items())
            if s.tp or s.fp or s.fn
        }

    @classmethod
    def from_dict(cls, data: Dict) -> 'PQStat':
        """Inverse of :meth:`to_dict`; keys may be strings (after JSON)."""
        stat = cls()
        for cat_id, values in data.items():
            stat.per_cat[int(cat_id)] += PQStatCat(**values)
        return stat

    def summarize(self,
                  categories: Dict[int, dict],
                  classwise: bool = False) -> Dict[str, dict]:
        """PQ, SQ and RQ (fractions in [0, 1]) of all categories, things and
        stuff.

        Args:
            categories: ``{category_id: {'isthing': 0 or 1, ...}}``; only
                these categories are averaged.
            classwise: also return ``'classwise'``: ``{category_id: {'pq',
                'sq', 'rq'}}``, zeros for categories left out of the means.

        Returns:
            ``{'All' | 'Things' | 'Stuff': {'pq', 'sq', 'rq', 'n'}}``, where
            ``n`` counts the categories with at least one TP, FP or FN, the
            only ones averaged (all values 0 when ``n == 0``).
        """
        per_class = {}
        for cat_id in categories:
            s = self.per_cat.get(cat_id, PQStatCat())
            if s.tp + s.fp + s.fn == 0:
                per_class[cat_id] = None  # left out of the means
                continue
            denominator = s.tp + 0.5 * s.fp + 0.5 * s.fn
            per_class[cat_id] = {
                'pq': s.iou / denominator,
                'sq': s.iou / s.tp if s.tp else 0.0,
                'rq': s.tp / denominator,
            }
        summary = {}
        for name, isthing in (('All', None), ('Things', True), ('Stuff',
                                                                False)):
            results = [
                per_class[cat_id] for cat_id, cat in categories.items()
                if per_class[cat_id] is not None and (
                    isthing is None or (cat['isthing'] == 1) == isthing)
            ]
            n = len(results)
            summary[name] = {
                key: sum(r[key] for r in results) / n if n else 0.0
                for key in ('pq', 'sq', 'rq')
            }
            summary[name]['n'] = n
        if classwise:
            zeros = {'pq': 0.0, 'sq': 0.0, 'rq': 0.0}
            summary['classwise'] = {
                cat_id: dict(r or zeros)
                for cat_id, r in per_class.items()
            }
        return summary


def _slot_ids(id_map: np.ndarray, segments: Sequence[dict], void_id: int,
              side: str) -> Tuple[np.ndarray, List[int]]:
    """Check a map's dtype and its segments list; number the segments.

    Returns:
        slot_ids: int64 ``[void_id] + ids``: the id of every slot (0 for
            void, ``k + 1`` for ``segments[k]``).
        ids: the segment ids, in slot order (without void).
    """
    what = 'ground-truth' if side == 'gt' else 'predicted'
    if not np.issubdtype(id_map.dtype, np.integer):
        raise SegmentsError(
            side, f'{what} id map must hold integers, got '
            f'dtype {id_map.dtype}')
    ids = []
    for i, seg in enumerate(segments):
        if 'id' not in seg or 'category_id' not in seg:
            raise SegmentsError(
                side, f'{what} segments_info[{i}]: needs '
                'fields "id" and "category_id"')
        ids.append(int(seg['id']))
    if void_id in ids:
        raise SegmentsError(
            side, f'{what} segment id {void_id} is reserved '
            'for void')
    if len(set(ids)) != len(ids):
        repeated = sorted({i for i in ids if ids.count(i) > 1})
        raise SegmentsError(
            side, f'{what} segment ids {repeated} are '
            'listed more than once in segments_info')
    return np.array([void_id] + ids, dtype=np.int64), ids


# odd 64-bit multipliers for the multiplicative hashing of segment ids
_HASH_MULTIPLIERS = np.random.default_rng(20190402).integers(
    0, 2**63, size=16, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
# hash tables above this size fall back to binary search
_MAX_HASH_BITS = 16
# below this many values, binary search is the cheaper look-up
_MIN_HASHED_VALUES = 16384


def _hash_of(slot_ids: np.ndarray):
    """A multiplier and a shift that send the listed ids to distinct.

    buckets ``(id * multiplier mod 2^64) >> shift`` of a table about twice
    the square of their number; None when no multiplier does or the table
    would be too large.
    """
    bits = max(4, int(len(slot_ids)**2 // 2).bit_length())
    if bits > _MAX_HASH_BITS:
        return None
    shift = np.uint64(64 - bits)
    buckets = (slot_ids.view(np.uint64)[None] *
               _HASH_MULTIPLIERS[:, None]) >> shift
    buckets.sort(axis=1)
    distinct = (np.diff(buckets, axis=1) != 0).all(axis=1)
    if not distinct.any():
        return None
    return _HASH_MULTIPLIERS[distinct.argmax()], shift, bits


def _lookup_slots(values: np.ndarray, slot_ids: np.ndarray,
                  side: str) -> np.ndarray:
    """The slot of every value (its index in ``slot_ids``); raise
    ``SegmentsError`` naming the values that are not listed.

    Many values are looked up in a hash table of the few listed ids, a few by
    binary search; both check every value against the id found, so no
    assumption on how large an id may be.
    """
    values = np.ascontiguousarray(values, dtype=np.int64)
    hashing = (
        _hash_of(slot_ids) if values.size >= _MIN_HASHED_VALUES else None)
    if hashing is not None:
        multiplier, shift, bits = hashing
        listed = ((slot_ids.view(np.uint64) * multiplier) >> shift).view(
            np.int64)
        # an empty bucket holds slot 0's id, which hashes elsewhere: no
        # value in that bucket equals it
        table_ids = np.full(1 << bits, slot_ids[0])
        table_ids[listed] = slot_ids
        table_slots = np.zeros(1 << bits, np.intp)
        table_slots[listed] = np.arange(len(slot_ids))
        buckets = ((values.view(np.uint64) * multiplier) >> shift).view(
            np.int64)
        found = np.array_equal(table_ids[buckets], values)
        slots = table_slots[buckets]
    else:
        order = np.argsort(slot_ids)
        sorted_ids = slot_ids[order]
        pos = np.searchsorted(sorted_ids, values)
        found = np.array_equal(np.take(sorted_ids, pos, mode='clip'), values)
        slots = np.take(order, pos, mode='clip')
    if not found:
        listed = np.isin(values, slot_ids)
        missing = np.unique(values[~listed])[:10].tolist()
        what = 'ground-truth' if side == 'gt' else 'predicted'
        raise SegmentsError(
            side, f'{what} segment ids {missing} are in the '
            'PNG but not in segments_info')
    return slots


def _pair_runs(gt_flat: np.ndarray,
               pred_flat: np.ndarray) -> Tuple[np.ndarray, np.ndarray]:
    """Run-length encoding of the (GT id, predicted id) pairs of two flattened
    maps: the start and the length of every run of equal pairs.

    Segments are regions, so a map has far fewer runs than pixels (a few
    thousand on a 640x480 COCO image): the slot look-ups and the counting then
    work on the runs, and the per-pixel work is two comparisons.
    """
    size = gt_flat.size
    if size == 0:
        return np.zeros(0, np.intp), np.zeros(0, np.intp)
    change = gt_flat[1:] != gt_flat[:-1]
    change |= pred_flat[1:] != pred_flat[:-1]
    starts = np.flatnonzero(change)
    starts += 1
    starts = np.concatenate((np.zeros(1, np.intp), starts))
    return starts, np.diff(starts, append=size)


def pq_single(gt_ids: np.ndarray,
              gt_segments: Sequence[dict],
              pred_ids: np.ndarray,
              pred_segments: Sequence[dict],
              categories: Dict[int, dict],
              void_id: int = VOID_ID) -> PQStat:
    """Match the segments of one image and count TP, FP, FN and IoU.

    Args:
        gt_ids: int (H, W) ground-truth segment id of every pixel,
            ``void_id`` for void.
        gt_segments: ``[{'id', 'category_id', 'iscrowd'}]`` (``iscrowd``
            defaults to 0); every id must occur in ``gt_ids``.
        pred_ids: int (H, W) predicted segment id of every pixel,
            ``void_id`` for unlabelled pixels.
        pred_segments: ``[{'id', 'category_id'}]``; every id must occur in
            ``pred_ids``.
        categories: ``{category_id: {...}}``; predictions must use these.
        void_id: the id of void / unlabelled pixels in both maps.

    Returns:
        PQStat: the counts of this image.

    Raises:
        SegmentsError (a ValueError): the maps and the lists disagree, or a
            prediction has an unknown category. ``side`` names the culprit.
    """
    return pq_single_and_areas(gt_ids, gt_segments, pred_ids, pred_segments,
                               categories, void_id)[0]


def pq_single_and_areas(
        gt_ids: np.ndarray,
        gt_segments: Sequence[dict],
        pred_ids: np.ndarray,
        pred_segments: Sequence[dict],
        categories: Dict[int, dict],
        void_id: int = VOID_ID
) -> Tuple[PQStat, Dict[int, int], Dict[int, int]]:
    """:func:`pq_single`, and the pixel area of every GT and predicted
    segment, counted on the way: ``(stat, {gt_id: area}, {pred_id: area})``
    (for the JSON-area check, without another pass over the maps)."""
    gt_ids, pred_ids = np.asarray(gt_ids), np.asarray(pred_ids)
    if gt_ids.shape != pred_ids.shape or gt_ids.ndim != 2:
        raise SegmentsError(
            'pred', f'predicted id map has shape '
            f'{pred_ids.shape}, ground truth has '
            f'{gt_ids.shape}')
    gt_slot_ids, gt_id_list = _slot_ids(gt_ids, gt_segments, void_id, 'gt')
    pred_slot_ids, pred_id_list = _slot_ids(pred_ids, pred_segments, void_id,
                                            'pred')
    gt_flat, pred_flat = gt_ids.ravel(), pred_ids.ravel()
    starts, lengths = _pair_runs(gt_flat, pred_flat)
    gt_slots = _lookup_slots(gt_flat[starts], gt_slot_ids, 'gt')
    pred_slots = _lookup_slots(pred_flat[starts], pred_slot_ids, 'pred')
    for seg in pred_segments:
        if seg['category_id'] not in categories:
            raise SegmentsError(
                'pred', f'predicted segment {seg["id"]} has '
                f'unknown category_id {seg["category_id"]}')

    # confusion[i, j]: pixels with GT slot i and predicted slot j (0 = void)
    num_pred_slots = len(pred_segments) + 1
    pair_code = gt_slots * num_pred_slots + pred_slots
    # float64 sums of run lengths: exact below 2^53 pixels
    confusion = np.bincount(
        pair_code,
        weights=lengths,
        minlength=(len(gt_segments) + 1) * num_pred_slots).astype(
            np.int64).reshape(-1, num_pred_slots)
    gt_area, pred_area = confusion.sum(axis=1), confusion.sum(axis=0)
    for side, areas, id_list in (('gt', gt_area, gt_id_list),
                                 ('pred', pred_area, pred_id_list)):
        absent = [i for i, area in zip(id_list, areas[1:]) if area == 0]
        if absent:
            what = 'ground-truth' if side == 'gt' else 'predicted'
            raise SegmentsError(
                side, f'{what} segment ids {absent[:10]} are '
                'in segments_info but not in the PNG')

    # per-slot attributes; slot 0 (void) gets category -1 and is never used
    gt_cat = np.array([-1] + [s['category_id'] for s in gt_segments])
    gt_crowd = np.array([False] +
                        [s.get('iscrowd', 0) == 1 for s in gt_segments])
    pred_cat = np.array([-1] + [s['category_id'] for s in pred_segments])
    pred_on_void = confusion[0]

    stat = PQStat()
    per_cat = stat.per_cat
    # candidate pairs: overlapping, same category, GT not crowd
    gt_idx, pred_idx = np.nonzero(confusion[1:, 1:])
    gt_idx, pred_idx = gt_idx + 1, pred_idx + 1
    keep = (gt_cat[gt_idx] == pred_cat[pred_idx]) & ~gt_crowd[gt_idx]
    gt_idx, pred_idx = gt_idx[keep], pred_idx[keep]
    intersection = confusion[gt_idx, pred_idx]
    union = (
        pred_area[pred_idx] + gt_area[gt_idx] - intersection -
        pred_on_void[pred_idx])
    iou = intersection / union
    matched = iou > MATCH_IOU
    for cat_id, pair_iou in zip(gt_cat[gt_idx[matched]].tolist(),
                                iou[matched].tolist()):
        cat_stat = per_cat[cat_id]
        cat_stat.tp += 1
        cat_stat.iou += pair_iou

    # FN: the GT segments left unmatched, crowd ones aside
    gt_fn = ~gt_crowd
    gt_fn[0] = False
    gt_fn[gt_idx[matched]] = False
    for cat_id in gt_cat[gt_fn].tolist():
        per_cat[cat_id].fn += 1

    # FP: the predictions left unmatched, unless more than half of them
    # lies on void or on crowd GT of their category
    same_cat_crowd = gt_crowd[:, None] & (gt_cat[:, None] == pred_cat)
    ignored = pred_on_void + (confusion * same_cat_crowd).sum(axis=0)
    pred_fp = ignored / np.maximum(pred_area, 1) <= IGNORE_FRACTION
    pred_fp[0] = False
    pred_fp[pred_idx[matched]] = False
    for cat_id in pred_cat[pred_fp].tolist():
        per_cat[cat_id].fp += 1
    return (stat, dict(zip(gt_id_list, gt_area[1:].tolist())),
            dict(zip(pred_id_list, pred_area[1:].tolist())))


def area_mismatches(id_map: np.ndarray,
                    segments: Sequence[dict]) -> List[Tuple[int, int, int]]:
    """Segments whose JSON ``area`` differs from their pixel count.

    Args:
        id_map: int (H, W) segment id map.
        segments: ``[{'id', 'area' (optional)}]``; those without ``area``
            are not checked.

    Returns:
        ``[(segment_id, json_area, pixel_area)]`` for every disagreement.
    """
    ids, counts = np.unique(np.asarray(id_map), return_counts=True)
    return mismatched_areas(segments, dict(zip(ids.tolist(), counts.tolist())))


def mismatched_areas(segments: Sequence[dict],
                     pixel_area: Dict[int, int]) -> List[Tuple[int, int, int]]:
    """:func:`area_mismatches` from ``{segment_id: pixel count}``."""
    return [(seg['id'], seg['area'], pixel_area.get(seg['id'], 0))
            for seg in segments
            if 'area' in seg and seg['area'] != pixel_area.get(seg['id'], 0)]


# --------------------------------------------------------------------------
# Files: COCO panoptic JSON + PNG folders
# --------------------------------------------------------------------------


class ImageResult(NamedTuple):
    stat: dict  # PQStat.to_dict()
    area_mismatches: List[str]  # one readable line per disagreement


class PanopticEvalResult(NamedTuple):
    stat: PQStat
    categories: Dict[int, dict]  # {category_id: category}, from the GT JSON
    num_images: int
    area_mismatches: List[str]


def evaluate_image_files(gt_ann: dict, pred_ann: dict, gt_dir: str,
                         pred_dir: str, categories: Dict[int,
                                                         dict]) -> ImageResult:
    """PQ stats of one image from its annotations and PNG files.

    Errors are ``ValueError`` / ``FileNotFoundError`` that name the file.
    """
    # imported here so that the PQ core above needs numpy only
    from mmpanfpn.datasets.panoptic_format import read_panoptic_png

    gt_png = osp.join(gt_dir, gt_ann['file_name'])
    pred_png = osp.join(pred_dir, pred_ann['file_name'])
    # uint32, the decoder's own type: no int64 copy of every pixel
    gt_ids = read_panoptic_png(gt_png, dtype=np.uint32)
    pred_ids = read_panoptic_png(pred_png, dtype=np.uint32)
    try:
        stat, gt_areas, pred_areas = pq_single_and_areas(
            gt_ids, gt_ann['segments_info'], pred_ids,
            pred_ann['segments_info'], categories)
    except SegmentsError as err:
        path = gt_png if err.side == 'gt' else pred_png
        # a plain ValueError: it crosses process boundaries intact
        raise ValueError(f'{path} (image_id {gt_ann["image_id"]}): '
                         f'{err}') from None
    mismatches = [
        f'{path}: segment {seg_id} has "area" {json_area} in JSON but '
        f'{pixel_area} pixels'
        for path, areas, ann in ((gt_png, gt_areas, gt_ann),
                                 (pred_png, pred_areas, pred_ann))
        for seg_id, json_area, pixel_area in mismatched_areas(
            ann['segments_info'], areas)
    ]
    return ImageResult(stat.to_dict(), mismatches)


def _evaluate_pair(pair: Tuple[dict, dict], gt_dir: str, pred_dir: str,
                   categories: Dict[int, dict]) -> ImageResult:
    return evaluate_image_files(pair[0], pair[1], gt_dir, pred_dir, categories)


def default_nproc() -> int:
    return min(os.cpu_count() or 1, 8)


def evaluate_panoptic_files(gt_json: str,
                            gt_dir: str,
                            pred_json: str,
                            pred_dir: str,
                            nproc: Optional[int] = None,
                            progress: bool = True) -> PanopticEvalResult:
    """PQ stats of a COCO panoptic prediction folder against its GT.

    Args:
        gt_json / pred_json: COCO panoptic annotation files; the categories
            come from ``gt_json``.
        gt_dir / pred_dir: folders of the PNGs named by ``file_name``.
        nproc: worker processes (default ``min(cpu_count, 8)``); 1 runs in
            this process.
        progress: show an mmengine progress bar, when mmengine imports.

    Returns:
        PanopticEvalResult: the summed stats, the categories, the number of
        images and the JSON/PNG area disagreements found.

    Raises:
        ValueError / FileNotFoundError, naming the file at fault.
    """
    from mmpanfpn.datasets.coco_panoptic_json import read_panoptic_json

    gt = read_panoptic_json(
        gt_json,
        'ground-truth panoptic JSON',
        required=('annotations', 'categories'))
    # the prediction's categories are checked against the GT's, per image
    pred = read_panoptic_json(pred_json, 'prediction panoptic JSON')
    categories, gt_by_image, pred_by_image = (gt.categories, gt.annotations,
                                              pred.annotations)
    for image_id in pred_by_image:
        if image_id not in gt_by_image:
            raise ValueError(f'{pred_json}: prediction for image_id '
                             f'{image_id!r}, which is not in {gt_json}')
    pairs = []
    for image_id, gt_ann in gt_by_image.items():
        if image_id not in pred_by_image:
            raise ValueError(f'{pred_json}: no prediction for image_id '
                             f'{image_id!r} of {gt_json}')
        pairs.append((gt_ann, pred_by_image[image_id]))

    nproc = max(1, min(nproc or default_nproc(), len(pairs)))
    evaluate = functools.partial(
        _evaluate_pair,
        gt_dir=gt_dir,
        pred_dir=pred_dir,
        categories=categories)
    bar = _progress_bar(len(pairs)) if progress else None
    total, mismatches = PQStat(), []

    def collect(result: ImageResult):
        nonlocal total
        total += PQStat.from_dict(result.stat)
        mismatches.extend(result.area_mismatches)
        if bar is not None:
            bar.update()

    try:
        if nproc == 1:
            for pair in pairs:
                collect(evaluate(pair))
        else:
            import multiprocessing
            chunksize = max(1, min(16, len(pairs) // (4 * nproc)))
            with multiprocessing.Pool(nproc) as pool:
                # in order, so that the float sums do not depend on nproc
                for result in pool.imap(evaluate, pairs, chunksize):
                    collect(result)
    finally:
        if bar is not None:
            bar.file.write('\n')  # the bar leaves the cursor on its line
            bar.file.flush()
    return PanopticEvalResult(total, categories, len(pairs), mismatches)


def _progress_bar(task_num: int):
    try:
        from mmengine.utils import ProgressBar
    except ImportError:
        return None
    return ProgressBar(task_num)


def percent_metrics(summary: Dict[str, dict], categories: Dict[int,
                                                               dict]) -> dict:
    """mmdet-style metrics in percent from :meth:`PQStat.summarize`.

    Returns:
        ``{'PQ', 'SQ', 'RQ', 'PQ_th', ..., 'RQ_st'}`` and, when ``summary``
        has ``'classwise'``, ``'classwise': {name: {'PQ', 'SQ', 'RQ'}}``.
    """
    metrics = {}
    for group, suffix in (('All', ''), ('Things', '_th'), ('Stuff', '_st')):
        for key in ('pq', 'sq', 'rq'):
            metrics[key.upper() + suffix] = 100 * summary[group][key]
    if 'classwise' in summary:
        metrics['classwise'] = {
            categories[cat_id]['name']:
            {key.upper(): 100 * value
             for key, value in r.items()}
            for cat_id, r in summary['classwise'].items()
        }
    return metrics
