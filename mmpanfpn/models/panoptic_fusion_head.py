"""The heuristic that merges instance and semantic predictions into one
panoptic map (Kirillov et al., 2019, Sec.

4 "Inference").
"""
from typing import List, Optional, Tuple

import torch
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from mmpanfpn.registry import MODELS


def combine_semantic_and_instances(
        masks: Tensor,
        labels: Tensor,
        scores: Tensor,
        semantic_labels: Tensor,
        num_things_classes: int,
        num_stuff_classes: int,
        score_thr: float = 0.6,
        mask_overlap: float = 0.5,
        stuff_area_limit: int = 4096,
        mask_boxes: Optional[Tensor] = None) -> Tuple[Tensor, List[dict]]:
    """Paint instances best-first, then stuff on the pixels left free.

    1. Instances scoring at most ``score_thr`` are dropped (strictly above
       is kept, as mmdet's RoI-head filter, so both keep the same set). The
       rest, by decreasing score, claim their pixels not taken yet; one that
       would lose more than ``mask_overlap`` of its area to better
       instances is dropped.
    2. Instances win over stuff: stuff only fills pixels no instance took.
    3. A stuff class with fewer than ``stuff_area_limit`` such pixels, and
       every pixel the semantic branch calls 'other' (or void), is void.

    Args:
        masks (Tensor): (K, H, W) bool instance masks.
        labels (Tensor): (K,) thing labels, ``0 .. T-1``.
        scores (Tensor): (K,) instance scores.
        semantic_labels (Tensor): (H, W) int dataset labels from the
            semantic branch; values in ``T .. T+S-1`` are stuff, anything
            else ('other', void) is not.
        num_things_classes (int): T.
        num_stuff_classes (int): S.
        score_thr (float): Instances must score above it. Defaults to 0.6.
        mask_overlap (float): Largest share of an instance's area that
            better instances may already hold. Defaults to 0.5.
        stuff_area_limit (int): Smallest stuff segment kept, in pixels.
            Defaults to 4096.
        mask_boxes (Tensor, optional): (K, 4) integer pixel boxes
            ``(x0, y0, x1, y1)``, ends excluded, outside which each mask is
            empty: only those windows of the map are then read and written,
            instead of the whole (H, W) map per instance. Defaults to None
            (whole map).

    Returns:
        tuple[Tensor, list[dict]]:

        - panoptic_seg: (H, W) int64, 0 for void, ``1 .. N`` the segments
          (instances first, in placement order, then stuff by label).
        - segments_info: the N segments, ``{'id', 'category'`` (dataset
          label), ``'isthing', 'score'`` (None for stuff), ``'area'}``.
    """
    panoptic_seg = torch.zeros(
        semantic_labels.shape, dtype=torch.long, device=semantic_labels.device)
    segments_info = []

    # compared in the scores' dtype, as mmdet's filter does (the Python
    # float 0.6 is below float32 0.6); the sort is stable, so that equal
    # scores keep the RoI head's (score-sorted) order
    candidates = torch.nonzero(scores > score_thr).flatten()
    order = candidates[torch.sort(
        scores[candidates], descending=True, stable=True).indices]
    boxes = None if mask_boxes is None else mask_boxes.tolist()
    for k in order.tolist():
        if boxes is None:
            window = (slice(None), slice(None))
        else:
            x0, y0, x1, y1 = boxes[k]
            window = (slice(y0, y1), slice(x0, x1))
        mask = masks[k][window].bool()
        taken = panoptic_seg[window]  # a view: filling it fills the map
        area = int(mask.sum())
        free = mask & (taken == 0)
        free_area = int(free.sum())
        if free_area == 0 or (area - free_area) / area > mask_overlap:
            continue
        segment_id = len(segments_info) + 1
        taken.masked_fill_(free, segment_id)
        segments_info.append(
            dict(
                id=segment_id,
                category=int(labels[k]),
                isthing=True,
                score=float(scores[k]),
                area=free_area))

    # Stuff areas are counted on the free pixels only, in one bincount; a
    # lookup table then paints every kept class at once.
    is_free_stuff = (panoptic_seg == 0) & (
        semantic_labels >= num_things_classes) & (
            semantic_labels < num_things_classes + num_stuff_classes)
    stuff_of_pixel = semantic_labels[is_free_stuff].long() - num_things_classes
    areas = torch.bincount(stuff_of_pixel, minlength=num_stuff_classes)
    kept = torch.nonzero(areas >= stuff_area_limit).flatten()
    segment_of_stuff = torch.zeros_like(areas)
    segment_of_stuff[kept] = torch.arange(
        len(kept), device=kept.device) + len(segments_info) + 1
    panoptic_seg[is_free_stuff] = segment_of_stuff[stuff_of_pixel]
    for stuff, area in zip(kept.tolist(), areas[kept].tolist()):
        segments_info.append(
            dict(
                id=len(segments_info) + 1,
                category=num_things_classes + stuff,
                isthing=False,
                score=None,
                area=area))
    return panoptic_seg, segments_info


@MODELS.register_module()
class HeuristicFusionHead(BaseModule):
    """Panoptic fusion of Panoptic FPN, configured as mmdet's
    ``HeuristicFusionHead``; see :func:`combine_semantic_and_instances`.

    Args:
        num_things_classes (int): Number of thing classes T. Defaults to 80.
        num_stuff_classes (int): Number of stuff classes S. Defaults to 53.
        test_cfg (:obj:`ConfigDict` or dict, optional): ``score_thr``
            (0.6), ``mask_overlap`` (0.5) and ``stuff_area_limit`` (4096,
            in pixels of the output). The detector passes its
            ``test_cfg.panoptic`` here.
        init_cfg (:obj:`ConfigDict` or dict or list, optional): Unused, the
            head has no weights. Defaults to None.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 test_cfg: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.num_classes = num_things_classes + num_stuff_classes
        test_cfg = test_cfg or {}
        self.score_thr = test_cfg.get('score_thr', 0.6)
        self.mask_overlap = test_cfg.get('mask_overlap', 0.5)
        self.stuff_area_limit = test_cfg.get('stuff_area_limit', 4096)

    def predict(
        self,
        instances_list: List[InstanceData],
        semantic_labels_list: List[Tensor],
        mask_boxes_list: Optional[List[Optional[Tensor]]] = None
    ) -> List[PixelData]:
        """Fuse every image.

        Args:
            instances_list (list[:obj:`InstanceData`]): ``masks`` (K, H, W),
                ``labels`` (K,) and ``scores`` (K,) of every image.
            semantic_labels_list (list[Tensor]): (H, W) dataset labels of
                every image (see :meth:`PanopticFPNHead.predict_labels`).
            mask_boxes_list (list[Tensor | None], optional): Per image, the
                (K, 4) boxes outside which the masks are empty, or None (see
                :func:`combine_semantic_and_instances`). Defaults to None.

        Returns:
            list[:obj:`PixelData`]: ``sem_seg`` (1, H, W) int64 segment ids
            (0 void) with ``segments_info`` in its metainfo.
        """
        if mask_boxes_list is None:
            mask_boxes_list = [None] * len(instances_list)
        results = []
        for instances, semantic_labels, mask_boxes in zip(
                instances_list, semantic_labels_list, mask_boxes_list):
            panoptic_seg, segments_info = combine_semantic_and_instances(
                instances.masks,
                instances.labels,
                instances.scores,
                semantic_labels,
                self.num_things_classes,
                self.num_stuff_classes,
                score_thr=self.score_thr,
                mask_overlap=self.mask_overlap,
                stuff_area_limit=self.stuff_area_limit,
                mask_boxes=mask_boxes)
            results.append(
                PixelData(
                    metainfo=dict(segments_info=segments_info),
                    sem_seg=panoptic_seg[None]))
        return results
