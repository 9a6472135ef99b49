"""A deterministic synthetic COCO-panoptic dataset, small enough to learn on
CPU.

Layout written under ``out_dir``::

    train/000000.jpg ...                      images
    val/000000.jpg ...
    annotations/panoptic_train.json           COCO panoptic annotations
    annotations/panoptic_train/000000.png     RGB-encoded segment ids
    annotations/panoptic_val.json, annotations/panoptic_val/
    semantic/train/000000.png                 mmseg view: label per pixel,
    semantic/val/000000.png                   255 = ignore (void)

Scenes: textured stuff bands (sky, water, grass) behind solid-coloured thing
shapes (circle, square, triangle) that may overlap; some images hold a crowd
(several small shapes of one class annotated as one ``iscrowd`` segment), some
have void pixels (a black blotch), and some hold stuff only. Thing and stuff
categories are interleaved and their ids are not contiguous, as a custom
dataset may have them: code that assumes "things first" fails on it.
"""
import json
import os
import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import numpy as np

from mmpanfpn.utils.atomic_io import atomic_write
from .panoptic_format import id2rgb

# Interleaved on purpose (see module docstring).
CATEGORIES = [
    dict(id=1, name='circle', isthing=1, color=[220, 40, 40]),
    dict(id=2, name='sky', isthing=0, color=[135, 190, 235]),
    dict(id=4, name='square', isthing=1, color=[40, 180, 60]),
    dict(id=5, name='water', isthing=0, color=[30, 60, 140]),
    dict(id=7, name='triangle', isthing=1, color=[250, 210, 30]),
    dict(id=9, name='grass', isthing=0, color=[70, 120, 30]),
]
SEMANTIC_CLASSES = tuple(c['name'] for c in CATEGORIES)
IGNORE_INDEX = 255


def _stuff_texture(name: str, h: int, w: int,
                   rng: np.random.RandomState) -> np.ndarray:
    """An (h, w, 3) uint8 texture; each stuff class has its own pattern."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    noise = rng.normal(0, 8, (h, w, 1)).astype(np.float32)
    if name == 'sky':  # smooth vertical gradient
        base = np.array([135, 190, 235], np.float32) + (yy / h * 30)[..., None]
    elif name == 'water':  # horizontal waves
        phase = rng.uniform(0, 2 * np.pi)
        wave = 25 * np.sin(xx / 5.0 + yy / 3.0 + phase)[..., None]
        base = np.array([30, 60, 140], np.float32) + wave
    else:  # grass: vertical stripes
        stripes = 30 * (((xx + rng.randint(4)) // 3) % 2)[..., None]
        base = np.array([70, 120, 30], np.float32) + stripes
    return np.clip(base + noise, 0, 255).astype(np.uint8)


def _shape_mask(kind: str, h: int, w: int, cx: float, cy: float,
                r: float) -> np.ndarray:
    """A boolean (h, w) mask of a circle, square or triangle."""
    canvas = np.zeros((h, w), np.uint8)
    if kind == 'circle':
        cv2.circle(canvas, (int(cx), int(cy)), int(r), 1, -1)
    elif kind == 'square':
        cv2.rectangle(canvas, (int(cx - r), int(cy - r)),
                      (int(cx + r), int(cy + r)), 1, -1)
    else:
        pts = np.array([[cx, cy - r], [cx - r, cy + r], [cx + r, cy + r]],
                       np.int32)
        cv2.fillPoly(canvas, [pts], 1)
    return canvas.astype(bool)


def _bbox_xywh(mask: np.ndarray) -> List[int]:
    ys, xs = np.nonzero(mask)
    x0, y0 = int(xs.min()), int(ys.min())
    return [x0, y0, int(xs.max()) - x0 + 1, int(ys.max()) - y0 + 1]


def make_scene(rng: np.random.RandomState, h: int, w: int,
               stuff_only: bool) -> Tuple[np.ndarray, np.ndarray, list]:
    """Draw one scene.

    Returns:
        tuple: image (h, w, 3) RGB uint8, segment-id map (h, w) int64 (0 =
        void) and a list of ``(segment_id, category_id, iscrowd)``.
    """
    cats = {c['name']: c for c in CATEGORIES}
    image = np.zeros((h, w, 3), np.uint8)
    seg_ids = np.zeros((h, w), np.int64)
    segments = []
    used_ids = set()

    def new_id() -> int:
        while True:  # random ids exercise all three RGB channels
            sid = int(rng.randint(1, 256**3))
            if sid not in used_ids:
                used_ids.add(sid)
                return sid

    # Stuff: 1-3 horizontal bands with wobbly borders, from top to bottom.
    stuff_names = ['sky', 'water', 'grass']
    kept = sorted(rng.choice(3, size=rng.randint(1, 4), replace=False))
    bounds = np.sort(rng.uniform(0.25, 0.75, len(kept) - 1)) * h
    xx = np.arange(w)
    band_of_pixel = np.zeros((h, w), np.int64)
    for k, b in enumerate(bounds):
        border = b + 4 * np.sin(xx / 7.0 + rng.uniform(0, 6))
        band_of_pixel += (np.arange(h)[:, None] >= border[None, :])
    for band, stuff_index in enumerate(kept):
        region = band_of_pixel == band
        name = stuff_names[stuff_index]
        image[region] = _stuff_texture(name, h, w, rng)[region]
        sid = new_id()
        seg_ids[region] = sid
        segments.append((sid, cats[name]['id'], 0))

    # Void: a black blotch in some images (unlabeled pixels).
    if rng.rand() < 0.3:
        cx, cy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.05, 0.12) * min(h, w)
        void = _shape_mask('circle', h, w, cx, cy, r)
        image[void] = 0
        seg_ids[void] = 0

    if not stuff_only:
        thing_names = ['circle', 'square', 'triangle']
        # A crowd: several small shapes of one class as a single segment.
        if rng.rand() < 0.2:
            name = thing_names[rng.randint(3)]
            crowd = np.zeros((h, w), bool)
            cx0, cy0 = rng.uniform(0.2, 0.8) * w, rng.uniform(0.2, 0.8) * h
            for _ in range(5):
                crowd |= _shape_mask(name, h, w,
                                     cx0 + rng.uniform(-0.12, 0.12) * w,
                                     cy0 + rng.uniform(-0.12, 0.12) * h,
                                     0.04 * min(h, w))
            sid = new_id()
            image[crowd] = cats[name]['color']
            seg_ids[crowd] = sid
            segments.append((sid, cats[name]['id'], 1))
        # Individual things; later ones occlude earlier ones.
        for _ in range(rng.randint(1, 5)):
            name = thing_names[rng.randint(3)]
            r = rng.uniform(0.1, 0.2) * min(h, w)
            cx, cy = rng.uniform(r, w - r), rng.uniform(r, h - r)
            mask = _shape_mask(name, h, w, cx, cy, r)
            colour = np.array(cats[name]['color'], np.float32)
            shade = rng.uniform(0.85, 1.15)
            image[mask] = np.clip(colour * shade, 0, 255).astype(np.uint8)
            sid = new_id()
            seg_ids[mask] = sid
            segments.append((sid, cats[name]['id'], 0))

    # Drop segments left with too few pixels after occlusion.
    present, counts = np.unique(seg_ids, return_counts=True)
    area = dict(zip(present.tolist(), counts.tolist()))
    small = [sid for sid, _, _ in segments if area.get(sid, 0) < 16]
    for sid in small:
        seg_ids[seg_ids == sid] = 0
    segments = [s for s in segments if s[0] not in small]
    return image, seg_ids, segments


def _write_split(out_dir: str, split: str, num_images: int, size: Sequence,
                 rng: np.random.RandomState, stuff_only_ratio: float) -> None:
    h, w = size
    img_dir = osp.join(out_dir, split)
    pan_dir = osp.join(out_dir, 'annotations', f'panoptic_{split}')
    sem_dir = osp.join(out_dir, 'semantic', split)
    for d in (img_dir, pan_dir, sem_dir):
        os.makedirs(d, exist_ok=True)
    label_of_cat = {c['id']: i for i, c in enumerate(CATEGORIES)}

    images, annotations = [], []
    progress = _progress(num_images, f'synthetic {split}')
    for index in range(num_images):
        stuff_only = rng.rand() < stuff_only_ratio
        image, seg_ids, segments = make_scene(rng, h, w, stuff_only)
        stem = f'{index:06d}'
        cv2.imwrite(
            osp.join(img_dir, f'{stem}.jpg'), image[..., ::-1],
            [cv2.IMWRITE_JPEG_QUALITY, 95])
        cv2.imwrite(
            osp.join(pan_dir, f'{stem}.png'),
            id2rgb(seg_ids)[..., ::-1])

        semantic = np.full((h, w), IGNORE_INDEX, np.uint8)
        segments_info = []
        for sid, category_id, iscrowd in segments:
            mask = seg_ids == sid
            semantic[mask] = label_of_cat[category_id]
            segments_info.append(
                dict(
                    id=sid,
                    category_id=category_id,
                    iscrowd=iscrowd,
                    area=int(mask.sum()),
                    bbox=_bbox_xywh(mask)))
        cv2.imwrite(osp.join(sem_dir, f'{stem}.png'), semantic)

        images.append(
            dict(id=index, file_name=f'{stem}.jpg', height=h, width=w))
        annotations.append(
            dict(
                image_id=index,
                file_name=f'{stem}.png',
                segments_info=segments_info))
        progress.update()

    categories = [
        dict(
            id=c['id'],
            name=c['name'],
            isthing=c['isthing'],
            supercategory='shape' if c['isthing'] else 'texture',
            color=c['color']) for c in CATEGORIES
    ]
    content = dict(
        info=dict(description='mmpanfpn synthetic panoptic dataset'),
        images=images,
        annotations=annotations,
        categories=categories)
    json_path = osp.join(out_dir, 'annotations', f'panoptic_{split}.json')
    # the JSON appears only when complete
    atomic_write(json.dumps(content), json_path)


class _NoProgress:

    def update(self):
        pass


def _progress(total: int, title: str):
    if total < 20:
        return _NoProgress()
    from mmengine.utils import ProgressBar
    print(title)
    return ProgressBar(total)


def make_synthetic_panoptic(out_dir: str,
                            num_train: int = 240,
                            num_val: int = 40,
                            size: Sequence = (128, 128),
                            seed: int = 0,
                            stuff_only_ratio: float = 0.1) -> str:
    """Write the synthetic dataset (see module docstring) and return its root.

    The output depends only on the arguments: the same seed gives the same
    bytes. Train and val draw from independent streams, so changing
    ``num_train`` leaves the val split unchanged.
    """
    for split, num, offset in (('train', num_train, 0), ('val', num_val, 1)):
        rng = np.random.RandomState([seed, offset])
        _write_split(out_dir, split, num, size, rng, stuff_only_ratio)
    return out_dir
