"""Inference of Panoptic FCN (Li et al., CVPR 2021) as pure functions: peaks
and regions per level, kernel fusion, maskness rescoring and the panoptic
assembly.

They follow the official implementation (``panoptic_seg.py``, ``head.py``),
with one deliberate difference: every function takes a batch or one image
explicitly, so that a batch of N same-size images gives exactly the outputs of
N batches of one (the official inference reads image 0 for every image).
"""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from mmdet.models.utils.gaussian_target import (get_local_maximum,
                                                get_topk_from_heatmap)
from torch import Tensor

from .panoptic_fcn_loss import pool_stuff_kernels
from .panoptic_fusion_head import combine_semantic_and_instances
from .upsampling import mask_boxes, upsampled_threshold


def thing_peaks(center_logits: Tensor, pool_size: int, max_peaks: int,
                score_thr: float) -> Tuple[Tensor, Tensor, Tensor, Tensor]:
    """Object centres of one level, for a batch.

    The scores are smoothed with their ``pool_size`` box mean (``(p +
    avg_pool(p)) / 2``), reduced to 3x3 local maxima, and the best
    ``min(max_peaks, h * w)`` over all classes and cells are candidates;
    those scoring above ``score_thr`` are peaks.

    Args:
        center_logits (Tensor): (B, C, h, w).
        pool_size (int): Odd smoothing window.
        max_peaks (int): Candidates per image.
        score_thr (float): Peaks score above it.

    Returns:
        tuple[Tensor, Tensor, Tensor, Tensor]: (B, K) scores, classes, flat
        cell indices (``y * w + x``) and bool ``keep`` (score above
        ``score_thr``).
    """
    probs = center_logits.sigmoid()
    probs = (probs + F.avg_pool2d(
        probs, pool_size, stride=1, padding=(pool_size - 1) // 2)) / 2
    # (contiguous: mmdet's top-k views the maps flat, (C, h, w) order)
    probs = get_local_maximum(probs, kernel=3).contiguous()
    h, w = probs.shape[-2:]
    scores, cells, classes, _, _ = get_topk_from_heatmap(
        probs, k=min(max_peaks, h * w))
    return scores, classes, cells, scores > score_thr


def stuff_regions(region_logits: Tensor, kernel_map: Tensor,
                  score_thr: float) -> Tuple[Tensor, Tensor, Tensor]:
    """Stuff regions of one level, for a batch.

    Each cell goes to its best class; a class present in an image scores
    the mean of its probability over its region and is kept above
    ``score_thr``; its kernel is pooled over its region as in training
    (:func:`pool_stuff_kernels`).

    Args:
        region_logits (Tensor): (B, S, h, w).
        kernel_map (Tensor): (B, C, h, w).
        score_thr (float): Regions score above it.

    Returns:
        tuple[Tensor, Tensor, Tensor]: (B, S) scores, (B, S) bool ``keep``
        and (B, S, C) kernels.
    """
    probs = region_logits.sigmoid()
    num_classes = probs.shape[1]
    regions = F.one_hot(probs.argmax(1), num_classes).permute(0, 3, 1, 2)
    regions = regions.to(probs.dtype)
    area = regions.flatten(2).sum(2)
    scores = (probs * regions).flatten(2).sum(2) / area.clamp(min=1)
    keep = (area > 0) & (scores > score_thr)
    return scores, keep, pool_stuff_kernels(regions, kernel_map)


def fuse_thing_kernels(
        kernels: Tensor,
        labels: Tensor,
        scores: Tensor,
        similarity_thr: float = 0.9,
        class_specific: bool = True) -> Tuple[Tensor, Tensor, Tensor]:
    """Merge the kernels of one image that describe the same object.

    Kernels come sorted by decreasing score. Kernel ``j`` matches every
    ``i <= j`` whose cosine similarity is at least ``similarity_thr`` (and,
    if ``class_specific``, of the same class); its *first* match ``i`` owns
    it. A kernel owned by itself is kept and becomes the mean of all it owns
    (with its own label and score). A kernel whose first match was itself
    owned by another one is dropped with the group of that match; it
    does not join a group transitively. This is the official "first match"
    rule, not NMS.

    Args:
        kernels (Tensor): (N, C) kernels sorted by decreasing score.
        labels (Tensor): (N,) classes.
        scores (Tensor): (N,) scores.
        similarity_thr (float): Defaults to 0.9.
        class_specific (bool): Only kernels of one class merge. Defaults to
            True.

    Returns:
        tuple[Tensor, Tensor, Tensor]: (M, C) kernels, (M,) labels and (M,)
        scores of the kept groups, in score order.
    """
    unit = kernels / kernels.norm(dim=1, keepdim=True).clamp(min=1e-8)
    match = (unit @ unit.t()).triu() >= similarity_thr
    if class_specific:
        match &= labels[:, None] == labels[None, :]
    first = match.float().cumsum(0) < 2  # [i, j]: no match of j above row i
    keep = first.diagonal()
    groups = (match[keep] & first[keep]).to(kernels.dtype)
    # (a zero kernel matches nothing, not even itself: it stays zero)
    fused = groups @ kernels / groups.sum(1, keepdim=True).clamp(min=1)
    return fused, labels[keep], scores[keep]


def rescore_by_maskness(mask_probs: Tensor,
                        scores: Tensor,
                        mask_thr: float = 0.4) -> Tensor:
    """Scores times the mean probability inside each binary mask.

    Args:
        mask_probs (Tensor): (N, h, w) sigmoid masks.
        scores (Tensor): (N,) scores.
        mask_thr (float): Binarisation threshold. Defaults to 0.4.

    Returns:
        Tensor: (N,) rescored.
    """
    binary = (mask_probs > mask_thr).to(mask_probs.dtype)
    maskness = (mask_probs * binary).flatten(1).sum(1) / (
        binary.flatten(1).sum(1) + 1e-6)
    return scores * maskness


def resize_to_output(probs: Tensor, stride: int, img_shape: Tuple[int, int],
                     out_shape: Tuple[int, int]) -> Tensor:
    """Stride-``stride`` maps to the output size: bilinear upsampling by
    ``stride``, crop to the image (drop the padding), bilinear resize to
    ``out_shape`` (skipped when it is the image's size).

    Args:
        probs (Tensor): (N, He, We).
        stride (int): Encoder stride.
        img_shape (tuple[int, int]): (h, w) before padding.
        out_shape (tuple[int, int]): (H, W) wanted.

    Returns:
        Tensor: (N, H, W).
    """
    if probs.shape[0] == 0:
        return probs.new_zeros((0, *out_shape))
    up = F.interpolate(
        probs[None], scale_factor=stride, mode='bilinear',
        align_corners=False)[..., :img_shape[0], :img_shape[1]]
    if tuple(out_shape) != tuple(img_shape):
        up = F.interpolate(
            up, size=tuple(out_shape), mode='bilinear', align_corners=False)
    return up[0]


def masks_at_output(probs: Tensor, stride: int, img_shape: Tuple[int, int],
                    out_shape: Tuple[int, int],
                    mask_thr: float) -> Tuple[Tensor, Tensor]:
    """Binary masks of :func:`resize_to_output` ``> mask_thr`` and their
    boxes (as mmdet's ``mask2bbox``); without the full-resolution
    probabilities when ``out_shape`` is the image's (see
    :func:`upsampled_threshold`).

    Returns:
        tuple[Tensor, Tensor]: (N, H, W) bool masks, (N, 4) float32 boxes.
    """
    if tuple(out_shape) == tuple(img_shape):
        padded = tuple(s * stride for s in probs.shape[-2:])
        return upsampled_threshold(probs, padded, img_shape, mask_thr)
    masks = resize_to_output(probs, stride, img_shape, out_shape) > mask_thr
    return masks, mask_boxes(masks)


def average_stuff_kernels(kernels: Tensor, classes: Tensor,
                          scores: Tensor) -> Tuple[Tensor, Tensor, Tensor]:
    """Average the kernels and scores one image has for each stuff class (one
    per level where it was found).

    Args:
        kernels (Tensor): (M, C).
        classes (Tensor): (M,) stuff channels.
        scores (Tensor): (M,).

    Returns:
        tuple[Tensor, Tensor, Tensor]: (U, C) kernels, (U,) sorted classes,
        (U,) scores.
    """
    unique = classes.unique()
    groups = (classes[None] == unique[:, None]).to(kernels.dtype)
    count = groups.sum(1, keepdim=True)
    return (groups @ kernels / count, unique,
            (groups @ scores[:, None] / count)[:, 0])


def stuff_channel_argmax(probs: Tensor, classes: Tensor) -> Tensor:
    """``argmax`` over all stuff channels of a map holding ``probs`` on the
    channels ``classes`` and zeros elsewhere, without building it.

    Absent channels are 0 and probabilities are not negative, so an absent
    channel can only win where the maximum is 0, and then (first maximum)
    channel 0 wins: channel 0 is therefore always part of the stack.

    Args:
        probs (Tensor): (U, H, W) probabilities of the present channels.
        classes (Tensor): (U,) their channels, sorted.

    Returns:
        tuple[Tensor, Tensor]: the (U', H, W) stack (channel 0 first) and its
        (U',) channels; its first-maximum argmax, mapped through the
        channels, is the full map's.
    """
    if classes.numel() and int(classes[0]) == 0:
        return probs, classes
    zero = probs.new_zeros((1, *probs.shape[1:]))
    return (torch.cat([zero,
                       probs]), torch.cat([classes.new_zeros(1), classes]))


def assemble_panoptic(masks: Tensor,
                      labels: Tensor,
                      scores: Tensor,
                      semantic_labels: Tensor,
                      num_things: int,
                      num_stuff: int,
                      score_thr: float,
                      mask_overlap: float,
                      stuff_area_limit: int,
                      mask_boxes: Tensor = None) -> Tuple[Tensor, List[dict]]:
    """Panoptic FCN's assembly: things scoring at least ``score_thr`` (note:
    inclusive, as the official code) best-first with the overlap rule, then
    stuff regions of at least ``stuff_area_limit`` pixels; see
    :func:`combine_semantic_and_instances`, which does the painting, so that
    ``segments_info`` is exactly Panoptic FPN's.

    Args:
        masks (Tensor): (K, H, W) bool, sorted by decreasing score.
        labels (Tensor): (K,) thing labels.
        scores (Tensor): (K,) scores.
        semantic_labels (Tensor): (H, W) dataset labels (stuff ``T ..
            T+S-1``, the merged things and void anything else).
        num_things (int): T.
        num_stuff (int): S.
        score_thr (float): Things must score at least this.
        mask_overlap (float): See :func:`combine_semantic_and_instances`.
        stuff_area_limit (int): Smallest stuff segment kept, in pixels.
        mask_boxes (Tensor, optional): (K, 4) windows outside which the
            masks are empty.

    Returns:
        tuple[Tensor, list[dict]]: (H, W) segment ids and segments_info.
    """
    keep = scores >= score_thr
    return combine_semantic_and_instances(
        masks[keep],
        labels[keep],
        scores[keep],
        semantic_labels,
        num_things,
        num_stuff,
        score_thr=float('-inf'),
        mask_overlap=mask_overlap,
        stuff_area_limit=stuff_area_limit,
        mask_boxes=None if mask_boxes is None else mask_boxes[keep])
