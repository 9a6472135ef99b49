"""The semantic branch of Panoptic FPN: the semantic-FPN core, a 1x1 classifier
and the per-pixel cross-entropy loss."""
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmdet.structures import SampleList
from mmdet.utils import ConfigType, OptConfigType, OptMultiConfig
from torch import Tensor

from mmpanfpn.registry import MODELS
from .semantic_fpn import SemanticFPNCore


def _argmax(logits: Tensor) -> Tensor:
    """``logits.argmax(0)``: the first maximum, as ``argmax``, but ``max``'s
    kernel is several times faster over a leading dimension on CPU."""
    return logits.max(dim=0).indices


def upsampled_argmax(logits: Tensor,
                     size: Tuple[int, int],
                     crop: Tuple[int, int],
                     band: int = 16) -> Tensor:
    """The classes of bilinearly upsampled logits, without upsampling most of
    them: exactly ``F.interpolate(logits[None], size, mode='bilinear',
    align_corners=False)[0, :, :crop[0], :crop[1]].argmax(0)``.

    An output pixel mixes, with non-negative weights, the (at most) four
    input pixels around it, a "cell"; in float32 the mix is off by less than
    ``1e-6 * max|logits|``, so ``tol = 1e-5 * max|logits|`` bounds it
    safely. Where the four have the same top class, each by more than
    ``tol``, the cell's output pixels have that class: it is read from the
    input. Elsewhere, a class whose largest value in the cell is more than
    ``tol`` below the best class-wise smallest value can be neither the
    largest nor tied, so each band of rows is upsampled only for the few
    classes that can win in it, by ``F.interpolate`` on a slice of the
    input with the same scale. With a power-of-two factor every source
    coordinate and weight is exact, so a slice, or a subset of the classes,
    gives the values of the whole bit for bit (CPU kernel, at least 4
    classes and 65 output pixels each way; checked in
    ``tests/test_speed_paths.py``). Other factors, devices, dtypes than
    float32, few classes or non-finite logits take the plain way.

    Args:
        logits (Tensor): (C, h, w) logits.
        size (tuple[int, int]): (H, W) the upsampled size.
        crop (tuple[int, int]): The top-left part of it wanted.
        band (int): Input rows per band. Defaults to 16.

    Returns:
        Tensor: (crop[0], crop[1]) int64 classes.
    """
    num_classes, height, width = logits.shape
    ratios = (size[0] // height, size[1] // width)
    exact = (
        logits.device.type == 'cpu' and logits.dtype == torch.float32
        and num_classes > 3
        and all(r * n == s and r & (r - 1) == 0 and s > 64
                for r, n, s in zip(ratios, (height, width), size)))
    limit = logits.abs().max() if exact else None
    if not exact or not torch.isfinite(limit):
        upsampled = F.interpolate(
            logits[None], size=size, mode='bilinear', align_corners=False)
        return _argmax(upsampled[0, :, :crop[0], :crop[1]])
    tol = 1e-5 * limit

    # Cell (i, j) holds input pixels i..i+1, j..j+1 (the last row / column
    # repeated at the edges); class ids are exact in float32.
    def cell_corners(values: Tensor) -> List[Tensor]:
        values = F.pad(values[None].float(), (0, 1, 0, 1), mode='replicate')
        return [
            values[0, ..., :-1, :-1], values[0, ..., 1:, :-1],
            values[0, ..., :-1, 1:], values[0, ..., 1:, 1:]
        ]

    def cell_max(values: Tensor) -> Tensor:
        corners = cell_corners(values)
        return torch.maximum(
            torch.maximum(corners[0], corners[1]),
            torch.maximum(corners[2], corners[3]))

    best, top = logits.max(dim=0)
    runner_up = logits.scatter(0, top[None], float('-inf')).amax(dim=0)
    certain = -cell_max(runner_up - best) > tol  # the smallest margin
    top_corner, *other_corners = cell_corners(top)
    for other in other_corners:
        certain &= top_corner == other

    # the cell of every output row / column, as the bilinear kernel takes
    # it: floor((y + 0.5) / r - 0.5), clamped
    row_cell, col_cell = [(2 * torch.arange(c, device=logits.device) + 1 -
                           r).div(2 * r,
                                  rounding_mode='floor').clamp(0, n - 1)
                          for r, n, c in zip(ratios, (height, width), crop)]

    def per_pixel(cells: Tensor) -> Tensor:
        return cells.index_select(0, row_cell).index_select(1, col_cell)

    labels = per_pixel(top)
    uncertain = ~certain
    if not uncertain.any():
        return labels
    redo = per_pixel(uncertain)

    # a class can win in a cell only if its largest value there is within
    # tol of the best class-wise smallest value
    largest, smallest = cell_max(logits), -cell_max(-logits)
    candidate = largest >= smallest.amax(dim=0) - tol
    candidate &= uncertain
    del largest, smallest
    num_rows = int(row_cell[-1]) + 1
    ratio = ratios[0]
    for i0 in range(0, num_rows, band):
        i1 = min(i0 + band, num_rows)
        here = candidate[:, i0:i1].flatten(1).any(1)
        if not here.any():
            continue
        # at least 4 classes: fewer go to another CPU kernel (the extra
        # ones cannot win)
        here[(~here).nonzero()[:max(4 - int(here.sum()), 0), 0]] = True
        channels = here.nonzero()[:, 0]
        # the output rows of these cells, and the input rows around them:
        # one more each side, and at least 65 output rows (smaller outputs
        # go to another CPU kernel)
        y0, y1 = torch.searchsorted(row_cell,
                                    row_cell.new_tensor([i0, i1])).tolist()
        a0, a1 = max(i0 - 1, 0), min(i1 + 1, height)
        a0 = max(min(a0, a1 - -(-65 // ratio)), 0)
        a1 = min(max(a1, a0 + -(-65 // ratio)), height)
        part = F.interpolate(
            logits[:, a0:a1].index_select(0, channels)[None],
            size=(ratio * (a1 - a0), size[1]),
            mode='bilinear',
            align_corners=False)[0]
        winners = channels[_argmax(part[:, y0 - ratio * a0:y1 -
                                        ratio * a0, :crop[1]])]
        labels[y0:y1] = torch.where(redo[y0:y1], winners, labels[y0:y1])
    return labels


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
        return self.to_dataset_labels(_argmax(seg_logits))

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
                classes = _argmax(
                    self._resize_logits(logits[None], [meta], rescale)[0])
            labels.append(self.to_dataset_labels(classes))
        return labels
