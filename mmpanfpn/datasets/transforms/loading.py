import cv2
import numpy as np
from mmcv.transforms import LoadImageFromFile as MMCVLoadImageFromFile
from mmdet.datasets.transforms import LoadAnnotations
from mmdet.structures.mask import BitmapMasks

from mmpanfpn.registry import TRANSFORMS
from ..panoptic_format import (VOID_ID, UnlistedSegmentIds, read_panoptic_png,
                               segment_index)


@TRANSFORMS.register_module()
class LoadImageFromFile(MMCVLoadImageFromFile):
    """mmcv's ``LoadImageFromFile`` with errors that name the image: a missing
    file is a ``FileNotFoundError``, one that does not decode a ``ValueError``
    (mmcv asserts, or lets OpenCV fail on an empty file).

    Same arguments as mmcv's; configs in the ``mmpanfpn`` scope get it by the
    usual name.
    """

    def transform(self, results: dict) -> dict:
        path = results['img_path']
        try:
            loaded = super().transform(results)
        except FileNotFoundError:
            raise FileNotFoundError(f'{path}: image not found') from None
        except (AssertionError, cv2.error, ValueError):
            raise ValueError(f'{path}: not a readable image') from None
        return loaded


@TRANSFORMS.register_module()
class LoadPanopticAnnotations(LoadAnnotations):
    """Load a COCO panoptic PNG into what the joint detector trains on.

    Added keys: ``gt_bboxes``, ``gt_bboxes_labels``, ``gt_ignore_flags``
    (from the dataset's ``instances``), ``gt_masks`` (one bitmap per
    instance, in the same order), ``gt_seg_map`` ((H, W) uint8: the
    contiguous label of every pixel, things and stuff, crowd included,
    ``ignore_index`` on void) and ``gt_panoptic_ids`` ((H, W) int64 segment
    ids, for in-memory evaluation).

    The PNG and the JSON are cross-checked: a segment id in one and not the
    other is an error naming the file and the id.

    Args:
        ignore_index (int): Label of void pixels. Defaults to 255.
        with_panoptic_ids (bool): Keep the raw id map as
            ``gt_panoptic_ids``. Defaults to False.
        **kwargs: ``with_bbox``, ``with_label``, ``with_mask``, ``with_seg``,
            ``backend_args`` as in :class:`mmdet.LoadAnnotations`.
    """

    def __init__(self,
                 with_bbox: bool = True,
                 with_label: bool = True,
                 with_mask: bool = True,
                 with_seg: bool = True,
                 ignore_index: int = 255,
                 with_panoptic_ids: bool = False,
                 **kwargs) -> None:
        super().__init__(
            with_bbox=with_bbox,
            with_label=with_label,
            with_mask=with_mask,
            with_seg=with_seg,
            **kwargs)
        self.ignore_index = ignore_index
        self.with_panoptic_ids = with_panoptic_ids

    def _load_panoptic(self, results: dict) -> None:
        path = results['seg_map_path']
        id_map = read_panoptic_png(path, backend_args=self.backend_args)
        segments = results['segments_info']
        h, w = id_map.shape
        if 'ori_shape' in results and tuple(results['ori_shape']) != (h, w):
            raise ValueError(
                f'{path}: panoptic PNG is {h}x{w} but the image '
                f'{results.get("img_path")} is '
                f'{results["ori_shape"][0]}x{results["ori_shape"][1]}')

        # one pass: the slot of every pixel (0 void, k + 1 segments[k])
        json_ids = [s['id'] for s in segments]
        try:
            slots = segment_index(id_map, [VOID_ID] + json_ids)
        except UnlistedSegmentIds as err:
            raise ValueError(
                f'{path}: segment id {err.ids[0]} is in the PNG but not in '
                'the JSON "segments_info"' +
                (f' (and {len(err.ids) - 1} more)' if len(err.ids) > 1 else '')
            ) from None
        counts = np.bincount(slots.ravel(), minlength=len(json_ids) + 1)
        if (counts[1:] == 0).any():
            missing = json_ids[int(np.flatnonzero(counts[1:] == 0)[0])]
            raise ValueError(f'{path}: segment id {missing} of the JSON '
                             '"segments_info" has no pixel in the PNG')

        if self.with_seg:
            label_of_slot = np.array([self.ignore_index] +
                                     [s['category'] for s in segments],
                                     np.uint8)
            results['gt_seg_map'] = label_of_slot[slots]
            results['ignore_index'] = self.ignore_index
        if self.with_mask:
            slot_of_id = {seg_id: k + 1 for k, seg_id in enumerate(json_ids)}
            instance_slots = np.array(
                [slot_of_id[i['segment_id']] for i in results['instances']],
                np.intp)
            masks = slots[None] == instance_slots.reshape(-1, 1, 1)
            results['gt_masks'] = BitmapMasks(masks.astype(np.uint8), h, w)
        if self.with_panoptic_ids:
            results['gt_panoptic_ids'] = id_map

    def transform(self, results: dict) -> dict:
        if self.with_bbox:
            self._load_bboxes(results)
        if self.with_label:
            self._load_labels(results)
        # Without a PNG (inference on unlabeled images) only boxes load.
        if results.get('seg_map_path') is not None and (
                self.with_mask or self.with_seg or self.with_panoptic_ids):
            self._load_panoptic(results)
        return results

    def __repr__(self) -> str:
        return (f'{self.__class__.__name__}(with_bbox={self.with_bbox}, '
                f'with_mask={self.with_mask}, with_seg={self.with_seg}, '
                f'ignore_index={self.ignore_index})')
