"""Panoptic FCN (Li, Zhao, Qi, Wang, Li, Sun, Jia, CVPR 2021): things and stuff
both as kernels generated on the FPN, applied as dynamic 1x1 convolutions to
one high-resolution encoding.

Box-free.
"""
from typing import List, Optional, Sequence, Tuple

import torch
import torch.nn as nn
from mmdet.models.detectors import BaseDetector
from mmdet.structures import SampleList
from mmdet.structures.bbox import get_box_tensor
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from mmengine.config import ConfigDict
from mmengine.structures import InstanceData, PixelData
from torch import Tensor

from mmpanfpn.registry import MODELS
from .panoptic_fcn_inference import (assemble_panoptic, average_stuff_kernels,
                                     fuse_thing_kernels, masks_at_output,
                                     rescore_by_maskness, resize_to_output,
                                     stuff_channel_argmax, stuff_regions,
                                     thing_peaks)
from .panoptic_fcn_loss import panoptic_fcn_losses
from .panoptic_fcn_targets import ImageTargets, image_targets
from .upsampling import leading_argmax, upsampled_argmax

TRAIN_DEFAULTS = dict(
    instance_scales=((1, 64), (32, 128), (64, 256), (128, 512), (256, 2048)),
    num_points=7,
    min_overlap=0.7,
    sigma_factor=3.,
    guide_thr=0.1,
    stuff_min_score=0.5)
TEST_DEFAULTS = dict(
    center_pool_sizes=(3, 3, 3, 5, 5),
    max_peaks_per_level=50,
    thing_score_thr=0.05,
    stuff_score_thr=0.05,
    similarity_thr=0.9,
    class_specific=True,
    mask_thr=0.4,
    min_score=0.05,
    max_per_img=100,
    panoptic=dict(score_thr=0.2, mask_overlap=0.5, stuff_area_limit=4096))


@MODELS.register_module()
class PanopticFCN(BaseDetector):
    """Panoptic FCN.

    Data flow (official R50 setting; channels configurable)::

        image -> backbone -> neck: P2..P7 (P6/P7 from P5's output)
        P2..P5 -> encoder (semantic-FPN core, coordinates, 3 convs)
               -> E (B, C_e, H/4, W/4)
        each head level (P3..P7, shared weights):
            pos_head    -> centre logits (B, T, h, w),
                           region logits (B, 1 + S, h, w)  (0: all things)
            kernel_head -> kernel features (B, 256, h, w)
        thing kernels (at centres) -> thing_embed (1x1) -> K (N, C_e)
        stuff kernels (pooled over regions) -> stuff_embed (1x1)
        masks = sigmoid(K @ E)

    Submodules (names the checkpoint converter relies on): ``backbone``,
    ``neck``, ``encoder`` (``encoder.semantic_fpn``, ``encoder.convs``),
    ``pos_head`` (``convs``, ``thing_out``, ``stuff_out``), ``kernel_head``
    (``convs``, ``out_conv``), ``thing_embed`` and ``stuff_embed`` (1x1
    ``nn.Conv2d``). Coordinate channels are ``[row, column]``, the official
    order (see :mod:`.panoptic_fcn_heads`).

    Labels: the dataset's, things ``0 .. T-1`` and stuff ``T .. T+S-1``;
    internally the region channels are 0 for all things and ``1 + s`` for
    stuff ``T + s`` (the semantic GT is remapped inside the model).

    Prediction gives ``pred_instances`` (``masks`` bool, ``bboxes`` from
    the masks, ``scores``, ``labels``; all above ``test_cfg.min_score``, for
    AP), ``pred_sem_seg`` (dataset labels; the merged things are
    ``ignore_index`` 255, as Panoptic FPN's 'other') and
    ``pred_panoptic_seg`` (Panoptic FPN's format).

    Args:
        backbone (dict): Backbone config.
        neck (dict): FPN config giving the encoder's and heads' levels.
        encoder (dict): :class:`PanopticFCNEncoder` config.
        pos_head (dict): :class:`PanopticFCNPositionHead` config.
        kernel_head (dict): :class:`PanopticFCNKernelHead` config.
        num_things_classes (int): T. Defaults to 80.
        num_stuff_classes (int): S. Defaults to 53.
        head_levels (Sequence[int]): Neck outputs the heads run on.
            Defaults to (1, 2, 3, 4, 5) (P3..P7).
        stride (int): The encoder's stride. Defaults to 4.
        loss_pos (dict): Focal loss of the position head (summed; things
            divided by the object-level pairs, stuff by the batch after a
            mean over each map).
        loss_seg (dict): Dice loss of the masks, with ``avg_factor``.
        train_cfg (dict, optional): ``instance_scales`` (one ``(lo, hi)``
            per head level), ``num_points`` (7), ``min_overlap`` (0.7),
            ``sigma_factor`` (3), ``guide_thr`` (0.1), ``stuff_min_score``
            (0.5).
        test_cfg (dict, optional): See ``TEST_DEFAULTS``; ``panoptic``
            holds the assembly's ``score_thr``, ``mask_overlap`` and
            ``stuff_area_limit``.
        data_preprocessor (dict, optional): Data preprocessor config.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 backbone: ConfigType,
                 neck: ConfigType,
                 encoder: ConfigType,
                 pos_head: ConfigType,
                 kernel_head: ConfigType,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 head_levels: Sequence[int] = (1, 2, 3, 4, 5),
                 stride: int = 4,
                 loss_pos: ConfigType = dict(
                     type='FocalLoss',
                     use_sigmoid=True,
                     gamma=2.0,
                     alpha=0.25,
                     loss_weight=1.0),
                 loss_seg: ConfigType = dict(
                     type='DiceLoss',
                     use_sigmoid=True,
                     naive_dice=False,
                     eps=1e-8,
                     loss_weight=3.0),
                 train_cfg: OptConfigType = None,
                 test_cfg: OptConfigType = None,
                 data_preprocessor: OptConfigType = None,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            data_preprocessor=data_preprocessor, init_cfg=init_cfg)
        self.backbone = MODELS.build(backbone)
        self.neck = MODELS.build(neck)
        self.encoder = MODELS.build(encoder)
        self.pos_head = MODELS.build(
            dict(
                pos_head,
                num_things_classes=num_things_classes,
                num_stuff_classes=num_stuff_classes))
        self.kernel_head = MODELS.build(kernel_head)
        kernel_channels = self.kernel_head.feat_channels
        self.thing_embed = nn.Conv2d(kernel_channels, self.encoder.channels, 1)
        self.stuff_embed = nn.Conv2d(kernel_channels, self.encoder.channels, 1)
        for layer in (self.thing_embed, self.stuff_embed):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, 0)
        self.loss_pos = MODELS.build(loss_pos)
        self.loss_seg = MODELS.build(loss_seg)

        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.head_levels = tuple(head_levels)
        self.stride = stride
        train_cfg, test_cfg = dict(train_cfg or {}), dict(test_cfg or {})
        for name, given, known in (('train_cfg', train_cfg, TRAIN_DEFAULTS),
                                   ('test_cfg', test_cfg, TEST_DEFAULTS),
                                   ('test_cfg.panoptic',
                                    test_cfg.get('panoptic', {}),
                                    TEST_DEFAULTS['panoptic'])):
            unknown = sorted(set(given) - set(known))
            if unknown:
                raise ValueError(f'PanopticFCN {name}: unknown keys {unknown}'
                                 f' (known: {sorted(known)})')
        self.train_cfg = ConfigDict(TRAIN_DEFAULTS)
        self.train_cfg.update(train_cfg)
        self.test_cfg = ConfigDict(TEST_DEFAULTS)
        self.test_cfg.update(
            {k: v
             for k, v in test_cfg.items() if k != 'panoptic'})
        self.test_cfg.panoptic.update(test_cfg.get('panoptic', {}))
        for cfg, key in ((self.train_cfg, 'instance_scales'),
                         (self.test_cfg, 'center_pool_sizes')):
            if len(cfg[key]) != len(self.head_levels):
                raise ValueError(
                    f'{key} has {len(cfg[key])} entries for '
                    f'{len(self.head_levels)} head_levels {self.head_levels}')

    def extract_feat(self, batch_inputs: Tensor) -> Tuple[Tensor]:
        """FPN levels of the batch, P2 first."""
        return self.neck(self.backbone(batch_inputs))

    def _heads(self, x: Sequence[Tensor]) -> Tuple[List[Tensor], ...]:
        """Centre logits, region logits and kernel maps per head level."""
        centers, regions, kernel_maps = [], [], []
        for level in self.head_levels:
            center, region = self.pos_head(x[level])
            centers.append(center)
            regions.append(region)
            kernel_maps.append(self.kernel_head(x[level]))
        return centers, regions, kernel_maps

    def _forward(self,
                 batch_inputs: Tensor,
                 batch_data_samples: Optional[SampleList] = None) -> Tuple:
        """Raw outputs (``mode='tensor'``).

        Returns:
            tuple: per head level lists of centre logits (B, T, h, w),
            region logits (B, 1 + S, h, w) and kernel maps (B, C, h, w),
            and the encoded features (B, C_e, H/4, W/4).
        """
        x = self.extract_feat(batch_inputs)
        centers, regions, kernel_maps = self._heads(x)
        return centers, regions, kernel_maps, self.encoder(x)

    def loss(self, batch_inputs: Tensor,
             batch_data_samples: SampleList) -> dict:
        """Position (focal) and mask (dice) losses of things and stuff.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) normalised, padded images.
            batch_data_samples (list[:obj:`DetDataSample`]): Each with
                ``gt_instances`` (``bboxes``, ``labels``, ``masks``) and
                ``gt_sem_seg`` (dataset labels, void 255).

        Returns:
            dict[str, Tensor]: ``loss_pos_th``, ``loss_pos_st``,
            ``loss_seg_th``, ``loss_seg_st``.
        """
        x = self.extract_feat(batch_inputs)
        centers, regions, kernel_maps = self._heads(x)
        encoded = self.encoder(x)
        del x
        level_sizes = [tuple(c.shape[-2:]) for c in centers]
        targets = [
            self._image_targets(sample, level_sizes,
                                tuple(batch_inputs.shape[-2:]),
                                tuple(encoded.shape[-2:]))
            for sample in batch_data_samples
        ]
        cfg = self.train_cfg
        return panoptic_fcn_losses(centers, regions, kernel_maps, encoded,
                                   targets, self.thing_embed, self.stuff_embed,
                                   self.loss_pos, self.loss_seg,
                                   cfg.num_points, cfg.guide_thr)

    def _image_targets(self, sample, level_sizes: List[tuple],
                       batch_shape: Tuple[int, int],
                       encoder_shape: Tuple[int, int]) -> ImageTargets:
        """The targets of one data sample (see :func:`image_targets`)."""
        cfg = self.train_cfg
        if 'gt_sem_seg' not in sample or 'masks' not in sample.gt_instances:
            raise ValueError(
                f'{sample.metainfo.get("img_path", "an image")}: Panoptic '
                'FCN trains on gt_instances.masks and gt_sem_seg (load them '
                'with LoadPanopticAnnotations)')
        instances = sample.gt_instances
        boxes = get_box_tensor(instances.bboxes).float()
        device = boxes.device
        masks = instances.masks.to_tensor(torch.float32, device)
        semantic = sample.gt_sem_seg.sem_seg[0].to(device)
        return image_targets(
            instances.labels,
            boxes,
            masks.view(-1, *masks.shape[-2:]),
            semantic,
            tuple(sample.metainfo['img_shape'][:2]),
            batch_shape,
            encoder_shape,
            level_sizes,
            self.num_things_classes,
            self.num_stuff_classes,
            cfg.instance_scales,
            cfg.min_overlap,
            cfg.sigma_factor,
            cfg.stuff_min_score,
            stride=self.stride)

    def predict(self,
                batch_inputs: Tensor,
                batch_data_samples: SampleList,
                rescale: bool = True) -> SampleList:
        """Instances, semantic labels and the panoptic map of every image.

        Args:
            batch_inputs (Tensor): (B, 3, H, W) normalised, padded images.
            batch_data_samples (list[:obj:`DetDataSample`]): Their metainfo
                (``img_shape``, ``ori_shape``).
            rescale (bool): Predict at ``ori_shape``; otherwise at
                ``img_shape``. Defaults to True.

        Returns:
            list[:obj:`DetDataSample`]: The inputs, each with
            ``pred_instances``, ``pred_sem_seg`` and ``pred_panoptic_seg``
            as Panoptic FPN's.
        """
        cfg = self.test_cfg
        x = self.extract_feat(batch_inputs)
        centers, regions, kernel_maps = self._heads(x)
        encoded = self.encoder(x)
        del x
        peaks = [
            thing_peaks(c, pool, cfg.max_peaks_per_level, cfg.thing_score_thr)
            for c, pool in zip(centers, cfg.center_pool_sizes)
        ]
        stuff = [
            stuff_regions(r, k, cfg.stuff_score_thr)
            for r, k in zip(regions, kernel_maps)
        ]
        for image, sample in enumerate(batch_data_samples):
            img_shape = tuple(sample.metainfo['img_shape'][:2])
            out_shape = tuple(sample.metainfo['ori_shape'][:2]) \
                if rescale else img_shape
            instances = self._predict_things(image, peaks, kernel_maps,
                                             encoded[image], img_shape,
                                             out_shape)
            labels = self._predict_stuff(image, stuff, encoded[image],
                                         img_shape, out_shape)
            windows = instances.bboxes.long()
            panoptic_seg, segments_info = assemble_panoptic(
                instances.masks,
                instances.labels,
                instances.scores,
                labels,
                self.num_things_classes,
                self.num_stuff_classes,
                mask_boxes=windows,
                **cfg.panoptic)
            sample.pred_instances = instances
            sample.pred_sem_seg = PixelData(sem_seg=labels[None])
            sample.pred_panoptic_seg = PixelData(
                metainfo=dict(segments_info=segments_info),
                sem_seg=panoptic_seg[None])
        return batch_data_samples

    def _predict_things(self, image: int, peaks: List[tuple],
                        kernel_maps: List[Tensor], encoded: Tensor,
                        img_shape: Tuple[int, int],
                        out_shape: Tuple[int, int]) -> InstanceData:
        """The instances of one image from its peaks on every level."""
        cfg = self.test_cfg
        scores, labels, feats = [], [], []
        for (level_scores, classes, cells,
             keep), kernel_map in zip(peaks, kernel_maps):
            keep = keep[image]
            scores.append(level_scores[image][keep])
            labels.append(classes[image][keep])
            feats.append(kernel_map[image].flatten(1)[:, cells[image][keep]])
        scores, labels = torch.cat(scores), torch.cat(labels).long()
        feats = torch.cat(feats, dim=1).t()
        order = scores.argsort(descending=True, stable=True)
        kernels = self.thing_embed(feats[order, :, None, None]).flatten(1)
        kernels, labels, scores = fuse_thing_kernels(kernels, labels[order],
                                                     scores[order],
                                                     cfg.similarity_thr,
                                                     cfg.class_specific)
        probs = (kernels @ encoded.flatten(1)).sigmoid().view(
            -1, *encoded.shape[-2:])
        scores = rescore_by_maskness(probs, scores, cfg.mask_thr)
        order = scores.argsort(descending=True, stable=True)
        order = order[scores[order] >= cfg.min_score][:cfg.max_per_img]
        masks, boxes = masks_at_output(probs[order], self.stride, img_shape,
                                       out_shape, cfg.mask_thr)
        return InstanceData(
            masks=masks,
            bboxes=boxes,
            scores=scores[order],
            labels=labels[order])

    def _predict_stuff(self, image: int, stuff: List[tuple], encoded: Tensor,
                       img_shape: Tuple[int, int],
                       out_shape: Tuple[int, int]) -> Tensor:
        """(H, W) dataset labels of one image: stuff ``T + s``; the merged
        things and pixels no region covers are 255."""
        scores, classes, feats = [], [], []
        for level_scores, keep, kernels in stuff:
            keep = keep[image]
            scores.append(level_scores[image][keep])
            classes.append(keep.nonzero()[:, 0])
            feats.append(kernels[image][keep])
        feats = torch.cat(feats)
        kernels = self.stuff_embed(feats[:, :, None, None]).flatten(1)
        kernels, classes, _ = average_stuff_kernels(kernels,
                                                    torch.cat(classes),
                                                    torch.cat(scores))
        probs = (kernels @ encoded.flatten(1)).sigmoid().view(
            -1, *encoded.shape[-2:])
        probs, channels = stuff_channel_argmax(probs, classes)
        if out_shape == img_shape:
            padded = tuple(s * self.stride for s in probs.shape[-2:])
            best = upsampled_argmax(probs, padded, img_shape)
        else:
            best = leading_argmax(
                resize_to_output(probs, self.stride, img_shape, out_shape))
        channel = channels[best]
        return torch.where(channel > 0, channel - 1 + self.num_things_classes,
                           torch.full_like(channel, 255))
