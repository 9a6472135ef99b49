"""Training targets and loss formulas of Panoptic FCN (Li et al., CVPR 2021),
as pure functions.

They follow the official implementation (``yanwei-li/PanopticFCN``,
``gt_generate.py``, ``loss.py`` and ``panoptic_seg.py``), which is the
reference where the paper is silent: the level ranges are inclusive and
overlap, the Gaussian radius is CenterNet's variant with sigma = diameter /
3, centres are unweighted mass centres of the stride-4 masks, stuff targets
are soft and per level. Where the official code crashes or yields garbage
(more than 100 instances, an object whose stride-4 mask is empty, a batch in
which an image has no things), these functions do something sensible instead;
each such place says so.

Notation: ``stride`` is the encoder's stride (4), ``(He, We)`` the encoder's
size for the padded batch, ``(h, w)`` the size of one head level.
"""
from typing import List, NamedTuple, Sequence, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.utils.gaussian_target import gaussian2D
from torch import Tensor


def pfcn_gaussian_radius(widths: Tensor,
                         heights: Tensor,
                         min_overlap: float = 0.7) -> Tensor:
    """Gaussian radii of boxes, Panoptic FCN's variant of CenterNet's formula.

    The three roots are halved rather than divided by ``2a`` (as in the
    CenterNet code Panoptic FCN took it from), so the radii are about 3x
    those of mmdet's corrected ``gaussian_radius``; trained models depend on
    it. For ``min_overlap`` 0.7 the smallest root is the third one:
    4x4 -> 1.09, 8x8 -> 2.19, 16x16 -> 4.37.

    Args:
        widths (Tensor): (N,) box widths in level cells.
        heights (Tensor): (N,) box heights in level cells.
        min_overlap (float): The IoU the formula keeps. Defaults to 0.7.

    Returns:
        Tensor: (N,) int64 radii, ``int(max(0, min(r1, r2, r3)))``.
    """
    w, h, o = widths.float(), heights.float(), min_overlap
    b1 = h + w
    c1 = w * h * (1 - o) / (1 + o)
    r1 = (b1 + torch.sqrt(b1**2 - 4 * c1)) / 2
    b2 = 2 * (h + w)
    c2 = (1 - o) * w * h
    r2 = (b2 + torch.sqrt(b2**2 - 16 * c2)) / 2
    a3 = 4 * o
    b3 = -2 * o * (h + w)
    c3 = (o - 1) * w * h
    r3 = (b3 + torch.sqrt(b3**2 - 4 * a3 * c3)) / 2
    radius = torch.minimum(r1, torch.minimum(r2, r3))
    return radius.clamp(min=0).long()


def draw_gaussians(heatmap: Tensor,
                   labels: Tensor,
                   centers: Tensor,
                   radii: Tensor,
                   sigma_factor: float = 3.) -> Tensor:
    """Draw one Gaussian per object into its class channel, keeping the
    element-wise maximum (in place).

    The kernel is mmdet's ``gaussian2D`` with ``sigma = (2r + 1) /
    sigma_factor`` (Panoptic FCN: 3; mmdet's ``gen_gaussian_target`` fixes
    6), cut at the borders as CenterNet does.

    Args:
        heatmap (Tensor): (C, h, w) the level's heatmap, updated in place.
        labels (Tensor): (N,) class channels.
        centers (Tensor): (N, 2) int64 ``(x, y)`` cells inside the map.
        radii (Tensor): (N,) int64 radii.
        sigma_factor (float): Diameter / sigma. Defaults to 3.

    Returns:
        Tensor: ``heatmap``.
    """
    height, width = heatmap.shape[-2:]
    kernels = {}
    for label, (x, y), radius in zip(labels.tolist(), centers.tolist(),
                                     radii.tolist()):
        if radius not in kernels:
            kernels[radius] = gaussian2D(
                radius,
                sigma=(2 * radius + 1) / sigma_factor,
                dtype=heatmap.dtype,
                device=heatmap.device)
        left, right = min(x, radius), min(width - x, radius + 1)
        top, bottom = min(y, radius), min(height - y, radius + 1)
        window = heatmap[label, y - top:y + bottom, x - left:x + right]
        torch.maximum(
            window,
            kernels[radius][radius - top:radius + bottom,
                            radius - left:radius + right],
            out=window)
    return heatmap


def assign_levels(sizes: Tensor,
                  instance_scales: Sequence[Tuple[float, float]]) -> Tensor:
    """Which head levels each object is a target of.

    Args:
        sizes (Tensor): (N,) ``sqrt(box area)`` in input pixels.
        instance_scales (Sequence[tuple]): ``(lo, hi)`` per level; an object
            belongs to every level with ``lo <= size <= hi`` (inclusive and
            overlapping, so one object may be a target on two levels).

    Returns:
        Tensor: (L, N) bool.
    """
    bounds = sizes.new_tensor(instance_scales, dtype=torch.float32)
    sizes = sizes.float()[None]
    return (sizes >= bounds[:, :1]) & (sizes <= bounds[:, 1:])


def mass_centers(masks: Tensor, fallback: Tensor) -> Tensor:
    """Unweighted mean ``(x, y)`` of the non-zero pixels of each mask.

    Unlike mmdet's ``center_of_mass``, pixel values do not weigh. A mask
    with no non-zero pixel (a thin or tiny object vanishes in a bilinear
    downsampling) has no mass centre: the official code then draws at a NaN
    cast to int; here it takes ``fallback`` (the box centre).

    Args:
        masks (Tensor): (N, h, w) soft masks.
        fallback (Tensor): (N, 2) ``(x, y)`` for empty masks.

    Returns:
        Tensor: (N, 2) float ``(x, y)`` in pixels of the masks.
    """
    on = (masks != 0).float()
    count = on.sum((1, 2))
    ys = torch.arange(masks.shape[1], device=masks.device, dtype=on.dtype)
    xs = torch.arange(masks.shape[2], device=masks.device, dtype=on.dtype)
    x = (on.sum(1) * xs).sum(1) / count.clamp(min=1)
    y = (on.sum(2) * ys).sum(1) / count.clamp(min=1)
    centers = torch.stack([x, y], dim=1)
    return torch.where(count[:, None] > 0, centers, fallback.float())


def downsample_to_encoder(maps: Tensor,
                          img_shape: Tuple[int, int],
                          out_shape: Tuple[int, int],
                          stride: int = 4) -> Tensor:
    """Crop maps to the image, resize them bilinearly by ``1 / stride`` (to
    ``int(side / stride + 0.5)``) and paste them top-left into zeros of the
    encoder's size: the official targets' geometry (the padding is never
    blended in).

    Args:
        maps (Tensor): (N, H', W') float maps, H' >= img_shape[0].
        img_shape (tuple[int, int]): (h, w) of the image before padding.
        out_shape (tuple[int, int]): (He, We) the encoder's size.
        stride (int): Defaults to 4.

    Returns:
        Tensor: (N, He, We) soft maps.
    """
    h, w = img_shape
    small = (min(int(h / stride + 0.5),
                 out_shape[0]), min(int(w / stride + 0.5), out_shape[1]))
    out = maps.new_zeros((maps.shape[0], *out_shape))
    if maps.shape[0]:
        out[:, :small[0], :small[1]] = F.interpolate(
            maps[None, :, :h, :w].float(),
            size=small,
            mode='bilinear',
            align_corners=False)[0]
    return out


def thing_level_targets(labels: Tensor, boxes: Tensor, masks: Tensor,
                        fallback_centers: Tensor, level_sizes: List[tuple],
                        batch_shape: Tuple[int, int],
                        instance_scales: Sequence[tuple], num_classes: int,
                        min_overlap: float,
                        sigma_factor: float) -> Tuple[List[Tensor], Tensor]:
    """Centre heatmaps of one image on every head level, and which objects each
    level trains.

    Args:
        labels (Tensor): (N,) thing classes.
        boxes (Tensor): (N, 4) boxes in input pixels.
        masks (Tensor): (N, He, We) soft stride-4 masks (see
            :func:`downsample_to_encoder`).
        fallback_centers (Tensor): (N, 2) box centres in stride-4 pixels,
            for masks without pixels.
        level_sizes (list[tuple]): (h, w) of each level.
        batch_shape (tuple[int, int]): (H, W) of the padded batch.
        instance_scales (Sequence[tuple]): See :func:`assign_levels`.
        num_classes (int): Thing classes.
        min_overlap (float): See :func:`pfcn_gaussian_radius`.
        sigma_factor (float): See :func:`draw_gaussians`.

    Returns:
        tuple[list[Tensor], Tensor]: (num_classes, h, w) heatmap per level,
        and (L, N) bool: object n is a target of level l.
    """
    sizes = ((boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])).sqrt()
    assigned = assign_levels(sizes, instance_scales)
    centers = mass_centers(masks, fallback_centers)
    enc_h, enc_w = masks.shape[-2:]
    heatmaps = []
    for level, (h, w) in enumerate(level_sizes):
        heatmap = boxes.new_zeros((num_classes, h, w))
        keep = assigned[level]
        if keep.any():
            # truncated like the official ``.to(int64)``; a mass centre
            # below (We, He) stays below (w, h), the clamp only guards
            level_centers = torch.stack(
                [(centers[keep, 0] * (w / enc_w)).long().clamp(0, w - 1),
                 (centers[keep, 1] * (h / enc_h)).long().clamp(0, h - 1)], 1)
            radii = pfcn_gaussian_radius(
                (boxes[keep, 2] - boxes[keep, 0]) * (w / batch_shape[1]),
                (boxes[keep, 3] - boxes[keep, 1]) * (h / batch_shape[0]),
                min_overlap)
            draw_gaussians(heatmap, labels[keep], level_centers, radii,
                           sigma_factor)
        heatmaps.append(heatmap)
    return heatmaps, assigned


def stuff_level_targets(
        stuff_maps: Tensor,
        level_sizes: List[tuple],
        min_score: float = 0.5) -> Tuple[List[Tensor], List[Tensor]]:
    """Stuff-region targets of one image on every level.

    Args:
        stuff_maps (Tensor): (S, He, We) soft stride-4 one-hot maps (channel
            0 the merged things), zero on void and padding.
        level_sizes (list[tuple]): (h, w) of each level.
        min_score (float): Values below it are set to 0. Defaults to 0.5.

    Returns:
        tuple[list[Tensor], list[Tensor]]: (S, h, w) focal targets per level
        (0 or in [min_score, 1]) and (S,) bool per level: the classes present
        on it (each gets one kernel there).
    """
    targets, present = [], []
    for size in level_sizes:
        target = F.interpolate(
            stuff_maps[None], size=size, mode='bilinear',
            align_corners=False)[0].clamp(max=1)
        target = torch.where(target < min_score, target.new_zeros(()), target)
        targets.append(target)
        present.append(target.flatten(1).sum(1) > 0)
    return targets, present


def stuff_channels(labels: Tensor, num_things: int, num_stuff: int) -> Tensor:
    """Dataset labels -> region channels: every thing (crowd included) 0, stuff
    ``T + s`` -> ``1 + s``, void and anything else ``1 + S`` (a channel that is
    dropped, so void is negative everywhere).

    Args:
        labels (Tensor): Integer labels of any shape.
        num_things (int): T.
        num_stuff (int): S.

    Returns:
        Tensor: int64 of the same shape.
    """
    labels = labels.long()
    void = torch.full_like(labels, num_stuff + 1)
    stuff = (labels >= num_things) & (labels < num_things + num_stuff)
    return torch.where(labels < num_things, torch.where(labels >= 0, 0, void),
                       torch.where(stuff, labels - num_things + 1, void))


class ImageTargets(NamedTuple):
    """The targets of one image (see :func:`image_targets`)."""
    labels: Tensor  # (N,) thing classes
    masks: Tensor  # (N, He, We) soft stride-4 masks
    heatmaps: List[Tensor]  # per level (T, h, w)
    assigned: Tensor  # (L, N) bool: object n trains level l
    stuff_maps: Tensor  # (1 + S, He, We) soft stride-4 one-hot maps
    stuff_scores: List[Tensor]  # per level (1 + S, h, w) focal targets
    stuff_present: List[Tensor]  # per level (1 + S,) bool


def image_targets(labels: Tensor, boxes: Tensor, masks: Tensor,
                  semantic: Tensor, img_shape: Tuple[int, int],
                  batch_shape: Tuple[int, int], encoder_shape: Tuple[int, int],
                  level_sizes: List[tuple], num_things: int, num_stuff: int,
                  instance_scales: Sequence[tuple], min_overlap: float,
                  sigma_factor: float, stuff_min_score: float,
                  stride: int) -> ImageTargets:
    """All targets of one image.

    Args:
        labels (Tensor): (N,) thing labels.
        boxes (Tensor): (N, 4) boxes in input pixels.
        masks (Tensor): (N, H', W') binary masks, at least the image's size.
        semantic (Tensor): (H', W') dataset labels, void 255.
        img_shape (tuple[int, int]): (h, w) before padding.
        batch_shape (tuple[int, int]): (H, W) of the padded batch.
        encoder_shape (tuple[int, int]): (He, We).
        level_sizes (list[tuple]): (h, w) of every head level.
        num_things (int): T.
        num_stuff (int): S.
        instance_scales, min_overlap, sigma_factor: See
            :func:`thing_level_targets`.
        stuff_min_score (float): See :func:`stuff_level_targets`.
        stride (int): The encoder's stride.

    Returns:
        ImageTargets: The targets.
    """
    small_masks = downsample_to_encoder(masks, img_shape, encoder_shape,
                                        stride)
    box_centers = (boxes[:, :2] + boxes[:, 2:]) / (2 * stride)
    heatmaps, assigned = thing_level_targets(labels, boxes, small_masks,
                                             box_centers, level_sizes,
                                             batch_shape, instance_scales,
                                             num_things, min_overlap,
                                             sigma_factor)
    channels = stuff_channels(semantic[:img_shape[0], :img_shape[1]],
                              num_things, num_stuff)
    one_hot = F.one_hot(channels, num_stuff + 2)[..., :-1].permute(2, 0, 1)
    stuff_maps = downsample_to_encoder(one_hot.float(), img_shape,
                                       encoder_shape, stride)
    stuff_scores, stuff_present = stuff_level_targets(stuff_maps, level_sizes,
                                                      stuff_min_score)
    return ImageTargets(labels.long(), small_masks, heatmaps, assigned,
                        stuff_maps, stuff_scores, stuff_present)
