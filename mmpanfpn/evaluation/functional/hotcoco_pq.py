"""PQ counts of COCO panoptic files by hotcoco's engine, where they are ours.

hotcoco (Rust) reads the PNGs and counts TP, FP, FN and the IoU sum of every
category as the COCO panoptic reference does, several times faster than our PNG
decode and numpy core (``benchmarks/bench_eval_engines.py``). On consistent
data its counts are those of :mod:`.pq` (the specification;
``tests/test_hotcoco_pq.py`` checks it), with one documented exception: several
crowd segments of one category in one GT image (the reference keeps only the
last one listed, ours counts all). That, and what ours refuses but hotcoco
counts (repeated segment ids, the void id as a segment id), is found in the
JSON before hotcoco runs (:func:`needs_our_engine`). Other inconsistencies make
hotcoco raise on the prediction's side, not on the GT's (a GT PNG id missing
from the JSON is skipped), and JSON areas are not compared with the pixels: the
numpy core does both.
"""
import contextlib
import functools
import io
import multiprocessing
import sys
from collections import Counter
from typing import List, Optional, Sequence, Tuple, Union

from .pq import VOID_ID, PQStat, PQStatCat

JsonOrPath = Union[dict, str]


def needs_our_engine(pairs: Sequence[Tuple[dict, dict]]) -> Optional[str]:
    """Why hotcoco's counts would not be ours on these annotations (judged from
    the JSON alone); None when they would.

    Ours differs by design on several crowd segments of one category in one
    GT image, and raises (naming the file) on repeated segment ids and on a
    segment with the void id 0, which hotcoco counts.

    Args:
        pairs: ``[(gt_annotation, pred_annotation)]``, each with
            ``image_id`` and ``segments_info``.

    Returns:
        str | None: e.g. ``'image_id 7 has 2 crowd segments of category
        3'``.
    """
    for gt, pred in pairs:
        crowd = Counter(seg['category_id'] for seg in gt['segments_info']
                        if seg.get('iscrowd', 0) == 1)
        for cat_id, count in crowd.items():
            if count > 1:
                return (f'image_id {gt["image_id"]!r} has {count} crowd '
                        f'segments of category {cat_id}')
        for side, ann in (('GT', gt), ('prediction', pred)):
            ids = [seg['id'] for seg in ann['segments_info']]
            if len(set(ids)) != len(ids) or VOID_ID in ids:
                return (f'the {side} of image_id {ann["image_id"]!r} repeats '
                        'a segment id or uses the void id')
    return None


def hotcoco_pq_stat(gt: JsonOrPath, pred: JsonOrPath, gt_dir: str,
                    pred_dir: str) -> PQStat:
    """TP, FP, FN and IoU sums per category, counted by hotcoco.

    Args:
        gt / pred: COCO panoptic JSON contents, or their paths; the
            categories are the GT's.
        gt_dir / pred_dir: Folders of the PNGs named by ``file_name``.

    Returns:
        PQStat: The summed counts, as
        :func:`~.panoptic_files.evaluate_panoptic_files` returns
        them (IoU sums equal up to the order of the float additions).

    Raises:
        ValueError / OSError: hotcoco's, for data it cannot evaluate.
    """
    from hotcoco import panoptic

    evaluator = panoptic.PanopticEval(
        gt, pred, gt_folder=gt_dir, pred_folder=pred_dir)
    with contextlib.redirect_stdout(io.StringIO()):  # its progress lines
        evaluator.evaluate()
    stat = PQStat()
    for cat_id, counts in evaluator.results()['per_class'].items():
        if counts['tp'] or counts['fp'] or counts['fn']:
            stat[int(cat_id)] = PQStatCat(
                tp=int(counts['tp']),
                fp=int(counts['fp']),
                fn=int(counts['fn']),
                iou=float(counts['iou']))
    return stat


def _chunks(categories: List[dict], pairs: List[Tuple[dict, dict]],
            parts: int) -> List[tuple]:
    """(GT, prediction) contents of ``parts`` runs of consecutive images."""
    size = -(-len(pairs) // parts)
    chunks = []
    for start in range(0, len(pairs), size):
        chunk = pairs[start:start + size]
        # what the evaluation reads: the GT's categories, the annotations
        chunks.append(
            (dict(categories=categories, annotations=[gt for gt, _ in chunk]),
             dict(annotations=[pred for _, pred in chunk])))
    return chunks


def _stat_of_chunk(chunk: tuple, gt_dir: str, pred_dir: str) -> dict:
    return hotcoco_pq_stat(chunk[0], chunk[1], gt_dir, pred_dir).to_dict()


def hotcoco_pq_files(categories: List[dict], pairs: List[Tuple[dict, dict]],
                     gt_dir: str, pred_dir: str, nproc: int) -> PQStat:
    """:func:`hotcoco_pq_stat` of the paired annotations, on ``nproc``
    processes (hotcoco counts panoptic files on one thread).

    Args:
        categories: The GT JSON's ``categories``.
        pairs: ``[(gt_annotation, pred_annotation)]`` of every image.
        gt_dir / pred_dir: Folders of the PNGs.
        nproc: Worker processes (forked); 1 evaluates in this process, as
            does a process that has imported hotcoco.

    Returns:
        PQStat: The counts of all images, summed chunk by chunk in image
        order.
    """
    # hotcoco's thread pool does not survive a fork: a forked worker of a
    # process that has used hotcoco hangs, and fresh ('spawn') workers take
    # seconds to import the stack. A process that has imported hotcoco
    # counts on its own
    if nproc <= 1 or 'hotcoco' in sys.modules:
        gt_part, pred_part = _chunks(categories, pairs, 1)[0]
        return hotcoco_pq_stat(gt_part, pred_part, gt_dir, pred_dir)
    total = PQStat()
    with multiprocessing.get_context('fork').Pool(nproc) as pool:
        for stat in pool.imap(
                functools.partial(
                    _stat_of_chunk, gt_dir=gt_dir, pred_dir=pred_dir),
                _chunks(categories, pairs, nproc)):
            total += PQStat.from_dict(stat)
    return total
