"""The fast paths of inference give what the plain computations give, exactly:

the semantic argmax read at 1/4 scale where it is certain, the thresholded
masks (and their boxes) upsampled only in the tiles where the 1/4-scale values
leave them undecided, the box-by-box mask paste, and the fusion that looks at
mask boxes only.
"""
import numpy as np
import pytest
import torch
import torch.nn.functional as F
from mmdet.models.roi_heads.mask_heads import FCNMaskHead
from mmdet.structures.mask import mask2bbox
from mmengine.config import ConfigDict

from mmpanfpn.models import PanopticFPNHead, combine_semantic_and_instances
from mmpanfpn.models.panoptic_fpn import paste_windows
from mmpanfpn.models.upsampling import (mask_boxes, upsampled_argmax,
                                        upsampled_threshold)


def plain_argmax(logits, size, crop):
    upsampled = F.interpolate(
        logits[None], size=size, mode='bilinear', align_corners=False)
    return upsampled[0, :, :crop[0], :crop[1]].argmax(0)


def blocky_logits(num_classes, height, width, block, gen, noise=0.0):
    """Regions of one winning class (upsampled coarse noise), plus noise."""
    coarse = torch.randn(
        (1, num_classes, -(-height // block), -(-width // block)),
        generator=gen) * 3
    logits = F.interpolate(
        coarse, size=(height, width), mode='bilinear', align_corners=False)[0]
    return logits + noise * torch.randn(logits.shape, generator=gen)


class threads:
    """Run a block with n torch threads."""

    def __init__(self, n):
        self.n = n

    def __enter__(self):
        self.previous = torch.get_num_threads()
        torch.set_num_threads(self.n)

    def __exit__(self, *exc):
        torch.set_num_threads(self.previous)


# ------------------------------------------------ the kernel assumptions


@pytest.mark.parametrize('num_threads', [1, 2])
@pytest.mark.parametrize('ratio', [2, 4, 8])
def test_bilinear_upsampling_of_a_slice_is_the_slice_of_the_upsampling(
        ratio, num_threads):
    """What upsampled_argmax relies on: with a power-of-two factor the CPU
    kernel computes every output pixel from a slice of the input exactly as
    from the whole input, when both outputs are at least 65 pixels each way
    (PyTorch sends outputs with H + W <= 128 to another kernel, whose rounding
    differs: upsampled_argmax never makes such slices)."""
    gen = torch.Generator().manual_seed(ratio)
    logits = torch.randn((54, 40, 61), generator=gen) * 5
    with threads(num_threads):
        whole = F.interpolate(
            logits[None],
            size=(40 * ratio, 61 * ratio),
            mode='bilinear',
            align_corners=False)[0]
        for a0, a1, b0, b1 in [(0, 40, 0, 61), (3, 38, 0, 61), (4, 40, 0, 61),
                               (3, 38, 7, 50), (0, 36, 20, 61)]:
            part = F.interpolate(
                logits[None, :, a0:a1, b0:b1].contiguous(),
                size=((a1 - a0) * ratio, (b1 - b0) * ratio),
                mode='bilinear',
                align_corners=False)[0]
            # away from the slice's own border rows / columns
            inner = part[:, ratio:-ratio, ratio:-ratio]
            expected = whole[:, (a0 + 1) * ratio:(a1 - 1) * ratio,
                             (b0 + 1) * ratio:(b1 - 1) * ratio]
            assert torch.equal(inner, expected)


@pytest.mark.parametrize('num_threads', [1, 2])
def test_bilinear_upsampling_of_some_classes_is_theirs_in_the_whole(
        num_threads):
    """The other one: at least 4 classes upsample as they do among all of them
    (with 3 and one thread PyTorch picks another kernel)."""
    gen = torch.Generator().manual_seed(num_threads)
    logits = torch.randn((54, 30, 41), generator=gen) * 5
    with threads(num_threads):
        whole = F.interpolate(
            logits[None],
            size=(120, 164),
            mode='bilinear',
            align_corners=False)[0]
        for channels in [[0, 1, 2, 3], [5, 17, 18, 40, 53], list(range(20))]:
            part = F.interpolate(
                logits[channels][None],
                size=(120, 164),
                mode='bilinear',
                align_corners=False)[0]
            assert torch.equal(part, whole[channels])


# ----------------------------------------------------- upsampled_argmax


@pytest.mark.parametrize('seed', range(12))
def test_upsampled_argmax_equals_the_plain_argmax(seed):
    gen = torch.Generator().manual_seed(seed)
    ratio = [1, 2, 4, 4, 8][seed % 5]
    height = int(
        torch.randint(70 // ratio + 1, 160 // ratio + 2, (1, ), generator=gen))
    width = int(
        torch.randint(70 // ratio + 1, 200 // ratio + 2, (1, ), generator=gen))
    num_classes = [4, 9, 54][seed % 3]
    # smooth regions (few uncertain cells), or noise (boundaries everywhere)
    noise = [0.0, 0.05, 3.0][seed % 3]
    logits = blocky_logits(num_classes, height, width, 5, gen, noise)
    size = (height * ratio, width * ratio)
    crop = (size[0] - int(torch.randint(0, ratio * 3, (1, ), generator=gen)),
            size[1] - int(torch.randint(0, ratio * 3, (1, ), generator=gen)))
    with threads(1 + seed % 2):
        assert torch.equal(
            upsampled_argmax(logits, size, crop),
            plain_argmax(logits, size, crop))


@pytest.mark.parametrize('band', [1, 3, 16, 1000])
def test_upsampled_argmax_does_not_depend_on_the_bands(band):
    gen = torch.Generator().manual_seed(0)
    logits = blocky_logits(12, 30, 41, 4, gen, 0.1)
    size, crop = (120, 164), (117, 160)
    assert torch.equal(
        upsampled_argmax(logits, size, crop, band=band),
        plain_argmax(logits, size, crop))


def test_upsampled_argmax_ties_take_the_first_class_as_argmax():
    logits = torch.zeros((6, 20, 20))
    logits[2:5, :, 10:] = 1.0  # classes 2, 3, 4 tie on the right half
    labels = upsampled_argmax(logits, (80, 80), (80, 80))
    assert torch.equal(labels, plain_argmax(logits, (80, 80), (80, 80)))
    assert set(labels.unique().tolist()) == {0, 2}


@pytest.mark.parametrize(
    'case',
    ['non-power-of-two', 'three classes', 'small', 'inf', 'nan', 'float64'])
def test_upsampled_argmax_falls_back_to_the_plain_way(case):
    gen = torch.Generator().manual_seed(1)
    num_classes = 3 if case == 'three classes' else 7
    logits = blocky_logits(num_classes, 20, 30, 4, gen, 0.1)
    size = {
        'non-power-of-two': (60, 90),
        'small': (40, 60)
    }.get(case, (80, 120))
    if case == 'inf':
        logits[2, 5, 5] = float('inf')
    if case == 'nan':
        logits[2, 5, 5] = float('nan')
    if case == 'float64':
        logits = logits.double()
    assert torch.equal(
        upsampled_argmax(logits, size, size), plain_argmax(logits, size, size))


# -------------------------------------------------- upsampled_threshold


def plain_threshold(probs, size, crop, thr):
    upsampled = F.interpolate(
        probs[None], size=size, mode='bilinear', align_corners=False)
    return upsampled[0, :, :crop[0], :crop[1]] > thr


def test_upsampled_threshold_of_a_step_by_hand():
    """Columns 0-9 at 0, 10-19 at 1, upsampled 4x: output column x reads the.

    input at (x + 0.5) / 4 - 0.5, above 9.5 (a value above 0.5) from x = 40
    on; an all-zero map is empty and gets a zero box.
    """
    probs = torch.zeros((5, 20, 20))
    probs[0, :, 10:] = 1
    probs[1] = 1
    masks, boxes = upsampled_threshold(probs, (80, 80), (80, 78), 0.5)
    assert masks.shape == (5, 80, 78)
    assert masks[0, :, 40:].all() and not masks[0, :, :40].any()
    assert masks[1].all() and not masks[2:].any()
    assert boxes.tolist() == [[40, 0, 78, 80], [0, 0, 78, 80]] + [[0] * 4] * 3


def test_upsampled_threshold_boxes_ignore_what_lies_past_the_crop():
    """Input columns 18-19 at 1 in rows 0-4 upsample above 0.5 from output
    column 72 on, past a 72-column crop: the box is the blob's in rows 10-15,
    columns 2-5 (output rows 40..63, columns 8..23 by the rule of the step case
    above), not stretched to row 0; the same with the roles of rows and columns
    swapped."""
    probs = torch.zeros((4, 20, 20))
    probs[:, 0:5, 18:20] = 1
    probs[:, 10:16, 2:6] = 1
    for maps in (probs, probs.transpose(1, 2)):
        crop = (80, 72) if maps is probs else (72, 80)
        masks, boxes = upsampled_threshold(maps, (80, 80), crop, 0.5)
        expected = plain_threshold(maps, (80, 80), crop, 0.5)
        assert torch.equal(masks, expected)
        assert torch.equal(boxes, mask2bbox(expected))
    assert boxes[0].tolist() == [40, 8, 64, 24]


@pytest.mark.parametrize('seed', range(12))
def test_upsampled_threshold_equals_the_plain_threshold(seed):
    gen = torch.Generator().manual_seed(seed)
    ratio = [2, 4, 8][seed % 3]
    height, width = (
        int(
            torch.randint(
                70 // ratio + 20, 300 // ratio + 20, (1, ), generator=gen))
        for _ in range(2))
    num = [1, 3, 7, 40][seed % 4]
    # smooth blobs (few undecided tiles) or noise (undecided everywhere);
    # the first map below the threshold: empty
    probs = blocky_logits(num, height, width, 5, gen,
                          [0.0, 0.05, 1.0][seed % 3]).sigmoid()
    probs[0] *= 0.4
    size = (height * ratio, width * ratio)
    # a crop up to 31 pixels short each way, as a batch padded to 32
    crop = tuple(s -
                 int(torch.randint(0, min(32, s - 1), (1, ), generator=gen))
                 for s in size)
    with threads(1 + seed % 2):
        masks, boxes = upsampled_threshold(probs, size, crop, 0.5)
        expected = plain_threshold(probs, size, crop, 0.5)
    assert torch.equal(masks, expected)
    assert torch.equal(boxes, mask2bbox(expected))


@pytest.mark.parametrize('tile, chunk', [(16, 1), (16, 5), (20, 1024),
                                         (40, 2)])
def test_upsampled_threshold_does_not_depend_on_tiles_and_chunks(tile, chunk):
    gen = torch.Generator().manual_seed(3)
    probs = blocky_logits(6, 50, 70, 6, gen, 0.1).sigmoid()
    masks, boxes = upsampled_threshold(
        probs, (200, 280), (197, 280), 0.4, tile=tile, chunk=chunk)
    expected = plain_threshold(probs, (200, 280), (197, 280), 0.4)
    assert torch.equal(masks, expected)
    assert torch.equal(boxes, mask2bbox(expected))


@pytest.mark.parametrize(
    'case', ['non-power-of-two', 'small', 'inf', 'nan', 'float64', 'none'])
def test_upsampled_threshold_falls_back_to_the_plain_way(case):
    gen = torch.Generator().manual_seed(1)
    probs = blocky_logits(3, 20, 30, 4, gen, 0.1).sigmoid()
    if case == 'none':
        probs = probs[:0]
    size = {
        'non-power-of-two': (60, 90),
    }.get(case, (80, 120))
    if case == 'small':
        probs = probs[:, :12, :12]
        size = (48, 48)
    if case == 'inf':
        probs[2, 5, 5] = float('inf')
    if case == 'nan':
        probs[2, 5, 5] = float('nan')
    if case == 'float64':
        probs = probs.double()
    masks, boxes = upsampled_threshold(probs, size, size, 0.5)
    expected = plain_threshold(probs, size, size, 0.5) if len(probs) else \
        torch.zeros((0, *size), dtype=torch.bool)
    assert torch.equal(masks, expected)
    assert torch.equal(boxes, mask2bbox(expected))


def test_mask_boxes_equal_mmdet_mask2bbox():
    gen = torch.Generator().manual_seed(0)
    masks = torch.rand((6, 30, 40), generator=gen) > 0.995
    masks[1] = False
    masks[2, 7, 9] = True
    assert torch.equal(mask_boxes(masks), mask2bbox(masks))
    assert mask_boxes(masks)[1].tolist() == [0, 0, 0, 0]
    assert mask_boxes(torch.zeros((0, 5, 5), dtype=torch.bool)).shape == (0, 4)


@pytest.mark.parametrize('rescale', [True, False])
def test_predicted_labels_equal_the_labels_of_the_logits(rescale):
    torch.manual_seed(0)
    head = PanopticFPNHead(
        num_things_classes=3,
        num_stuff_classes=5,
        in_channels=8,
        inner_channels=16,
        norm_cfg=dict(type='GN', num_groups=4))
    head.init_weights()
    torch.nn.init.normal_(head.conv_logits.weight, 0, 1.0)
    feats = [torch.randn(2, 8, 96 // 2**i, 128 // 2**i) for i in range(2, 6)]
    metas = [
        dict(
            batch_input_shape=(96, 128),
            img_shape=(96, 128),
            ori_shape=(96, 128)),
        dict(
            batch_input_shape=(96, 128),
            img_shape=(70, 100),
            ori_shape=(140, 200)),  # resized: the plain way
    ]
    with torch.no_grad():
        labels = head.predict_labels(feats, metas, rescale=rescale)
        logits = head.predict(feats, metas, rescale=rescale)
    for got, image_logits, meta in zip(labels, logits, metas):
        if not rescale:
            h, w = meta['img_shape']
            image_logits = image_logits[:, :h, :w]
        assert torch.equal(got, head.labels_from_logits(image_logits))
    assert labels[1].shape == ((140, 200) if rescale else (70, 100))


# ----------------------------------------------------------- mask paste


@pytest.mark.parametrize('rescale', [True, False])
@pytest.mark.parametrize('class_agnostic', [False, True])
def test_masks_pasted_by_mmdet_stay_in_their_windows(rescale, class_agnostic):
    gen = torch.Generator().manual_seed(int(rescale) + 2 * class_agnostic)
    num, num_classes = 9, 4
    mask_head = FCNMaskHead(
        num_convs=0,
        in_channels=4,
        num_classes=num_classes,
        class_agnostic=class_agnostic)
    mask_preds = torch.randn(
        (num, 1 if class_agnostic else num_classes, 28, 28), generator=gen)
    xy = torch.rand((num, 2), generator=gen) * torch.tensor([150., 90.])
    wh = torch.rand((num, 2), generator=gen) * 80 + 0.5
    bboxes = torch.cat([xy - 5, xy + wh], dim=1)  # some leave the image
    labels = torch.randint(0, num_classes, (num, ), generator=gen)
    meta = dict(ori_shape=(75, 120), scale_factor=(1.3, 1.25))
    cfg = ConfigDict(mask_thr_binary=0.5)

    expected = mask_head._predict_by_feat_single(
        mask_preds, bboxes.clone(), labels, meta, cfg, rescale=rescale)
    # mmdet rescales the boxes it pastes with in place: the instances'
    # boxes after its predict
    pasted_with = bboxes.clone()
    masks = mask_head._predict_by_feat_single(
        mask_preds, pasted_with, labels, meta, cfg, rescale=rescale)
    boxes = paste_windows(pasted_with, masks.shape[-2:])
    assert torch.equal(masks, expected)
    assert expected.any()
    if rescale:
        torch.testing.assert_close(
            pasted_with, bboxes / torch.tensor([1.3, 1.25, 1.3, 1.25]))
    outside = masks.clone()
    for k, (x0, y0, x1, y1) in enumerate(boxes.tolist()):
        outside[k, y0:y1, x0:x1] = False
    assert not outside.any()


# --------------------------------------------------------------- fusion


@pytest.mark.parametrize('seed', range(20))
def test_fusion_inside_mask_boxes_equals_fusion_over_the_map(seed):
    rng = np.random.default_rng(seed)
    h, w, num_things, num_stuff = 40, 56, 3, 4
    num = int(rng.integers(0, 12))
    masks = torch.zeros((num, h, w), dtype=torch.bool)
    boxes = torch.zeros((num, 4), dtype=torch.long)
    for k in range(num):
        x0, y0 = rng.integers(0, w - 2), rng.integers(0, h - 2)
        x1, y1 = rng.integers(x0 + 1, w + 1), rng.integers(y0 + 1, h + 1)
        masks[k, y0:y1,
              x0:x1] = torch.from_numpy(rng.random((y1 - y0, x1 - x0)) > 0.3)
        boxes[k] = torch.tensor([x0, y0, x1, y1])
    scores = torch.from_numpy(rng.random(num)).float()
    labels = torch.from_numpy(rng.integers(0, num_things, num))
    semantic = torch.from_numpy(
        rng.integers(num_things, num_things + num_stuff + 1,
                     (h // 8 + 1, w // 8 + 1))).repeat_interleave(
                         8, 0).repeat_interleave(8, 1)[:h, :w]
    args = (masks, labels, scores, semantic, num_things, num_stuff)
    kwargs = dict(score_thr=0.2, mask_overlap=0.5, stuff_area_limit=30)
    plain = combine_semantic_and_instances(*args, **kwargs)
    boxed = combine_semantic_and_instances(*args, **kwargs, mask_boxes=boxes)
    assert torch.equal(plain[0], boxed[0])
    assert plain[1] == boxed[1]
