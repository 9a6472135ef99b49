"""Instances in the COCO format for box and mask AP: predicted masks as RLE,
and GT instances derived from a panoptic id map (pycocotools)."""
from typing import Dict, List, Sequence

import numpy as np
import pycocotools.mask as mask_util


def encode_masks(masks: np.ndarray) -> List[dict]:
    """RLEs of (N, H, W) masks, in one pycocotools call (it wants (H, W, N)
    uint8 in Fortran order)."""
    if len(masks) == 0:
        return []
    if masks.dtype == bool:
        masks = masks.view(np.uint8)  # no copy
    # (N, W, H) in C order is (H, W, N) in Fortran order: one copy
    return mask_util.encode(
        np.ascontiguousarray(masks.transpose(0, 2, 1),
                             dtype=np.uint8).transpose(2, 1, 0))


def panoptic_gt_instances(gt_slots: np.ndarray, segments: Sequence[dict],
                          categories: Dict[int, dict], img_id) -> dict:
    """The thing segments of a panoptic GT as COCO instances (crowd ones with
    ``iscrowd=1``): RLE masks, boxes and areas from the pixels.

    Args:
        gt_slots (np.ndarray): (H, W) 0 on void, ``k + 1`` on
            ``segments[k]``.
        segments (Sequence[dict]): ``{'id', 'category_id', 'iscrowd'}``.
        categories (dict): ``{category_id: {'isthing', ...}}``.
        img_id: The image's id.

    Returns:
        dict: ``img_id``, ``height``, ``width`` and ``anns`` (COCO
        annotations without ``id``).
    """
    height, width = gt_slots.shape
    slots = [
        k + 1 for k, s in enumerate(segments)
        if categories[s['category_id']]['isthing']
    ]
    rles = encode_masks(gt_slots[None] == np.array(slots, np.int64).reshape(
        -1, 1, 1)) if slots else []
    anns = []
    for slot, rle in zip(slots, rles):
        seg = segments[slot - 1]
        anns.append(
            dict(
                image_id=img_id,
                category_id=seg['category_id'],
                iscrowd=int(seg.get('iscrowd', 0)),
                bbox=mask_util.toBbox(rle).tolist(),
                area=float(mask_util.area(rle)),
                segmentation=dict(
                    size=rle['size'], counts=rle['counts'].decode())))
    return dict(img_id=img_id, height=height, width=width, anns=anns)


def coco_instances_json(gt_records: List[dict], cat_ids: Sequence[int],
                        names: Sequence[str]) -> dict:
    """A COCO instances file of :func:`panoptic_gt_instances` records.

    Args:
        gt_records (list[dict]): One record per image.
        cat_ids (Sequence[int]): The thing category ids, with their
            ``names``.

    Returns:
        dict: ``images``, ``annotations`` (ids from 1, as pycocotools
        needs) and ``categories``.
    """
    images, annotations = [], []
    for gt in gt_records:
        images.append(
            dict(id=gt['img_id'], height=gt['height'], width=gt['width']))
        for ann in gt['anns']:
            annotations.append(dict(ann, id=len(annotations) + 1))
    categories = [
        dict(id=cat_id, name=name) for cat_id, name in zip(cat_ids, names)
    ]
    return dict(images=images, annotations=annotations, categories=categories)
