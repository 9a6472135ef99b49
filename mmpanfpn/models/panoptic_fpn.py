"""Panoptic FPN (Kirillov et al., 2019): Mask R-CNN and a semantic-FPN branch
on one shared FPN, fused into a panoptic map."""
from typing import List, Optional, Tuple

import torch
from mmdet.models.detectors import TwoStageDetector
from mmdet.models.roi_heads import StandardRoIHead
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.structures import DetDataSample, SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from mmpanfpn.registry import MODELS


@MODELS.register_module()
class PanopticFPN(TwoStageDetector):
    """Panoptic FPN, configured and checkpointed as mmdet's ``PanopticFPN``.

    Mask R-CNN (``backbone``, ``neck``, ``rpn_head``, ``roi_head``) is mmdet's,
    built by :class:`mmdet.models.TwoStageDetector`; this class adds the
    semantic branch, the fusion and a flat ``loss``/``predict``. Attribute
    names are mmdet's, so its checkpoints load unchanged.

    Training loss::

        L = instance_loss_weight * (L_cls + L_box + L_mask)   # RoI head
            + L_rpn + loss_seg.loss_weight * L_seg

    Prediction gives, in one pass, ``pred_instances`` (the RoI head's, at
    ``test_cfg.rcnn.score_thr``, for AP), ``pred_sem_seg`` (dataset labels)
    and ``pred_panoptic_seg`` (fused from the instances scoring above
    ``test_cfg.panoptic.score_thr``).

    Args:
        backbone (:obj:`ConfigDict` or dict): Backbone config.
        neck (:obj:`ConfigDict` or dict, optional): FPN config.
        rpn_head (:obj:`ConfigDict` or dict, optional): RPN config.
        roi_head (:obj:`ConfigDict` or dict, optional): RoI head config, with
            a mask head.
        train_cfg (:obj:`ConfigDict` or dict, optional): ``rpn``,
            ``rpn_proposal`` and ``rcnn`` training configs.
        test_cfg (:obj:`ConfigDict` or dict, optional): ``rpn``, ``rcnn``
            and ``panoptic`` (the fusion's ``score_thr``, ``mask_overlap``,
            ``stuff_area_limit``); ``return_seg_logits=True`` also keeps the
            semantic logits in ``pred_sem_seg.seg_logits``.
        data_preprocessor (:obj:`ConfigDict` or dict, optional): Data
            preprocessor config.
        init_cfg (:obj:`ConfigDict` or dict or list, optional):
            Initialization config.
        semantic_head (:obj:`ConfigDict` or dict, optional): The semantic
            branch, a :class:`PanopticFPNHead`.
        panoptic_fusion_head (:obj:`ConfigDict` or dict, optional): The
            fusion, a :class:`HeuristicFusionHead`.
        instance_loss_weight (float): lambda_i, the weight of the RoI-head
            losses (as detectron2 applies it). Defaults to 1.0.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: OptConfigType = None,
                 rpn_head: OptConfigType = None,
                 roi_head: OptConfigType = None,
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None,
                 semantic_head: OptConfigType = None,
                 panoptic_fusion_head: OptConfigType = None,
                 instance_loss_weight: float = 1.0) -> None:
        super().__init__(
            backbone=backbone,
            neck=neck,
            rpn_head=rpn_head,
            roi_head=roi_head,
            train_cfg=train_cfg,
            test_cfg=test_cfg,
            data_preprocessor=data_preprocessor,
            init_cfg=init_cfg)
        if not (self.with_rpn and self.with_mask and semantic_head
                and panoptic_fusion_head):
            raise ValueError('PanopticFPN needs an rpn_head, a roi_head with '
                             'a mask head, a semantic_head and a '
                             'panoptic_fusion_head')
        self.semantic_head = MODELS.build(semantic_head)
        panoptic_cfg = test_cfg.get('panoptic') if test_cfg else None
        self.panoptic_fusion_head = MODELS.build(
            dict(panoptic_fusion_head, test_cfg=panoptic_cfg))
        self.instance_loss_weight = instance_loss_weight

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Losses of the RPN, the RoI head and the semantic branch.

        Args:
            batch_inputs (Tensor): (N, 3, H, W) normalised, padded images.
            batch_data_samples (list[:obj:`DetDataSample`]): Each with
                ``gt_instances`` (bboxes, labels, masks) and ``gt_sem_seg``.

        Returns:
            dict[str, Tensor]: ``loss_rpn_*``, the RoI head's ``loss_*``
            (times ``instance_loss_weight``) and ``acc``, and ``loss_seg``.
        """
        x = self.extract_feat(batch_inputs)

        proposal_cfg = self.train_cfg.get('rpn_proposal', self.test_cfg.rpn)
        rpn_losses, proposals = self.rpn_head.loss_and_predict(
            x, _class_agnostic(batch_data_samples), proposal_cfg=proposal_cfg)
        roi_losses = self.roi_head.loss(x, proposals, batch_data_samples)
        semantic_losses = self.semantic_head.loss(x, batch_data_samples)

        # the RPN's names must not clash with the RoI head's 'loss_cls'...
        losses = {(name if 'rpn' in name else f'rpn_{name}'): value
                  for name, value in rpn_losses.items()}
        losses.update({
            name:
            value * self.instance_loss_weight if 'loss' in name else value
            for name, value in roi_losses.items()
        })
        losses.update(semantic_losses)
        return losses

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Instances, semantic labels and the panoptic map of every image.

        Args:
            batch_inputs (Tensor): (N, 3, H, W) normalised, padded images.
            batch_data_samples (list[:obj:`DetDataSample`]): Their metainfo
                (``img_shape``, ``ori_shape``, ``batch_input_shape``,
                ``scale_factor``).
            rescale (bool): Predict at ``ori_shape``; otherwise at
                ``img_shape``. Defaults to True.

        Returns:
            list[:obj:`DetDataSample`]: The inputs, each with

            - ``pred_instances``: ``bboxes`` (K, 4), ``labels`` (K,),
              ``scores`` (K,), ``masks`` (K, H, W) bool;
            - ``pred_sem_seg``: ``sem_seg`` (1, H, W) int64 dataset labels
              (stuff ``T .. T+S-1``; thing pixels are ``ignore_index`` unless
              the head predicts all classes);
            - ``pred_panoptic_seg``: ``sem_seg`` (1, H, W) int64 segment ids
              (0 void), with ``segments_info`` in its metainfo (see
              :func:`combine_semantic_and_instances`).
        """
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        x = self.extract_feat(batch_inputs)

        proposals = self.rpn_head.predict(x, batch_data_samples, rescale=False)
        instances_list, mask_boxes_list = self._predict_instances(
            x, proposals, batch_data_samples, rescale)
        keep_logits = self.test_cfg.get('return_seg_logits', False)
        if keep_logits:
            seg_logits_list = self.semantic_head.predict(
                x, batch_img_metas, rescale=rescale)
            if not rescale:
                # drop the padding, so that the logits align with the masks
                seg_logits_list = [
                    logits[:, :meta['img_shape'][0], :meta['img_shape'][1]]
                    for logits, meta in zip(seg_logits_list, batch_img_metas)
                ]
            semantic_labels_list = [
                self.semantic_head.labels_from_logits(logits)
                for logits in seg_logits_list
            ]
        else:
            # the same labels, without the (C, H, W) logits
            seg_logits_list = [None] * len(batch_img_metas)
            semantic_labels_list = self.semantic_head.predict_labels(
                x, batch_img_metas, rescale=rescale)
        del x
        panoptic_list = self.panoptic_fusion_head.predict(
            instances_list, semantic_labels_list, mask_boxes_list)

        for sample, instances, labels, logits, panoptic in zip(
                batch_data_samples, instances_list, semantic_labels_list,
                seg_logits_list, panoptic_list):
            sample.pred_instances = instances
            sample.pred_sem_seg = PixelData(sem_seg=labels[None])
            if keep_logits:
                sample.pred_sem_seg.seg_logits = logits
            sample.pred_panoptic_seg = panoptic
        return batch_data_samples

    def _predict_instances(
            self, x: Tuple[Tensor], proposals: List[InstanceData],
            batch_data_samples: SampleList, rescale: bool
    ) -> Tuple[List[InstanceData], List[Optional[Tensor]]]:
        """The RoI head's instances and, where known, the window outside which
        each mask is empty.

        On CPU, mmdet's ``FCNMaskHead`` pastes every mask one by one inside
        a window around its box (``_do_paste_mask(skip_empty=True)``) into
        an otherwise empty image; those windows, recomputed from the boxes
        it pasted with, let the fusion read boxes instead of whole (H, W)
        masks. Elsewhere (GPU: whole-image paste, other mask heads) the
        windows are None.

        Returns:
            tuple[list[:obj:`InstanceData`], list[Tensor | None]]: The
            instances (``bboxes``, ``labels``, ``scores``, ``masks``) and
            (K, 4) int64 ``(x0, y0, x1, y1)`` mask windows of every image.
        """
        roi_head = self.roi_head
        instances_list = roi_head.predict(
            x, proposals, batch_data_samples, rescale=rescale)
        windowed = (
            x[0].device.type == 'cpu' and isinstance(roi_head, StandardRoIHead)
            and type(roi_head).predict_mask is StandardRoIHead.predict_mask
            and isinstance(roi_head.mask_head, FCNMaskHead)
            and type(roi_head.mask_head)._predict_by_feat_single is
            FCNMaskHead._predict_by_feat_single
            and roi_head.test_cfg.mask_thr_binary >= 0)
        windows = [
            paste_windows(instances.bboxes, instances.masks.shape[-2:])
            if windowed and len(instances) else None
            for instances in instances_list
        ]
        return instances_list, windows

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: Optional[SampleList] = None) -> Tuple:
        """Raw outputs, without post-processing (``mode='tensor'``).

        Args:
            batch_inputs (Tensor): (N, 3, H, W) images.
            batch_data_samples (list[:obj:`DetDataSample`], optional): Only
                their ``img_shape`` is used, for the proposals; the input
                size when None.

        Returns:
            tuple: ``(rpn_outs, roi_outs, seg_logits)``: the RPN's
            ``(cls_scores, bbox_preds)`` per level, the RoI head's
            ``(cls_score, bbox_pred, mask_preds)`` on the proposals, and the
            (N, num_classes, H/4, W/4) semantic logits.
        """
        x = self.extract_feat(batch_inputs)
        if batch_data_samples is None:
            shape = tuple(batch_inputs.shape[-2:])
            batch_img_metas = [
                dict(img_shape=shape, batch_input_shape=shape)
                for _ in range(len(batch_inputs))
            ]
        else:
            batch_img_metas = [s.metainfo for s in batch_data_samples]
        rpn_outs = self.rpn_head(x)
        proposals = self.rpn_head.predict_by_feat(
            *rpn_outs, batch_img_metas=batch_img_metas, rescale=False)
        roi_outs = self.roi_head.forward(x, proposals)
        seg_logits = self.semantic_head(x)
        return rpn_outs, roi_outs, seg_logits


def _class_agnostic(batch_data_samples: SampleList) -> List[DetDataSample]:
    """Copies for the RPN with every box labelled 0; only the boxes are copied
    (by reference), not the masks and label maps that a deepcopy of the samples
    would duplicate."""
    rpn_samples = []
    for sample in batch_data_samples:
        rpn_sample = DetDataSample(metainfo=sample.metainfo)
        rpn_sample.gt_instances = InstanceData(
            bboxes=sample.gt_instances.bboxes,
            labels=torch.zeros_like(sample.gt_instances.labels))
        if 'ignored_instances' in sample:
            rpn_sample.ignored_instances = sample.ignored_instances
        rpn_samples.append(rpn_sample)
    return rpn_samples


def paste_windows(bboxes: Tensor, mask_shape: Tuple[int, int]) -> Tensor:
    """The window mmdet's CPU mask paste writes each mask into:

    ``_do_paste_mask(skip_empty=True)``'s slices for one box (floor - 1 and
    ceil + 1 of the box, clamped to the image), from the same float boxes
    (the formulas of mmdet/models/roi_heads/mask_heads/fcn_mask_head.py,
    https://github.com/open-mmlab/mmdetection, Apache-2.0, Copyright (c)
    OpenMMLab).

    Args:
        bboxes (Tensor): (K, 4) boxes the masks were pasted with (after
            ``FCNMaskHead``'s in-place rescale).
        mask_shape (tuple[int, int]): (H, W) of the pasted masks.

    Returns:
        Tensor: (K, 4) int64 ``(x0, y0, x1, y1)``, ends excluded.
    """
    img_h, img_w = mask_shape
    starts = torch.clamp(bboxes[:, :2].floor() - 1, min=0)
    x1 = torch.clamp(bboxes[:, 2].ceil() + 1, max=img_w)
    y1 = torch.clamp(bboxes[:, 3].ceil() + 1, max=img_h)
    return torch.stack([starts[:, 0], starts[:, 1], x1, y1], dim=1).long()
