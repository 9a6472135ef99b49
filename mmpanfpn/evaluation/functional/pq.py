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
from collections import defaultdict
from dataclasses import dataclass
from typing import Dict, List, NamedTuple, Sequence, Tuple

import numpy as np

from mmpanfpn.datasets.panoptic_format import UnlistedSegmentIds, segment_index

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


def _lookup_slots(values: np.ndarray, slot_ids: np.ndarray,
                  side: str) -> np.ndarray:
    """The slot of every value (its index in ``slot_ids``); raise
    ``SegmentsError`` naming the values that are not listed."""
    try:
        return segment_index(values, slot_ids)
    except UnlistedSegmentIds as err:
        what = 'ground-truth' if side == 'gt' else 'predicted'
        raise SegmentsError(
            side, f'{what} segment ids {err.ids[:10]} are in the '
            'PNG but not in segments_info') from None


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


class SinglePQ(NamedTuple):
    """What :func:`pq_single` counts in one image.

    Attributes:
        stat (PQStat): TP, FP, FN and the IoU sum of every category.
        gt_areas (dict): ``{segment_id: pixels}`` of the GT segments.
        pred_areas (dict): ``{segment_id: pixels}`` of the predicted ones.
    """
    stat: 'PQStat'
    gt_areas: Dict[int, int]
    pred_areas: Dict[int, int]


def pq_single(gt_ids: np.ndarray,
              gt_segments: Sequence[dict],
              pred_ids: np.ndarray,
              pred_segments: Sequence[dict],
              categories: Dict[int, dict],
              void_id: int = VOID_ID) -> SinglePQ:
    """Match the segments of one image and count TP, FP, FN and IoU.

    The pixel area of every segment is counted on the way (for the check of
    the JSON ``area`` fields, :func:`area_mismatches`, without another pass
    over the maps).

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
        SinglePQ: the counts of this image and the segments' areas.

    Raises:
        SegmentsError (a ValueError): the maps and the lists disagree, or a
            prediction has an unknown category. ``side`` names the culprit.
    """
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
    return SinglePQ(stat, dict(zip(gt_id_list, gt_area[1:].tolist())),
                    dict(zip(pred_id_list, pred_area[1:].tolist())))


def area_mismatches(segments: Sequence[dict],
                    pixel_areas: Dict[int, int]) -> List[Tuple[int, int, int]]:
    """Segments whose JSON ``area`` differs from their pixel count.

    Args:
        segments: ``[{'id', 'area' (optional)}]``; those without ``area``
            are not checked.
        pixel_areas: ``{segment_id: pixel count}``, e.g.
            :attr:`SinglePQ.gt_areas`.

    Returns:
        ``[(segment_id, json_area, pixel_area)]`` for every disagreement.
    """
    return [(seg['id'], seg['area'], pixel_areas.get(seg['id'], 0))
            for seg in segments
            if 'area' in seg and seg['area'] != pixel_areas.get(seg['id'], 0)]


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
