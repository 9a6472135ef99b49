"""Generated COCO panoptic folders (GT and prediction, JSON + PNG) for checking
offline PQ engines against each other."""
import json
import os
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np

from mmpanfpn.datasets.panoptic_format import id2rgb

CATEGORIES = [
    dict(id=c, name=f'category_{c}', isthing=int(c < 20))
    for c in (1, 2, 5, 7, 21, 22, 30)
]


def write_png(path: str, ids: np.ndarray) -> None:
    if not cv2.imwrite(path, id2rgb(ids)[..., ::-1]):  # RGB -> BGR
        raise OSError(f'{path}: cannot write')


def _paint_rectangles(rng, id_map: np.ndarray, ids) -> None:
    h, w = id_map.shape
    for seg_id in ids:
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = y0 + rng.integers(1, h + 1), x0 + rng.integers(1, w + 1)
        id_map[y0:y1, x0:x1] = seg_id


def _segments(id_map: np.ndarray, category_of: dict, crowd=()) -> list:
    ids, areas = np.unique(id_map, return_counts=True)
    return [
        dict(
            id=int(i),
            category_id=category_of[int(i)],
            iscrowd=int(i in crowd),
            area=int(a)) for i, a in zip(ids, areas) if i != 0
    ]


def random_pair(
    rng: np.random.Generator, shape=(24, 32)
) -> Tuple[np.ndarray, list, np.ndarray, list]:
    """A GT (occluding rectangles, void, at most one crowd segment per
    category) and a prediction (relabelled, shifted, spurious segments, pixel
    noise, class swaps); ids below 2^24 as PNGs store them.

    Returns:
        tuple: GT ids (int64 (H, W)), GT segments, predicted ids, predicted
        segments.
    """
    h, w = shape
    cat_ids = [c['id'] for c in CATEGORIES]
    gt = np.zeros((h, w), np.int64)
    pool = rng.choice(2**24 - 1, size=24, replace=False) + 1
    _paint_rectangles(rng, gt, pool[:rng.integers(1, 9)])
    _paint_rectangles(rng, gt, [0] * rng.integers(0, 3))  # void
    gt_cat = {int(i): int(rng.choice(cat_ids)) for i in pool[:8]}
    present = [i for i in np.unique(gt).tolist() if i]
    crowd, crowd_cats = set(), set()
    for i in present:
        if rng.random() < 0.25 and gt_cat[i] not in crowd_cats:
            crowd.add(i)
            crowd_cats.add(gt_cat[i])
    gt_segments = _segments(gt, gt_cat, crowd)

    relabel = {0: 0}
    relabel.update({i: int(pool[8 + k]) for k, i in enumerate(present)})
    pred = np.vectorize(relabel.get, otypes=[np.int64])(gt)
    if rng.random() < 0.5:
        pred = np.roll(pred, tuple(rng.integers(-2, 3, size=2)), axis=(0, 1))
    _paint_rectangles(rng, pred, pool[16:16 + rng.integers(0, 4)])
    noise = rng.random((h, w)) < 0.05
    pred[noise] = rng.choice(pool[8:20], size=int(noise.sum()))
    pred_cat = {relabel[i]: gt_cat[i] for i in present}
    for i in pool[8:20].tolist():
        if i not in pred_cat or rng.random() < 0.2:
            pred_cat[i] = int(rng.choice(cat_ids))
    return gt, gt_segments, pred, _segments(pred, pred_cat)


def write_panoptic_folders(root: str,
                           pairs: List[tuple]) -> Tuple[str, str, str, str]:
    """Write ``(gt_ids, gt_segments, pred_ids, pred_segments)`` pairs as COCO
    panoptic folders; image ids from 1.

    Returns:
        tuple: ``gt_json, gt_dir, pred_json, pred_dir``.
    """
    gt_dir, pred_dir = osp.join(root, 'gt'), osp.join(root, 'pred')
    os.makedirs(gt_dir, exist_ok=True)
    os.makedirs(pred_dir, exist_ok=True)
    images, gt_anns, pred_anns = [], [], []
    for image_id, (gt, gt_segments, pred,
                   pred_segments) in enumerate(pairs, 1):
        png = f'{image_id:06d}.png'
        write_png(osp.join(gt_dir, png), gt)
        write_png(osp.join(pred_dir, png), pred)
        images.append(dict(id=image_id, height=gt.shape[0], width=gt.shape[1]))
        gt_anns.append(
            dict(image_id=image_id, file_name=png, segments_info=gt_segments))
        pred_anns.append(
            dict(
                image_id=image_id, file_name=png, segments_info=pred_segments))
    gt_json, pred_json = osp.join(root, 'gt.json'), osp.join(root, 'pred.json')
    with open(gt_json, 'w') as f:
        json.dump(
            dict(images=images, annotations=gt_anns, categories=CATEGORIES), f)
    with open(pred_json, 'w') as f:
        json.dump(dict(annotations=pred_anns), f)
    return gt_json, gt_dir, pred_json, pred_dir
