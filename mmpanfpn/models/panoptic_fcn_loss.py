"""The losses of Panoptic FCN (Li et al., CVPR 2021): kernels sampled at the
guided points of every object and over every stuff region, applied to the
encoded features, and the focal and dice losses with the official code's
normalisations (``yanwei-li/PanopticFCN``, ``panoptic_seg.py``,
``loss.py``)."""
from typing import List, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from .panoptic_fcn_targets import ImageTargets


def guided_points(center_probs: Tensor,
                  masks: Tensor,
                  num_points: int,
                  min_mask: float = 0.1) -> Tuple[Tensor, Tensor]:
    """The ``num_points`` cells of each object where the predicted centre score
    is highest inside the object: their kernels all train its mask.

    Args:
        center_probs (Tensor): (N, h, w) sigmoid centre scores of each
            object's class (not detached: the dice loss reaches the position
            head through the weights, as in the official code).
        masks (Tensor): (N, h, w) the objects' soft masks at this level.
        num_points (int): k, at most ``h * w``.
        min_mask (float): Cells with mask value above it are inside.
            Defaults to 0.1.

    Returns:
        tuple[Tensor, Tensor]: (N, k) weights (the scores; 0 where fewer
        than k cells are inside) and (N, k) int64 flat cell indices.
    """
    guidance = torch.where(masks > min_mask, center_probs,
                           center_probs.new_zeros(()))
    return guidance.flatten(1).topk(num_points, dim=1)


def normalise_point_weights(weights: Tensor, eps: float = 1e-8) -> Tensor:
    """Each object's point weights divided by their sum (``eps`` at least): an
    object with all weights 0 contributes nothing, but still counts.

    Args:
        weights (Tensor): (N, k).

    Returns:
        Tensor: (N, k).
    """
    return weights / weights.sum(1, keepdim=True).clamp(min=eps)


def pool_stuff_kernels(masks: Tensor, kernel_map: Tensor) -> Tensor:
    """One kernel per (image, class): the kernel features summed over the.

    class's region and divided by the whole map's area (``h * w``, as the
    official ``adaptive_avg_pool2d`` of the masked map; not the region's).

    Args:
        masks (Tensor): (B, S, h, w) region masks.
        kernel_map (Tensor): (B, C, h, w).

    Returns:
        Tensor: (B, S, C).
    """
    h, w = kernel_map.shape[-2:]
    return torch.einsum('bsp,bcp->bsc',
                        masks.flatten(2).to(kernel_map),
                        kernel_map.flatten(2)) / (
                            h * w)


def dynamic_masks(kernels: Tensor, image_ids: Tensor,
                  features: Tensor) -> Tensor:
    """Mask logits of dynamic 1x1 convolutions (no bias): row r is.

    ``kernels[r] @ features[image_ids[r]]``.

    Args:
        kernels (Tensor): (R, C) kernels.
        image_ids (Tensor): (R,) the image of each kernel.
        features (Tensor): (B, C, He, We) encoder features.

    Returns:
        Tensor: (R, He, We) logits.
    """
    flat = features.flatten(2)
    out = kernels.new_empty((kernels.shape[0], flat.shape[-1]))
    for image in image_ids.unique().tolist():
        rows = image_ids == image
        out[rows] = kernels[rows] @ flat[image]
    return out.view(-1, *features.shape[-2:])


def sample_thing_kernels(
        center_logits: Tensor, kernel_map: Tensor, targets: List[ImageTargets],
        level: int, num_points: int,
        guide_thr: float) -> Tuple[Tensor, Tensor, Tensor, Tensor, int]:
    """The kernel features that train the objects of one level: for each
    object, those at its ``num_points`` guided points (fewer when the level has
    fewer cells), with the points' normalised weights.

    Args:
        center_logits (Tensor): (B, T, h, w).
        kernel_map (Tensor): (B, C, h, w).
        targets (list[ImageTargets]): Per image.
        level (int): Index of the level in the targets.
        num_points (int): k.
        guide_thr (float): See :func:`guided_points`.

    Returns:
        tuple: (R, C) kernel features, (R,) weights, (R,) image of each,
        (R,) index of each one's object in its image's targets, and the
        number of objects on the level.
    """
    h, w = center_logits.shape[-2:]
    k = min(num_points, h * w)
    feats, weights, images, objects = [], [], [], []
    num_objects = 0
    for image, target in enumerate(targets):
        index = target.assigned[level].nonzero()[:, 0]
        if not len(index):
            continue
        level_masks = F.interpolate(
            target.masks[index][None],
            size=(h, w),
            mode='bilinear',
            align_corners=False)[0]
        probs = center_logits[image, target.labels[index]].sigmoid()
        point_weights, points = guided_points(probs, level_masks, k, guide_thr)
        feats.append(kernel_map[image].flatten(1)[:, points.flatten()].t())
        weights.append(normalise_point_weights(point_weights).flatten())
        images.append(index.new_full((len(index) * k, ), image))
        objects.append(index.repeat_interleave(k))
        num_objects += len(index)
    if not num_objects:
        empty = center_logits.new_zeros((0, ), dtype=torch.long)
        return (kernel_map.new_zeros(
            (0, kernel_map.shape[1])), center_logits.new_zeros(
                (0, )), empty, empty, 0)
    return (torch.cat(feats), torch.cat(weights), torch.cat(images),
            torch.cat(objects), num_objects)


def sample_stuff_kernels(kernel_map: Tensor, targets: List[ImageTargets],
                         level: int) -> Tuple[Tensor, Tensor, Tensor]:
    """One kernel feature per (image, present stuff channel) of one level,
    pooled over the channel's target region.

    Returns:
        tuple: (R, C) kernel features, (R,) image and (R,) channel of each.
    """
    scores = torch.stack([t.stuff_scores[level] for t in targets])
    present = torch.stack([t.stuff_present[level] for t in targets])
    images, channels = present.nonzero(as_tuple=True)
    pooled = pool_stuff_kernels(scores > 0, kernel_map)
    return pooled[images, channels], images, channels


def panoptic_fcn_losses(centers: List[Tensor], regions: List[Tensor],
                        kernel_maps: List[Tensor], encoded: Tensor,
                        targets: List[ImageTargets], thing_embed: nn.Module,
                        stuff_embed: nn.Module, loss_pos: nn.Module,
                        loss_seg: nn.Module, num_points: int,
                        guide_thr: float) -> dict:
    """The four losses of a batch.

    - ``loss_pos_th``: focal loss of the centre heatmaps, summed over levels,
      classes and cells, divided by N_th, the number of (object, level)
      pairs in the batch (at least 1);
    - ``loss_pos_st``: focal loss of the region maps, averaged over each
      map's cells, summed over levels, images and channels, divided by the
      batch size;
    - ``loss_seg_th``: dice loss of each object's k point kernels against
      its stride-4 mask, weighted by the normalised point weights, summed,
      divided by N_th;
    - ``loss_seg_st``: dice loss of each (image, level, stuff channel)
      kernel against the channel's stride-4 map, divided by their number.

    An image without things or without stuff simply adds nothing to the
    matching terms; a batch with no objects (or no stuff) at all gets a
    zero loss that still reaches every parameter, so that distributed
    training sees the same graph on every process.

    Args:
        centers, regions, kernel_maps (list[Tensor]): Per level (B, T, h,
            w), (B, 1 + S, h, w), (B, C, h, w).
        encoded (Tensor): (B, C_e, He, We).
        targets (list[ImageTargets]): Per image.
        thing_embed, stuff_embed (nn.Module): 1x1 convs C -> C_e.
        loss_pos (nn.Module): mmdet ``FocalLoss`` (sigmoid).
        loss_seg (nn.Module): mmdet ``DiceLoss`` (sigmoid).
        num_points (int): k.
        guide_thr (float): See :func:`guided_points`.

    Returns:
        dict[str, Tensor]: The four losses.
    """
    num_images = len(targets)
    pos_th = pos_st = 0
    thing_rows = [[], [], [], []]
    stuff_rows = [[], [], []]
    num_things = 0
    for level, (center, region,
                kernel_map) in enumerate(zip(centers, regions, kernel_maps)):
        heatmaps = torch.stack([t.heatmaps[level] for t in targets])
        pos_th = pos_th + loss_pos(center, heatmaps, reduction_override='sum')
        stuff_scores = torch.stack([t.stuff_scores[level] for t in targets])
        pos_st = pos_st + loss_pos(
            region, stuff_scores, reduction_override='none').mean(
                (2, 3)).sum()
        *rows, count = sample_thing_kernels(center, kernel_map, targets, level,
                                            num_points, guide_thr)
        num_things += count
        for stack, part in zip(thing_rows, rows):
            stack.append(part)
        for stack, part in zip(
                stuff_rows, sample_stuff_kernels(kernel_map, targets, level)):
            stack.append(part)

    feats, weights, images, objects = (torch.cat(p) for p in thing_rows)
    if num_things:
        offsets = torch.tensor(
            [0] + [len(t.labels) for t in targets],
            device=images.device).cumsum(0)
        masks = torch.cat([t.masks for t in targets])
        logits = dynamic_masks(
            thing_embed(feats[:, :, None, None]).flatten(1), images, encoded)
        seg_th = loss_seg(
            logits.flatten(1),
            masks[offsets[images] + objects].flatten(1),
            weight=weights,
            avg_factor=num_things)
    else:
        seg_th = _zero(thing_embed, kernel_maps, centers)

    feats, images, channels = (torch.cat(p) for p in stuff_rows)
    if len(feats):
        maps = torch.stack([t.stuff_maps for t in targets])
        logits = dynamic_masks(
            stuff_embed(feats[:, :, None, None]).flatten(1), images, encoded)
        seg_st = loss_seg(
            logits.flatten(1),
            maps[images, channels].flatten(1),
            avg_factor=len(feats))
    else:
        seg_st = _zero(stuff_embed, kernel_maps, [encoded])
    return dict(
        loss_pos_th=pos_th / max(num_things, 1),
        loss_pos_st=pos_st / num_images,
        loss_seg_th=seg_th,
        loss_seg_st=seg_st)


def _zero(embed: nn.Module, *tensor_lists: List[Tensor]) -> Tensor:
    """0, connected to ``embed``'s parameters and the given tensors."""
    total = sum(p.sum() for p in embed.parameters())
    for tensors in tensor_lists:
        total = total + sum(t.sum() for t in tensors)
    return total * 0
