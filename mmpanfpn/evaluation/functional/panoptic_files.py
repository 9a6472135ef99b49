"""PQ of a folder of COCO panoptic predictions against its ground truth.

What ``tools/eval_panoptic.py`` runs: both JSON files read by
:func:`~mmpanfpn.datasets.coco_panoptic_json.read_panoptic_json`, every image
pair by :func:`~mmpanfpn.evaluation.functional.pq.pq_single`, in worker
processes (engine ``'ours'``), or by hotcoco's engine where its counts are the
same (engine ``'fast'``, :mod:`.hotcoco_pq`). Needs numpy and OpenCV only
(and hotcoco for ``'fast'``).
"""
import functools
import multiprocessing
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Tuple

import numpy as np

from mmpanfpn.datasets.coco_panoptic_json import read_panoptic_json
from mmpanfpn.datasets.panoptic_format import read_panoptic_png
from .hotcoco_pq import hotcoco_pq_files, needs_our_engine
from .pq import PQStat, SegmentsError, area_mismatches, pq_single


class ImageResult(NamedTuple):
    stat: dict  # PQStat.to_dict()
    area_mismatches: List[str]  # one readable line per disagreement


class PanopticEvalResult(NamedTuple):
    stat: PQStat
    categories: Dict[int, dict]  # {category_id: category}, from the GT JSON
    num_images: int
    area_mismatches: List[str]  # empty when not checked (engine 'fast')
    engine: str = 'ours'  # the engine that counted: 'ours' or 'fast'


def evaluate_image_files(gt_ann: dict, pred_ann: dict, gt_dir: str,
                         pred_dir: str, categories: Dict[int,
                                                         dict]) -> ImageResult:
    """PQ stats of one image from its annotations and PNG files.

    Errors are ``ValueError`` / ``FileNotFoundError`` that name the file.
    """
    gt_png = osp.join(gt_dir, gt_ann['file_name'])
    pred_png = osp.join(pred_dir, pred_ann['file_name'])
    # uint32, the decoder's own type: no int64 copy of every pixel
    gt_ids = read_panoptic_png(gt_png, dtype=np.uint32)
    pred_ids = read_panoptic_png(pred_png, dtype=np.uint32)
    try:
        stat, gt_areas, pred_areas = pq_single(gt_ids, gt_ann['segments_info'],
                                               pred_ids,
                                               pred_ann['segments_info'],
                                               categories)
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
        for seg_id, json_area, pixel_area in area_mismatches(
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
                            progress: bool = True,
                            engine: str = 'ours') -> PanopticEvalResult:
    """PQ stats of a COCO panoptic prediction folder against its GT.

    Args:
        gt_json / pred_json: COCO panoptic annotation files; the categories
            come from ``gt_json``.
        gt_dir / pred_dir: folders of the PNGs named by ``file_name``.
        nproc: worker processes (default ``min(cpu_count, 8)``); 1 runs in
            this process.
        progress: show an mmengine progress bar, when mmengine imports
            (engine ``'ours'``).
        engine: ``'ours'`` (the numpy core, :func:`pq_single`; also compares
            the JSON areas with the pixels) or ``'fast'`` (hotcoco's engine,
            the same counts several times faster, :mod:`.hotcoco_pq`; where
            its counts would differ, or it rejects the data, ours counts).

    Returns:
        PanopticEvalResult: the summed stats, the categories, the number of
        images and the JSON/PNG area disagreements found.

    Raises:
        ValueError / FileNotFoundError, naming the file at fault.
    """
    if engine not in ('ours', 'fast'):
        raise ValueError(f"engine must be 'ours' or 'fast', got {engine!r}")
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
    if engine == 'fast' and needs_our_engine(pairs) is None:
        try:
            stat = hotcoco_pq_files(
                list(categories.values()), pairs, gt_dir, pred_dir, nproc)
            return PanopticEvalResult(stat, categories, len(pairs), [], 'fast')
        except (ValueError, OSError):
            # hotcoco refused the data without saying which file or id:
            # our engine below evaluates the same pairs and raises an error
            # that names them
            pass
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
