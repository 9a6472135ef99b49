"""What :class:`~.coco_panoptic_metric.CocoPanopticMetric` reads of one image:

its GT (read once) and the model's three predictions, checked and converted to
dataset category ids.
"""
import logging
import os.path as osp
from typing import Dict, List, Optional, Tuple

import cv2
import numpy as np
import torch
from mmengine.logging import print_log

from mmpanfpn.datasets.panoptic_format import (VOID_ID, UnlistedSegmentIds,
                                               id2rgb, read_panoptic_png,
                                               segment_index)
from mmpanfpn.utils.atomic_io import atomic_write
from ..functional.coco_instances import encode_masks
from ..functional.label_space import LabelSpace
from ..functional.pq import area_mismatches

# at most this many area disagreements are named per image
MAX_AREA_LINES = 5


def to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _squeeze_map(value) -> np.ndarray:
    """A (1, H, W) or (H, W) map as (H, W)."""
    array = to_numpy(value)
    return array[0] if array.ndim == 3 and array.shape[0] == 1 else array


class ImageGT:
    """One image's GT: the (H, W) id map, its segments (dataset category ids)
    and the PNG path; the per-pixel segment index and the pixel areas are
    computed on first use.

    Args:
        ids (np.ndarray): (H, W) segment ids.
        segments (list[dict]): ``{'id', 'category_id', 'iscrowd'}``.
        path (str): The PNG, named in errors.
        img_id: The image's id.
    """

    def __init__(self, ids: np.ndarray, segments: List[dict], path: str,
                 img_id) -> None:
        self.ids, self.segments, self.path = ids, segments, path
        self.img_id = img_id
        self.areas: Optional[Dict[int, int]] = None  # set by PQ if it runs
        self._slots = None

    def where(self) -> str:
        return f'image {self.img_id!r} ({self.path})'

    def slots(self) -> Tuple[np.ndarray, List[dict]]:
        """Index every pixel by its segment, checking the PNG against
        ``segments_info`` (computed once).

        Returns:
            tuple: ``slots`` (H, W), 0 on void and ``k + 1`` on
            ``ordered[k]``, and ``ordered``: the segments sorted by id.
        """
        if self._slots is None:
            ordered = sorted(self.segments, key=lambda s: s['id'])
            ids = [VOID_ID] + [s['id'] for s in ordered]
            if len(set(ids)) != len(ids):
                raise ValueError(f'{self.where()}: a segment id is repeated '
                                 'or is the void id 0')
            try:
                slots = segment_index(self.ids, ids)
            except UnlistedSegmentIds as err:
                raise ValueError(
                    f'{self.where()}: segment id {err.ids[0]} '
                    'is in the PNG but not in segments_info') from None
            counts = np.bincount(slots.ravel(), minlength=len(ids))
            empty = np.flatnonzero(counts[1:] == 0)
            if empty.size:
                raise ValueError(
                    f'{self.where()}: segment id {ordered[empty[0]]["id"]} '
                    'is in segments_info but not in the PNG')
            if self.areas is None:
                self.areas = dict(zip(ids[1:], counts[1:].tolist()))
            self._slots = slots, ordered
        return self._slots

    def check_areas(self) -> int:
        """Warn, once for the image, of JSON areas that are not the pixel
        counts; return how many."""
        if self.areas is None:
            self.slots()  # counts them
        wrong = area_mismatches(self.segments, self.areas)
        if wrong:
            named = '; '.join(
                f'segment {seg_id}: "area" {json_area} in JSON, {pixels} '
                f'pixels'
                for seg_id, json_area, pixels in wrong[:MAX_AREA_LINES])
            more = (f' (and {len(wrong) - MAX_AREA_LINES} more)'
                    if len(wrong) > MAX_AREA_LINES else '')
            print_log(
                f'GT of image {self.img_id!r} ({self.path}): {named}{more}; '
                'PQ uses the pixel counts',
                logger='current',
                level=logging.WARNING)
        return len(wrong)


def predicted_panoptic(pred: dict, labels: LabelSpace,
                       img_id) -> Tuple[np.ndarray, List[dict]]:
    """The predicted id map (H, W) and its segments with dataset category
    ids."""
    if 'sem_seg' not in pred or 'segments_info' not in pred:
        raise ValueError(
            f'image {img_id!r}: pred_panoptic_seg needs "sem_seg" (1, H, '
            'W) segment ids and "segments_info" in its metainfo')
    pred_ids = _squeeze_map(pred['sem_seg'])
    segments = []
    for k, seg in enumerate(pred['segments_info']):
        if 'id' not in seg or 'category' not in seg:
            raise ValueError(
                f'image {img_id!r}: predicted segments_info[{k}] needs '
                f'"id" and "category" (a label), got {sorted(seg)}')
        segments.append(
            dict(
                id=int(seg['id']),
                category_id=labels.category_id(seg['category'], img_id,
                                               f'segment {seg["id"]}')))
    return pred_ids.astype(np.int64, copy=False), segments


def predicted_instances(pred: dict, labels: LabelSpace, img_id,
                        with_masks: bool) -> dict:
    """Detections as mmdet's ``CocoMetric.results2json`` takes them, ``labels``
    indexing the thing categories."""
    keys = ('bboxes', 'scores', 'labels') + (('masks', ) if with_masks else ())
    for key in keys:
        if key not in pred:
            raise ValueError(f'image {img_id!r}: pred_instances has no '
                             f'"{key}"')
    result = dict(
        img_id=img_id,
        bboxes=to_numpy(pred['bboxes']).astype(np.float32),
        scores=to_numpy(pred['scores']).astype(np.float32),
        labels=labels.thing_index(
            to_numpy(pred['labels']).astype(np.int64), img_id))
    if with_masks:
        result['masks'] = encode_masks(to_numpy(pred['masks']))
    return result


def predicted_semantic(pred: dict, gt: ImageGT) -> np.ndarray:
    """The (H, W) predicted dataset labels, checked against the GT's size."""
    if 'sem_seg' not in pred:
        raise ValueError(f'image {gt.img_id!r}: pred_sem_seg has no '
                         '"sem_seg"')
    pred_labels = _squeeze_map(pred['sem_seg'])
    if pred_labels.shape != gt.ids.shape:
        raise ValueError(
            f'image {gt.img_id!r}: pred_sem_seg is {pred_labels.shape}, the '
            f'GT is {gt.ids.shape}; predict at the original size')
    return pred_labels


def write_panoptic_png(folder: str, sample: dict, img_id, pred_ids: np.ndarray,
                       segments: List[dict]) -> dict:
    """Write the image's submission PNG into ``folder`` (atomically) and return
    its annotation."""
    if 'img_path' in sample:
        stem = osp.splitext(osp.basename(sample['img_path']))[0]
    else:
        stem = str(img_id)
    file_name = f'{stem}.png'
    ok, encoded = cv2.imencode('.png', id2rgb(pred_ids)[..., ::-1])
    if not ok:
        raise ValueError(f'image {img_id!r}: could not encode its PNG')
    atomic_write(encoded.tobytes(), osp.join(folder, file_name))
    ids, counts = np.unique(pred_ids, return_counts=True)
    area = dict(zip(ids.tolist(), counts.tolist()))
    return dict(
        image_id=img_id,
        file_name=file_name,
        segments_info=[
            dict(
                id=s['id'],
                category_id=s['category_id'],
                iscrowd=0,
                area=area.get(s['id'], 0)) for s in segments
        ])


def read_ground_truth(sample: dict, img_id, ann: Optional[dict],
                      seg_prefix: Optional[str], labels: LabelSpace,
                      backend_args: Optional[dict]) -> ImageGT:
    """The GT of an image, from its ``ann_file`` annotation ``ann`` or else
    from the data sample (``seg_map_path``, ``segments_info``)."""
    if ann is not None:
        path = (
            osp.join(seg_prefix, ann['file_name'])
            if seg_prefix else sample.get('seg_map_path'))
        segments = ann['segments_info']
    else:
        path = sample.get('seg_map_path')
        segments = sample.get('segments_info')
        if segments is None:
            raise ValueError(
                f'image {img_id!r}: without ann_file the data sample '
                'needs "segments_info" (add it to PackDetInputs\' '
                'meta_keys)')
        segments = [labels.dataset_segment(seg, img_id) for seg in segments]
    if path is None:
        raise ValueError(
            f'image {img_id!r}: no GT PNG: set seg_prefix, or keep '
            '"seg_map_path" in PackDetInputs\' meta_keys')
    ids = read_panoptic_png(path, backend_args=backend_args, dtype=np.uint32)
    return ImageGT(ids, segments, path, img_id)
