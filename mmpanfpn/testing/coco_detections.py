"""Generated COCO instance sets for checking ``COCOeval`` engines.

:func:`make_detection_set` draws a ground truth (COCO instances format) and
detections (COCO results format) that exercise the corners of the COCO
detection protocol: crowd GT regions (uncompressed RLE, as COCO stores them),
GT as polygons and as compressed RLE, images without GT, images without
detections, an image with neither, images with more than 100 detections
(the default ``maxDets`` cut), objects in every area range (small < 32^2 <
medium < 96^2 < large), a category with detections but no GT and one with GT
but no detections, duplicate detections, detections on crowd regions and
score ties (scores rounded to 2 decimals), so that the order in which ties
are broken matters.
"""
from typing import List, NamedTuple

import numpy as np
import pycocotools.mask as mask_util

# non-contiguous, as COCO's; the last has GT but is never detected, and
# NO_GT_CATEGORY is detected but has no GT
CATEGORY_IDS = (1, 3, 7, 8, 12, 20)
NO_GT_CATEGORY = 21
UNDETECTED_CATEGORY = 20
# image kinds, cycled over the image ids so that every set has each
KINDS = ('crowded', 'no_gt', 'no_detections', 'nothing', 'normal', 'normal')


class DetectionSet(NamedTuple):
    gt: dict  # COCO instances: images, annotations, categories
    detections: List[dict]  # results: image_id, category_id, bbox, score,
    # segmentation (compressed RLE, counts as str)


def _ellipse(height: int, width: int, cy: float, cx: float, ry: float,
             rx: float) -> np.ndarray:
    y, x = np.ogrid[:height, :width]
    return ((y - cy) / ry)**2 + ((x - cx) / rx)**2 <= 1


def _random_shape(rng: np.random.Generator, height: int,
                  width: int) -> np.ndarray:
    """A uint8 (H, W) ellipse or rectangle of a random size class (most of them
    small or medium, some large)."""
    limit = min(height, width) // 2 - 1
    ry, rx = rng.integers(
        2, limit, size=2) * rng.choice([0.25, 0.6, 1.0], p=[.4, .35, .25])
    ry, rx = max(ry, 1.5), max(rx, 1.5)
    cy = rng.uniform(ry / 2, height - ry / 2)
    cx = rng.uniform(rx / 2, width - rx / 2)
    if rng.random() < 0.5:
        mask = _ellipse(height, width, cy, cx, ry, rx)
    else:
        mask = np.zeros((height, width), bool)
        mask[max(0, int(cy - ry)):int(cy + ry) + 1,
             max(0, int(cx - rx)):int(cx + rx) + 1] = True
    return mask.astype(np.uint8)


def _shifted(rng: np.random.Generator, mask: np.ndarray,
             max_shift: int) -> np.ndarray:
    dy, dx = rng.integers(-max_shift, max_shift + 1, size=2)
    return np.roll(mask, (int(dy), int(dx)), axis=(0, 1))


def _encode(mask: np.ndarray) -> dict:
    rle = mask_util.encode(np.asfortranarray(mask))
    rle['counts'] = rle['counts'].decode()
    return rle


def _uncompressed_rle(mask: np.ndarray) -> dict:
    """COCO's crowd format: run lengths in column-major order, starting with a
    run of zeros."""
    flat = mask.ravel(order='F')
    change = np.flatnonzero(np.diff(flat)) + 1
    bounds = np.concatenate(([0], change, [flat.size]))
    counts = np.diff(bounds).tolist()
    if flat.size and flat[0]:
        counts = [0] + counts
    return {'counts': counts, 'size': list(mask.shape)}


def _polygon(rng: np.random.Generator, height: int, width: int) -> list:
    """A random convex-ish polygon (flattened x, y list) inside the image."""
    cy, cx = rng.uniform(8, height - 8), rng.uniform(8, width - 8)
    radius = rng.uniform(3, min(height, width) / 3)
    angles = np.sort(rng.uniform(0, 2 * np.pi, size=int(rng.integers(3, 9))))
    xs = np.clip(cx + radius * np.cos(angles), 0, width - 1)
    ys = np.clip(cy + radius * np.sin(angles), 0, height - 1)
    return [np.round(np.stack([xs, ys], 1).ravel(), 2).tolist()]


def _box(mask: np.ndarray) -> list:
    return mask_util.toBbox(mask_util.encode(np.asfortranarray(mask))).tolist()


def _detection(rng, image_id: int, category_id: int, mask: np.ndarray,
               score: float) -> dict:
    # a box a little off the mask's, with fractional coordinates
    x, y, w, h = _box(mask)
    jitter = rng.uniform(-1.5, 1.5, size=4)
    box = [
        x + jitter[0], y + jitter[1],
        max(w + jitter[2], 0.5),
        max(h + jitter[3], 0.5)
    ]
    return dict(
        image_id=image_id,
        category_id=category_id,
        bbox=[round(float(v), 3) for v in box],
        score=round(float(score), 2),
        segmentation=_encode(mask))


def make_detection_set(
    seed: int = 0,
    num_images: int = 12,
    height_range=(120, 300),
    width_range=(140, 320)
) -> DetectionSet:
    """A ground truth and detections over ``num_images`` images of random
    sizes; see the module docstring for what they contain.

    Args:
        seed (int): Seed of every draw.
        num_images (int): At least ``len(KINDS)`` for every kind of image.
        height_range / width_range: ``[low, high)`` image sizes.

    Returns:
        DetectionSet: ``gt`` (COCO instances dict, annotation ids from 1)
        and ``detections`` (a results list, as ``COCO.loadRes`` takes it).
    """
    rng = np.random.default_rng(seed)
    gt_categories = [c for c in CATEGORY_IDS]
    categories = [
        dict(id=c, name=f'category_{c}')
        for c in gt_categories + [NO_GT_CATEGORY]
    ]
    detectable = [c for c in gt_categories if c != UNDETECTED_CATEGORY]
    images, annotations, detections = [], [], []
    for image_id in range(1, num_images + 1):
        kind = KINDS[(image_id - 1) % len(KINDS)]
        height = int(rng.integers(*height_range))
        width = int(rng.integers(*width_range))
        images.append(dict(id=image_id, height=height, width=width))
        objects = []  # (category_id, mask) of the non-crowd GT
        if kind not in ('no_gt', 'nothing'):
            num_objects = int(
                rng.integers(8, 14) if kind ==
                'crowded' else rng.integers(1, 7))
            for _ in range(num_objects):
                cat_id = int(rng.choice(gt_categories))
                if rng.random() < 0.3:  # a polygon, as most COCO GT
                    poly = _polygon(rng, height, width)
                    rle = mask_util.merge(
                        mask_util.frPyObjects(poly, height, width))
                    mask = mask_util.decode(rle)
                    segmentation = poly
                else:
                    mask = _random_shape(rng, height, width)
                    segmentation = _encode(mask)
                area = float(mask.sum())
                if area == 0:
                    continue
                objects.append((cat_id, mask))
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=image_id,
                        category_id=cat_id,
                        segmentation=segmentation,
                        area=area,
                        bbox=_box(mask),
                        iscrowd=0))
            if kind == 'crowded' or rng.random() < 0.4:
                crowd = _random_shape(rng, height, width)
                crowd_cat = int(rng.choice(detectable))
                annotations.append(
                    dict(
                        id=len(annotations) + 1,
                        image_id=image_id,
                        category_id=crowd_cat,
                        segmentation=_uncompressed_rle(crowd),
                        area=float(crowd.sum()),
                        bbox=_box(crowd),
                        iscrowd=1))
                # detections inside the crowd region: matched to it, ignored
                for _ in range(int(rng.integers(1, 4))):
                    part = crowd & _random_shape(rng, height, width)
                    if part.any():
                        detections.append(
                            _detection(rng, image_id, crowd_cat, part,
                                       rng.uniform(0.2, 1.0)))
        if kind in ('no_detections', 'nothing'):
            continue
        # true detections (shifted copies, some duplicated), then false ones
        for cat_id, mask in objects:
            if cat_id == UNDETECTED_CATEGORY or rng.random() < 0.15:
                continue
            copies = 3 if kind == 'crowded' else int(rng.integers(1, 3))
            for _ in range(copies):
                detections.append(
                    _detection(rng, image_id, cat_id, _shifted(rng, mask, 4),
                               rng.uniform(0.3, 1.0)))
        num_false = int(
            rng.integers(110, 150) if kind ==
            'crowded' else rng.integers(0, 12))
        for _ in range(num_false):
            cat_id = int(rng.choice(detectable + [NO_GT_CATEGORY]))
            detections.append(
                _detection(rng, image_id, cat_id,
                           _random_shape(rng, height, width),
                           rng.uniform(0.0, 0.8)))
    gt = dict(images=images, annotations=annotations, categories=categories)
    return DetectionSet(gt, detections)
