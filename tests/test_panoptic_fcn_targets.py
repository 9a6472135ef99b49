"""Panoptic FCN's targets, loss formulas and kernel fusion on hand-made cases
(the arithmetic in the comments)."""
import math

import pytest
import torch
from mmdet.structures.mask import mask2bbox

from mmpanfpn.models.panoptic_fcn_inference import (fuse_thing_kernels,
                                                    masks_at_output,
                                                    rescore_by_maskness,
                                                    resize_to_output,
                                                    stuff_channel_argmax)
from mmpanfpn.models.panoptic_fcn_loss import (guided_points,
                                               normalise_point_weights,
                                               pool_stuff_kernels)
from mmpanfpn.models.panoptic_fcn_targets import (assign_levels,
                                                  draw_gaussians, mass_centers,
                                                  pfcn_gaussian_radius,
                                                  stuff_channels,
                                                  stuff_level_targets)
from mmpanfpn.registry import MODELS

COCO_SCALES = ((1, 64), (32, 128), (64, 256), (128, 512), (256, 2048))


def test_radius_of_square_boxes():
    # o = 0.7, the third root is the smallest: for an s x s box
    # r3 = (-2o * 2s + sqrt((2o * 2s)^2 + 4 * 4o * (1 - o) * s^2)) / 2
    #    = s * (-2.8 + sqrt(7.84 + 3.36)) / 2 = 0.2733 s
    # 3 -> 0.82 -> 0; 4 -> 1.09 -> 1; 8 -> 2.19 -> 2; 16 -> 4.37 -> 4
    # (mmdet's corrected gaussian_radius would give 0, 0, 1 for 4, 8, 16)
    sizes = torch.tensor([3., 4., 8., 16.])
    assert pfcn_gaussian_radius(sizes, sizes).tolist() == [0, 1, 2, 4]
    # a 16 x 4 box: r3 = (-1.4 * 20 + sqrt(28^2 + 4 * 2.8 * 0.3 * 64)) / 2
    #                  = (-28 + 31.61) / 2 = 1.80 -> 1
    assert pfcn_gaussian_radius(torch.tensor([16.]),
                                torch.tensor([4.])).tolist() == [1]


def test_gaussian_sigma_is_a_third_of_the_diameter():
    heat = torch.zeros(2, 5, 5)
    # class 1, centre (x=2, y=2), radius 1: diameter 3, sigma 1
    draw_gaussians(heat, torch.tensor([1]), torch.tensor([[2, 2]]),
                   torch.tensor([1]))
    e = math.exp
    expected = torch.tensor([[0, 0, 0, 0, 0], [0, e(-1),
                                               e(-.5),
                                               e(-1), 0],
                             [0, e(-.5), 1, e(-.5), 0],
                             [0, e(-1), e(-.5), e(-1), 0], [0, 0, 0, 0, 0]])
    assert torch.allclose(heat[1], expected)
    assert not heat[0].any()
    # radius 2: diameter 5, sigma 5/3: the neighbour is exp(-9/50) = 0.835;
    # cut at the left border (x=0); max with what is there
    heat = torch.zeros(1, 5, 5)
    heat[0, 2, 1] = 0.9
    draw_gaussians(heat, torch.tensor([0]), torch.tensor([[0, 2]]),
                   torch.tensor([2]))
    assert heat[0, 2, 0] == 1
    assert heat[0, 2, 1] == pytest.approx(0.9)  # 0.835 < 0.9 stays
    assert heat[0, 1, 0] == pytest.approx(math.exp(-9 / 50))
    assert heat[0, 2, 2] == pytest.approx(math.exp(-4 * 9 / 50))
    assert not heat[0, :, 3:].any()  # beyond the radius


def test_level_assignment_is_inclusive_and_overlapping():
    sizes = torch.tensor([0.5, 1, 32, 64, 64.5, 128, 2048, 2049])
    assigned = assign_levels(sizes, COCO_SCALES)
    levels = [assigned[:, i].nonzero()[:, 0].tolist() for i in range(8)]
    assert levels == [
        [],  # below 1
        [0],  # 1: P3's lower bound
        [0, 1],  # 32: P3 and P4's lower bound
        [0, 1, 2],  # 64: P3's upper, P4, P5's lower bound
        [1, 2],
        [1, 2, 3],  # 128
        [4],  # 2048: P7's upper bound
        []
    ]


def test_mass_centre_is_unweighted_and_empty_masks_fall_back():
    masks = torch.zeros(2, 4, 5)
    # pixels (x, y): (1, 1), (2, 1), (3, 1), (1, 2), values do not weigh
    masks[0, 1, 1:4] = torch.tensor([0.2, 1.0, 0.5])
    masks[0, 2, 1] = 0.1
    # mask 1 is empty: the fallback (the box centre) is used
    centers = mass_centers(masks, torch.tensor([[9., 9.], [3.5, 0.5]]))
    # x: (1 + 2 + 3 + 1) / 4 = 1.75; y: (1 + 1 + 1 + 2) / 4 = 1.25
    assert centers.tolist() == [[1.75, 1.25], [3.5, 0.5]]


def test_stuff_channels_and_soft_level_targets():
    # 2 things (labels 0, 1), 2 stuff (labels 2, 3): things -> 0, stuff 2 ->
    # 1, stuff 3 -> 2, void 255 and anything else -> 3 (dropped)
    labels = torch.tensor([0, 1, 2, 3, 255, 7])
    assert stuff_channels(labels, 2, 2).tolist() == [0, 0, 1, 2, 3, 3]
    # a 4x4 map, left half class 0, right half class 1, halved to 2x2 (the
    # bilinear halving is exact); a quarter of class 2 becomes 0.25 < 0.5
    maps = torch.zeros(3, 4, 4)
    maps[0, :, :2] = 1
    maps[1, :, 2:] = 1
    maps[2, 0, 0] = 1
    targets, present = stuff_level_targets(maps, [(2, 2)])
    assert targets[0][0].tolist() == [[1, 0], [1, 0]]
    assert targets[0][1].tolist() == [[0, 1], [0, 1]]
    assert not targets[0][2].any()
    assert present[0].tolist() == [True, True, False]


def test_guided_points_and_weights():
    probs = torch.tensor([[[0.9, 0.8], [0.7, 0.6]]])
    mask = torch.tensor([[[0.05, 1.0], [0.5, 0.0]]])
    # inside (mask > 0.1): cells 1 (0.8) and 2 (0.7); k = 3 picks a zero
    weights, points = guided_points(probs, mask, 3)
    assert weights.tolist()[0][:2] == pytest.approx([0.8, 0.7])
    assert weights[0, 2] == 0 and points[0, :2].tolist() == [1, 2]
    # normalised: 0.8 / 1.5, 0.7 / 1.5, 0; all-zero weights stay zero
    normed = normalise_point_weights(torch.cat([weights, torch.zeros(1, 3)]))
    assert normed[0].tolist() == pytest.approx([0.8 / 1.5, 0.7 / 1.5, 0])
    assert normed[1].tolist() == [0, 0, 0]


def test_weighted_dice_on_tiny_tensors():
    """The configured dice loss with the point weights: 3 * sum(w * dice) /
    number of objects."""
    loss = MODELS.build(
        dict(
            type='DiceLoss',
            use_sigmoid=True,
            naive_dice=False,
            eps=1e-8,
            loss_weight=3.0))
    target = torch.tensor([[1., 0.], [1., 0.]])
    # point 0: logits 0 -> p = (0.5, 0.5): 1 - 2 * 0.5 / (0.5 + 1) = 1/3
    # point 1: p = (1, 0): dice 0
    logits = torch.tensor([[0., 0.], [100., -100.]])
    weights = normalise_point_weights(torch.tensor([[0.6, 0.2]])).flatten()
    # weights 0.75, 0.25: 3 * (0.75 / 3 + 0) / 1 object = 0.75
    value = loss(logits, target, weight=weights, avg_factor=1)
    assert value.item() == pytest.approx(0.75, rel=1e-5)


def test_stuff_kernels_are_pooled_over_the_whole_map():
    kernel_map = torch.arange(8.).view(1, 2, 2, 2)  # channel 0: 0..3
    masks = torch.tensor([[[[1., 1.], [0., 0.]]]])
    # channel 0: (0 + 1) / 4 cells; channel 1: (4 + 5) / 4
    assert pool_stuff_kernels(masks, kernel_map).tolist() == [[[0.25, 2.25]]]


def test_fusion_drops_a_kernel_whose_first_match_is_suppressed():
    """A, B, C by decreasing score; B is 18 degrees from A and from C, C 36
    degrees from A. cos 18 = 0.951 >= 0.9, cos 36 = 0.809 < 0.9.

    A owns B (B's first match). C's first match is B, which is suppressed:
    C is dropped, not kept, although nothing kept is similar to it (a
    transitive NMS would keep C).
    """

    def unit(degrees):
        angle = math.radians(degrees)
        return [math.cos(angle), math.sin(angle)]

    kernels = torch.tensor([unit(0), unit(18), unit(36)])
    labels = torch.tensor([1, 1, 1])
    scores = torch.tensor([0.9, 0.8, 0.7])
    fused, kept_labels, kept_scores = fuse_thing_kernels(
        kernels, labels, scores, 0.9)
    assert torch.allclose(fused, (kernels[:1] + kernels[1:2]) / 2)
    assert kept_labels.tolist() == [1]
    assert kept_scores.tolist() == pytest.approx([0.9])
    # per class: B of another class is its own group; C's first match is
    # then B, kept, so C joins B
    fused, kept_labels, kept_scores = fuse_thing_kernels(
        kernels, torch.tensor([1, 2, 2]), scores, 0.9)
    assert kept_labels.tolist() == [1, 2]
    assert torch.allclose(fused[0], kernels[0])
    assert torch.allclose(fused[1], (kernels[1] + kernels[2]) / 2)
    # class-agnostic, same kernels as the first case: same answer
    fused, _, _ = fuse_thing_kernels(
        kernels, torch.tensor([1, 2, 2]), scores, 0.9, class_specific=False)
    assert len(fused) == 1


def test_maskness_rescoring():
    probs = torch.tensor([[[0.9, 0.5], [0.3, 0.1]], [[0.2, 0.1], [0.1, 0.1]]])
    # mask 0 above 0.4: 0.9 and 0.5, mean 0.7; mask 1 empty: 0
    scores = rescore_by_maskness(probs, torch.tensor([0.5, 0.8]))
    assert scores.tolist() == pytest.approx([0.35, 0.0], abs=1e-6)


@pytest.mark.parametrize('out_shape', [(75, 118), (50, 80), (160, 200)])
def test_masks_at_output_are_the_resized_probabilities_above_mask_thr(
        out_shape):
    """The official mask path (upsample by the stride, crop the padding, resize
    to the output, ``> mask_thr``) and mask2bbox's boxes, also when the output
    is the image's size (then upsampled only where undecided)."""
    gen = torch.Generator().manual_seed(0)
    coarse = torch.randn((6, 1, 5, 6), generator=gen) * 3
    probs = torch.nn.functional.interpolate(
        coarse, size=(20, 32), mode='bilinear')[:, 0].sigmoid()
    img_shape = (75, 118)
    masks, boxes = masks_at_output(probs, 4, img_shape, out_shape, 0.4)
    expected = resize_to_output(probs, 4, img_shape, out_shape) > 0.4
    assert masks.shape == (6, *out_shape)
    assert torch.equal(masks, expected)
    assert torch.equal(boxes, mask2bbox(expected))
    assert 0 < expected.sum() < expected.numel()


def test_stuff_argmax_stack_keeps_channel_zero_first():
    probs = torch.tensor([[[0.0, 0.6]], [[0.0, 0.2]]])  # channels 2 and 5
    stack, channels = stuff_channel_argmax(probs, torch.tensor([2, 5]))
    assert channels.tolist() == [0, 2, 5]
    # pixel 0: all zero -> channel 0 (the full map's first maximum)
    assert channels[stack.max(0).indices].tolist() == [[0, 2]]
