"""The semantic branch of Panoptic FPN: the semantic-FPN core, a 1x1 classifier
and the per-pixel cross-entropy loss."""
from typing import List, Sequence

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from mmpanfpn.registry import MODELS
from .semantic_fpn import SemanticFPNCore
from .upsampling import leading_argmax, upsampled_argmax


@MODELS.register_module()
class PanopticFPNHead(SemanticFPNCore):
    """Semantic head of Panoptic FPN, a drop-in for mmdet's ``PanopticFPNHead``
    (same arguments, same parameter names, same predicted logits).

    Labels, in ``gt_sem_seg`` and in what :meth:`predict_labels` returns, are
    the dataset's: things ``0 .. T-1``, stuff ``T .. T+S-1``, anything else
    void. The head itself predicts, as in the paper and mmdet, ``S + 1``
    classes: stuff ``0 .. S-1`` and one 'other' class ``S`` for every thing
    pixel; with ``all_classes=True`` it predicts the ``T + S`` dataset
    classes instead (for a semantic-segmentation mIoU over all classes).

    Args:
        num_things_classes (int): Number of thing classes T. Defaults to 80.
        num_stuff_classes (int): Number of stuff classes S. Defaults to 53.
        in_channels (int): Channels of the FPN levels. Defaults to 256.
        inner_channels (int): Channels of the semantic-FPN core.
            Defaults to 128.
        start_level (int): First FPN level used (0 is P2). Defaults to 0.
        end_level (int): Level after the last one used. Defaults to 4.
        conv_cfg (:obj:`ConfigDict` or dict, optional): Conv layer config.
            Defaults to None.
        norm_cfg (:obj:`ConfigDict` or dict): Norm layer config. Defaults to
            GroupNorm with 32 groups.
        loss_seg (:obj:`ConfigDict` or dict): The per-pixel loss; its
            ``ignore_index`` is the void label (255 in the datasets) and its
            ``loss_weight`` the paper's lambda_s (0.5 in the configs).
        all_classes (bool): Predict all ``T + S`` classes instead of stuff +
            'other'. Defaults to False.
        seg_rescale_factor (float): Scale of the ground truth the loss is
            computed at. ``1 / 4`` (mmdet's default and name): the labels are
            subsampled (nearest) to the logits' 1/4 scale, cheap in time and
            memory. ``1.0`` (detectron2): the logits are upsampled 4x to the
            labels' full resolution, so thin stuff regions are not lost by
            the subsampling, at the cost of an (N, C, H, W) logit tensor.
            Defaults to 1 / 4.
        init_cfg (:obj:`ConfigDict` or dict or list, optional):
            Initialization config. Defaults to None.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 in_channels: int = 256,
                 inner_channels: int = 128,
                 start_level: int = 0,
                 end_level: int = 4,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: ConfigType = dict(
                     type='GN', num_groups=32, requires_grad=True),
                 loss_seg: ConfigType = dict(
                     type='CrossEntropyLoss',
                     ignore_index=255,
                     avg_non_ignore=True,
                     loss_weight=1.0),
                 all_classes: bool = False,
                 seg_rescale_factor: float = 1 / 4,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(
            in_channels=in_channels,
            channels=inner_channels,
            start_level=start_level,
            end_level=end_level,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            init_cfg=init_cfg)
        self.num_things_classes = num_things_classes
        self.num_stuff_classes = num_stuff_classes
        self.all_classes = all_classes
        if not 0 < seg_rescale_factor <= 1:
            raise ValueError('seg_rescale_factor must be in (0, 1], got '
                             f'{seg_rescale_factor}')
        self.seg_rescale_factor = seg_rescale_factor
        self.num_classes = (
            num_things_classes +
            num_stuff_classes if all_classes else num_stuff_classes + 1)
        self.conv_logits = nn.Conv2d(inner_channels, self.num_classes, 1)
        self.loss_seg = MODELS.build(loss_seg)
        ignore_index = getattr(self.loss_seg, 'ignore_index', None)
        self.ignore_index = 255 if ignore_index is None else ignore_index

    def init_weights(self) -> None:
        """Kaiming-init the core (``ConvModule``'s default) and start the
        classifier near uniform, as mmdet does."""
        super().init_weights()
        nn.init.normal_(self.conv_logits.weight, 0, 0.01)
        nn.init.zeros_(self.conv_logits.bias)

    def forward(self, x: Sequence[Tensor]) -> Tensor:
        """Class logits at 1/4 scale.

        Args:
            x (Sequence[Tensor]): FPN levels from P2 on, level ``i`` of shape
                (N, in_channels, H / 2^(i+2), W / 2^(i+2)).

        Returns:
            Tensor: (N, num_classes, H / 4, W / 4) logits.
        """
        return self.conv_logits(super().forward(x))

    def to_head_labels(self, labels: Tensor) -> Tensor:
        """Dataset labels -> the head's classes: stuff ``T + k`` -> ``k``,
        every thing -> 'other' ``S`` (identity with ``all_classes``), void and
        anything out of range -> ``ignore_index``.

        Args:
            labels (Tensor): Integer labels of any shape.

        Returns:
            Tensor: int64 of the same shape.
        """
        labels = labels.long()
        num_things = self.num_things_classes
        isthing = (labels >= 0) & (labels < num_things)
        is_stuff = (labels >= num_things) & (
            labels < num_things + self.num_stuff_classes)
        void = torch.full_like(labels, self.ignore_index)
        if self.all_classes:
            return torch.where(isthing | is_stuff, labels, void)
        other = torch.full_like(labels, self.num_stuff_classes)
        return torch.where(is_stuff, labels - num_things,
                           torch.where(isthing, other, void))

    def to_dataset_labels(self, classes: Tensor) -> Tensor:
        """The head's classes -> dataset labels: ``k`` -> stuff ``T + k``,
        'other' -> ``ignore_index`` (identity with ``all_classes``)."""
        if self.all_classes:
            return classes.long()
        classes = classes.long()
        return torch.where(classes < self.num_stuff_classes,
                           classes + self.num_things_classes,
                           torch.full_like(classes, self.ignore_index))

    def loss(self, x: Sequence[Tensor],
             batch_data_samples: SampleList) -> dict:
        """Per-pixel cross entropy, averaged over the labeled pixels.

        The scale is ``seg_rescale_factor``'s: labels subsampled to the
        logits' 1/4 scale (mmdet), or logits upsampled to the labels' full
        resolution (detectron2, ``1.0``).

        Args:
            x (Sequence[Tensor]): FPN levels, see :meth:`forward`.
            batch_data_samples (list[:obj:`DetDataSample`]): Each with
                ``gt_sem_seg.sem_seg`` (1, h, w) dataset labels (void 255)
                and ``batch_input_shape`` in its metainfo.

        Returns:
            dict[str, Tensor]: ``loss_seg``, the mean over pixels that are
            not void (nor padding), times ``loss_seg.loss_weight``.
        """
        logits = self(x)
        target = self._targets(batch_data_samples, logits.device)
        if self.seg_rescale_factor != 1:
            # as mmdet: nearest subsampling of the padded labels
            target = F.interpolate(
                target[:, None].float(),
                scale_factor=self.seg_rescale_factor,
                mode='nearest')[:, 0].long()
        if logits.shape[-2:] != target.shape[-2:]:
            logits = F.interpolate(
                logits,
                size=target.shape[-2:],
                mode='bilinear',
                align_corners=False)
        # The mean runs over labeled pixels only: void and padding must not
        # dilute the loss of images with large void regions.
        num_labeled = (target != self.ignore_index).sum()
        loss = self.loss_seg(logits, target, avg_factor=num_labeled)
        return dict(loss_seg=loss)

    def _targets(self, batch_data_samples: SampleList,
                 device: torch.device) -> Tensor:
        """(N, H, W) int64 head classes at the padded input size; padding (when
        the data preprocessor did not pad ``gt_sem_seg``) is void."""
        height, width = batch_data_samples[0].batch_input_shape
        target = torch.full((len(batch_data_samples), height, width),
                            self.ignore_index,
                            dtype=torch.long,
                            device=device)
        for i, data_sample in enumerate(batch_data_samples):
            labels = data_sample.gt_sem_seg.sem_seg[0][:height, :width]
            h, w = labels.shape
            target[i, :h, :w] = self.to_head_labels(labels.to(device))
        return target

    def predict(self,
                x: Sequence[Tensor],
                batch_img_metas: List[dict],
                rescale: bool = False) -> List[Tensor]:
        """Logits per image, exactly as mmdet's ``BaseSemanticHead.predict``:
        upsampled to the padded batch size, then (``rescale``) cropped to
        ``img_shape`` and resized to ``ori_shape``.

        Args:
            x (Sequence[Tensor]): FPN levels, see :meth:`forward`.
            batch_img_metas (list[dict]): ``batch_input_shape``,
                ``img_shape`` and ``ori_shape`` of every image.
            rescale (bool): Return logits at ``ori_shape``; otherwise at the
                padded ``batch_input_shape``. Defaults to False.

        Returns:
            list[Tensor]: (num_classes, H, W) logits of every image.
        """
        return self._resize_logits(self(x), batch_img_metas, rescale)

    @staticmethod
    def _resize_logits(logits: Tensor, batch_img_metas: List[dict],
                       rescale: bool) -> List[Tensor]:
        """:meth:`predict` from the (N, C, h, w) logits of :meth:`forward`.
        """
        logits = F.interpolate(
            logits,
            size=batch_img_metas[0]['batch_input_shape'],
            mode='bilinear',
            align_corners=False)
        if not rescale:
            return list(logits)
        results = []
        for image_logits, meta in zip(logits, batch_img_metas):
            h, w = meta['img_shape'][:2]
            results.append(
                F.interpolate(
                    image_logits[None, :, :h, :w],
                    size=meta['ori_shape'][:2],
                    mode='bilinear',
                    align_corners=False)[0])
        return results

    def labels_from_logits(self, seg_logits: Tensor) -> Tensor:
        """(num_classes, H, W) logits -> (H, W) int64 dataset labels (stuff ``T
        ..

        T+S-1``; 'other' -> ``ignore_index`` unless ``all_classes``).
        """
        return self.to_dataset_labels(leading_argmax(seg_logits))

    def predict_labels(self,
                       x: Sequence[Tensor],
                       batch_img_metas: List[dict],
                       rescale: bool = False) -> List[Tensor]:
        """Dataset labels of every image: :meth:`labels_from_logits` of
        :meth:`predict`'s logits (cropped to ``img_shape`` unless
        ``rescale``), the same labels pixel for pixel, but without the
        full-resolution logits when the image is not resized: see
        :func:`upsampled_argmax`.

        Args:
            x (Sequence[Tensor]): FPN levels, see :meth:`forward`.
            batch_img_metas (list[dict]): ``batch_input_shape``,
                ``img_shape`` and ``ori_shape`` of every image.
            rescale (bool): Labels at ``ori_shape``; otherwise at
                ``img_shape``. Defaults to False.

        Returns:
            list[Tensor]: (H, W) int64 dataset labels of every image.
        """
        batch_shape = tuple(batch_img_metas[0]['batch_input_shape'])
        labels = []
        for logits, meta in zip(self(x), batch_img_metas):
            img_shape = tuple(meta['img_shape'][:2])
            out_shape = tuple(meta['ori_shape'][:2]) if rescale else img_shape
            if out_shape == img_shape:
                # (predict's resize to the same size copies its input)
                classes = upsampled_argmax(logits, batch_shape, img_shape)
            else:  # rescale to another size: predict's logits
                classes = leading_argmax(
                    self._resize_logits(logits[None], [meta], rescale)[0])
            labels.append(self.to_dataset_labels(classes))
        return labels
