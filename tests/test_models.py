"""Specifications of the Panoptic FPN modules: the semantic-FPN core, the
semantic branch, the fusion heuristic and the joint detector."""
import math
import os.path as osp

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData

from mmpanfpn.datasets import build_label_space
from mmpanfpn.models import (HeuristicFusionHead, PanopticFPN, PanopticFPNHead,
                             SemanticFPNCore, combine_semantic_and_instances)
from mmpanfpn.registry import MODELS
from mmpanfpn.testing import shrink_panoptic_fpn

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
BASE_MODEL = osp.join(REPO, 'configs', '_base_', 'models',
                      'panoptic-fpn_r50_fpn.py')
VOID = 255


def pyramid(height, width, channels=8, levels=5, batch=2):
    """Random FPN levels for an (H, W) input: level i is the input halved i + 2
    times, rounding up as strided convs do."""
    feats = []
    for _ in range(2):
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    for _ in range(levels):
        feats.append(torch.randn(batch, channels, height, width))
        height, width = math.ceil(height / 2), math.ceil(width / 2)
    return feats


# ---------------------------------------------------------------- core


def test_core_is_registered_under_both_names():
    assert MODELS.get('SemanticFPNCore') is SemanticFPNCore
    assert MODELS.get('SemanticFPN') is SemanticFPNCore
    core = MODELS.build(
        dict(
            type='SemanticFPN',
            in_channels=8,
            channels=16,
            norm_cfg=dict(type='GN', num_groups=4)))
    assert isinstance(core, SemanticFPNCore)


@pytest.mark.parametrize('start_level,end_level', [(0, 4), (0, 1), (0, 3),
                                                   (1, 4)])
@pytest.mark.parametrize('size', [(64, 64), (64, 96), (100, 75), (33, 47)])
def test_semantic_fpn_output_is_at_level0_scale(start_level, end_level, size):
    feats = pyramid(*size)
    core = SemanticFPNCore(
        in_channels=8,
        channels=16,
        start_level=start_level,
        end_level=end_level,
        norm_cfg=dict(type='GN', num_groups=4))
    out = core(feats)
    # every used level is brought to the first used level's upsampled size,
    # which is level 0's (1/4 of the input) up to the odd-size rounding
    first = feats[start_level].shape[-2:]
    expected = (first[0] * 2**start_level, first[1] * 2**start_level)
    assert out.shape == (2, 16) + expected
    if start_level == 0:
        assert out.shape[-2:] == (math.ceil(size[0] / 4),
                                  math.ceil(size[1] / 4))


def test_semantic_fpn_is_the_sum_of_the_level_branches():
    feats = pyramid(64, 64)
    core = SemanticFPNCore(
        in_channels=8, channels=8, norm_cfg=dict(type='GN', num_groups=4))
    branches = [core.conv_upsample_layers[i](feats[i]) for i in range(4)]
    torch.testing.assert_close(core(feats), sum(branches))


@pytest.mark.parametrize('start_level', [0, 1])
def test_semantic_fpn_upsampling_once_is_the_same_sum(start_level):
    """Bilinear upsampling is linear: summing P3-P5 before their last 2x
    upsample gives the same map up to float rounding; where the levels do not
    meet at one size (an input not a multiple of 32) the plain sum is taken,
    bit for bit."""
    torch.manual_seed(0)
    kwargs = dict(
        in_channels=8,
        channels=8,
        start_level=start_level,
        norm_cfg=dict(type='GN', num_groups=4))
    plain = SemanticFPNCore(**kwargs)
    once = SemanticFPNCore(upsample_once=True, **kwargs)
    once.load_state_dict(plain.state_dict())
    feats = pyramid(64, 96)
    torch.testing.assert_close(once(feats), plain(feats))
    assert not torch.equal(once(feats), plain(feats))  # another order
    feats = pyramid(40, 72)  # P5 2x3 upsamples to 16x24, P2 is 10x18
    assert torch.equal(once(feats), plain(feats))


def test_semantic_fpn_stages_and_parameter_names():
    core = SemanticFPNCore(
        in_channels=[8, 16, 32, 64],
        channels=16,
        norm_cfg=dict(type='GN', num_groups=4))
    # level i: max(i, 1) convs and i 2x-upsamplings
    assert [len(layer.conv) for layer in core.conv_upsample_layers] == \
        [1, 1, 2, 3]
    assert [layer.num_upsample for layer in core.conv_upsample_layers] == \
        [0, 1, 2, 3]
    names = set(core.state_dict())
    # mmdet's PanopticFPNHead names, so that its checkpoints load
    assert 'conv_upsample_layers.0.conv.0.conv.weight' in names
    assert 'conv_upsample_layers.3.conv.2.gn.bias' in names
    assert core.conv_upsample_layers[2].conv[0].conv.in_channels == 32
    assert core.conv_upsample_layers[2].conv[1].conv.in_channels == 16
    out = core([
        torch.randn(1, c, 16 // 2**i, 16 // 2**i)
        for i, c in enumerate([8, 16, 32, 64])
    ])
    assert out.shape == (1, 16, 16, 16)


def test_semantic_fpn_rejects_bad_levels():
    with pytest.raises(ValueError):
        SemanticFPNCore(in_channels=8, start_level=2, end_level=2)
    with pytest.raises(ValueError):
        SemanticFPNCore(in_channels=[8, 8], start_level=0, end_level=4)
    core = SemanticFPNCore(
        in_channels=8,
        channels=8,
        end_level=4,
        norm_cfg=dict(type='GN', num_groups=4))
    with pytest.raises(ValueError):
        core(pyramid(32, 32)[:3])


# ------------------------------------------------------ semantic branch


def semantic_head(num_things=2, num_stuff=2, loss_weight=1.0, **kwargs):
    return PanopticFPNHead(
        num_things_classes=num_things,
        num_stuff_classes=num_stuff,
        in_channels=8,
        inner_channels=8,
        norm_cfg=dict(type='GN', num_groups=4),
        loss_seg=dict(
            type='CrossEntropyLoss',
            ignore_index=VOID,
            avg_non_ignore=True,
            loss_weight=loss_weight),
        **kwargs)


def test_things_become_other_with_interleaved_categories():
    # categories interleaved in the file, as the synthetic set has them
    categories = [
        dict(id=1, name='circle', isthing=1),
        dict(id=2, name='sky', isthing=0),
        dict(id=4, name='square', isthing=1),
        dict(id=5, name='water', isthing=0),
    ]
    space = build_label_space(categories, None, 'test.json')
    cat2label = {cat: label for label, cat in enumerate(space['label2cat'])}
    assert space['classes'] == ('circle', 'square', 'sky', 'water')
    category_ids = [[1, 2, 4], [5, 0, 2]]  # 0: void
    labels = torch.tensor([[cat2label.get(c, VOID) for c in row]
                           for row in category_ids])
    assert labels.tolist() == [[0, 2, 1], [3, 255, 2]]

    head = semantic_head(num_things=2, num_stuff=2)
    # stuff sky/water -> 0/1, both things -> 'other' = 2, void stays void
    assert head.to_head_labels(labels).tolist() == [[2, 0, 2], [1, 255, 0]]
    # back: classes -> dataset labels, 'other' -> void
    assert head.to_dataset_labels(torch.tensor([0, 1, 2])).tolist() == \
        [2, 3, 255]
    assert head.num_classes == 3

    head = semantic_head(num_things=2, num_stuff=2, all_classes=True)
    assert head.num_classes == 4
    assert head.to_head_labels(labels).tolist() == labels.tolist()
    assert head.to_dataset_labels(torch.tensor([0, 3])).tolist() == [0, 3]
    # labels out of range are void, not a crash in the loss
    assert head.to_head_labels(torch.tensor([4, 7, -1])).tolist() == \
        [255, 255, 255]


def test_semantic_loss_is_mean_cross_entropy_over_labeled_pixels():
    head = semantic_head(
        num_things=2, num_stuff=2, loss_weight=0.5, seg_rescale_factor=1.0)
    logits = torch.randn(1, 3, 4, 4)
    # a 2 x 4 label map in a 4 x 4 padded batch: 2 labeled pixels, 6 void
    # pixels, 8 padding pixels
    labels = torch.full((1, 2, 4), VOID, dtype=torch.uint8)
    labels[0, 0, 1] = 3  # stuff 'water' -> class 1
    labels[0, 1, 2] = 0  # thing -> 'other' = class 2
    sample = DetDataSample(metainfo=dict(batch_input_shape=(4, 4)))
    sample.gt_sem_seg = PixelData(sem_seg=labels)

    head.forward = lambda x: logits  # the loss on known 4 x 4 logits
    loss = head.loss(None, [sample])['loss_seg']

    log_p = torch.log_softmax(logits[0], dim=0)
    by_hand = -(log_p[1, 0, 1] + log_p[2, 1, 2]) / 2
    torch.testing.assert_close(loss, 0.5 * by_hand)


def test_semantic_loss_upsamples_logits_to_the_input_size():
    """detectron2's way (``seg_rescale_factor=1.0``): logits upsampled to the
    labels."""
    head = semantic_head(num_things=2, num_stuff=2, seg_rescale_factor=1.0)
    logits = torch.randn(2, 3, 2, 3)
    labels = torch.randint(0, 4, (2, 1, 8, 12), dtype=torch.uint8)
    samples = []
    for i in range(2):
        sample = DetDataSample(metainfo=dict(batch_input_shape=(8, 12)))
        sample.gt_sem_seg = PixelData(sem_seg=labels[i])
        samples.append(sample)
    head.forward = lambda x: logits
    loss = head.loss(None, samples)['loss_seg']

    full = F.interpolate(
        logits, size=(8, 12), mode='bilinear', align_corners=False)
    target = head.to_head_labels(labels[:, 0])
    torch.testing.assert_close(loss, F.cross_entropy(full, target))


def test_semantic_loss_at_quarter_scale_subsamples_the_labels():
    """mmdet's way, the default (``seg_rescale_factor=1/4``): the labels are
    subsampled (nearest: every 4th row and column) to the 1/4-scale logits; the
    mean still runs over labeled pixels only."""
    head = semantic_head(num_things=2, num_stuff=2)
    assert head.seg_rescale_factor == 1 / 4
    logits = torch.randn(2, 3, 2, 3)
    labels = torch.randint(0, 4, (2, 1, 8, 12), dtype=torch.uint8)
    labels[0, 0, 0, 0] = VOID  # a kept pixel that is void
    labels[1, 0, 1, 1] = VOID  # a dropped one: no effect
    samples = []
    for i in range(2):
        sample = DetDataSample(metainfo=dict(batch_input_shape=(8, 12)))
        sample.gt_sem_seg = PixelData(sem_seg=labels[i])
        samples.append(sample)
    head.forward = lambda x: logits
    loss = head.loss(None, samples)['loss_seg']

    target = head.to_head_labels(labels[:, 0, ::4, ::4])
    assert (target == VOID).sum() == 1
    torch.testing.assert_close(
        loss, F.cross_entropy(logits, target, ignore_index=VOID))
    with pytest.raises(ValueError, match='seg_rescale_factor'):
        semantic_head(seg_rescale_factor=0)


def test_semantic_predict_crops_padding_and_resizes():
    head = semantic_head(num_things=2, num_stuff=2)
    feats = pyramid(32, 32, channels=8, batch=2)
    metas = [
        dict(
            batch_input_shape=(32, 32), img_shape=(32, 24),
            ori_shape=(64, 48)),
        dict(
            batch_input_shape=(32, 32), img_shape=(20, 32),
            ori_shape=(20, 32)),
    ]
    padded = head.predict(feats, metas, rescale=False)
    assert [p.shape for p in padded] == [(3, 32, 32)] * 2
    rescaled = head.predict(feats, metas, rescale=True)
    assert [p.shape for p in rescaled] == [(3, 64, 48), (3, 20, 32)]
    torch.testing.assert_close(rescaled[1], padded[1][:, :20, :32])
    labels = head.labels_from_logits(rescaled[0])
    assert labels.dtype == torch.int64
    assert set(labels.unique().tolist()) <= {2, 3, VOID}


# --------------------------------------------------------------- fusion


def masks_from(*rows_cols, shape=(4, 6)):
    """Boolean masks from (row slice, column slice) pairs."""
    masks = torch.zeros((len(rows_cols), ) + shape, dtype=torch.bool)
    for k, (rows, cols) in enumerate(rows_cols):
        masks[k, rows, cols] = True
    return masks


def fuse(masks, labels, scores, semantic, **kwargs):
    # 2 things (labels 0, 1) and 2 stuff (labels 2, 3) in these cases
    kwargs.setdefault('stuff_area_limit', 1)
    return combine_semantic_and_instances(masks, torch.tensor(labels),
                                          torch.tensor(scores),
                                          torch.tensor(semantic), 2, 2,
                                          **kwargs)


def test_fusion_places_instances_by_score_and_drops_overlapping_ones():
    everywhere_stuff_2 = [[2] * 6] * 4
    masks = masks_from(
        (slice(0, 2), slice(0, 2)),  # 4 px inside the first: dropped
        (slice(None), slice(2, 4)),  # 8 px, half on the first: kept
        (slice(None), slice(0, 3)),  # 12 px, best score
    )
    pan, segments = fuse(masks, [0, 1, 0], [0.7, 0.8, 0.9], everywhere_stuff_2)
    assert pan.tolist() == [[1, 1, 1, 2, 3, 3]] * 4
    assert segments == [
        dict(
            id=1, category=0, isthing=True, score=pytest.approx(0.9), area=12),
        dict(id=2, category=1, isthing=True, score=pytest.approx(0.8), area=4),
        dict(id=3, category=2, isthing=False, score=None, area=8),
    ]
    # stricter overlap: the second now loses half of itself, too much
    pan, segments = fuse(
        masks, [0, 1, 0], [0.7, 0.8, 0.9],
        everywhere_stuff_2,
        mask_overlap=0.4)
    assert pan.tolist() == [[1, 1, 1, 2, 2, 2]] * 4
    assert [s['category'] for s in segments] == [0, 2]


def test_fusion_keeps_only_instances_scoring_above_score_thr():
    masks = masks_from((slice(None), slice(0, 1)), (slice(None), slice(1, 2)),
                       (slice(None), slice(2, 3)))
    semantic = [[3] * 6] * 4
    pan, segments = fuse(
        masks, [0, 1, 1], [0.5, 0.6, 0.61], semantic, score_thr=0.6)
    # 0.6 itself is not above 0.6 (compared in float32, as mmdet does)
    assert pan.tolist() == [[2, 2, 1, 2, 2, 2]] * 4
    assert [(s['category'], s['area']) for s in segments] == [(1, 4), (3, 20)]
    pan, _ = fuse(masks, [0, 1, 1], [0.5, 0.6, 0.61], semantic, score_thr=0.0)
    assert pan.tolist() == [[3, 2, 1, 4, 4, 4]] * 4


def test_fusion_instances_over_stuff_small_stuff_and_other_are_void():
    semantic = [[2, 2, 2, 2, 3, 3], [2, 2, 2, 2, 3,
                                     3], [2, 2, VOID, VOID, 2, 2],
                [2, 2, VOID, VOID, 2, 2]]  # VOID: the 'other' class
    masks = masks_from((slice(None), slice(0, 2)))
    pan, segments = fuse(masks, [1], [0.9], semantic, stuff_area_limit=5)
    # stuff 2 keeps its 8 free pixels, stuff 3 (4 px) and 'other' are void
    assert pan.tolist() == [[1, 1, 2, 2, 0, 0], [1, 1, 2, 2, 0, 0],
                            [1, 1, 0, 0, 2, 2], [1, 1, 0, 0, 2, 2]]
    assert segments[1] == dict(
        id=2, category=2, isthing=False, score=None, area=8)
    # thing labels (from a head that predicts all classes) are not stuff
    as_thing = [[1 if v == VOID else v for v in row] for row in semantic]
    assert torch.equal(
        fuse(masks, [1], [0.9], as_thing, stuff_area_limit=5)[0], pan)
    # stuff areas count the pixels left free: 16 in all, 8 free < 9
    pan, segments = fuse(masks, [1], [0.9], semantic, stuff_area_limit=9)
    assert pan.tolist() == [[1, 1, 0, 0, 0, 0]] * 4
    assert len(segments) == 1


def test_fusion_without_instances_gives_stuff_in_label_order():
    semantic = [[3, 3, 3, 2, 2, 2]] * 4
    masks = torch.zeros((0, 4, 6), dtype=torch.bool)
    pan, segments = fuse(masks, [], [], semantic)
    assert pan.dtype == torch.int64
    assert pan.tolist() == [[2, 2, 2, 1, 1, 1]] * 4
    assert [(s['id'], s['category']) for s in segments] == [(1, 2), (2, 3)]
    # nothing at all: all void
    pan, segments = fuse(masks, [], [], [[VOID] * 6] * 4)
    assert pan.tolist() == [[0] * 6] * 4 and segments == []


def test_fusion_skips_empty_masks():
    masks = masks_from((slice(0, 0), slice(0, 0)), (slice(None), slice(5, 6)))
    pan, segments = fuse(masks, [0, 1], [0.99, 0.9], [[2] * 6] * 4)
    assert pan.tolist() == [[2, 2, 2, 2, 2, 1]] * 4
    assert segments[0]['category'] == 1


def test_fusion_head_reads_thresholds_from_test_cfg():
    head = MODELS.build(
        dict(
            type='HeuristicFusionHead',
            num_things_classes=2,
            num_stuff_classes=2,
            test_cfg=dict(mask_overlap=0.3, stuff_area_limit=7)))
    assert isinstance(head, HeuristicFusionHead)
    assert (head.score_thr, head.mask_overlap, head.stuff_area_limit) == \
        (0.6, 0.3, 7)
    instances = InstanceData(
        masks=masks_from((slice(None), slice(0, 2))),
        labels=torch.tensor([1]),
        scores=torch.tensor([0.9]))
    semantic = torch.tensor([[2, 2, 2, 2, 3, 3]] * 4)
    [result] = head.predict([instances], [semantic])
    assert isinstance(result, PixelData)
    # stuff 3 (8 px) is kept, stuff 2 (8 px free) too
    assert result.sem_seg.tolist() == [[[1, 1, 2, 2, 3, 3]] * 4]
    assert [s['category'] for s in result.segments_info] == [1, 2, 3]


# ------------------------------------------------------------- detector

NUM_THINGS, NUM_STUFF = 3, 3


def tiny_model_cfg():
    """The base config shrunk: ResNet-18, 32-channel FPN, small samplers."""
    model = shrink_panoptic_fpn(
        Config.fromfile(BASE_MODEL).model, 32, NUM_THINGS, NUM_STUFF)
    model.semantic_head.norm_cfg = dict(
        type='GN', num_groups=8, requires_grad=True)
    model.train_cfg.rpn.sampler.num = 64
    model.train_cfg.rcnn.sampler.num = 64
    model.train_cfg.rpn_proposal.update(nms_pre=200, max_per_img=100)
    model.test_cfg.rpn.update(nms_pre=200, max_per_img=100)
    return model


def make_batch(sizes, seed=0):
    """Images of coloured rectangles (things) on two stuff bands with a void
    strip, as the data pipeline packs them."""
    gen = torch.Generator().manual_seed(seed)
    colours = torch.randint(0, 256, (NUM_THINGS + NUM_STUFF, 3), generator=gen)
    inputs, samples = [], []
    for h, w in sizes:
        labels = torch.full((h, w), NUM_THINGS, dtype=torch.long)
        labels[h // 2:] = NUM_THINGS + 1 + int(
            torch.randint(0, 2, (1, ), generator=gen))
        labels[:, :3] = VOID
        boxes, classes, masks = [], [], []
        for _ in range(3):
            bh, bw = torch.randint(10, 24, (2, ), generator=gen).tolist()
            y0 = int(torch.randint(0, h - bh, (1, ), generator=gen))
            x0 = int(torch.randint(3, w - bw, (1, ), generator=gen))
            cls = int(torch.randint(0, NUM_THINGS, (1, ), generator=gen))
            mask = torch.zeros((h, w), dtype=torch.uint8)
            mask[y0:y0 + bh, x0:x0 + bw] = 1
            for earlier in masks:  # later rectangles occlude earlier ones
                earlier[mask.bool()] = 0
            labels[mask.bool()] = cls
            boxes.append([x0, y0, x0 + bw, y0 + bh])
            classes.append(cls)
            masks.append(mask)
        image = colours[labels.clamp(max=len(colours) - 1)].permute(2, 0, 1)
        image = image + torch.randint(0, 20, image.shape, generator=gen)
        image[:, labels == VOID] = 0
        sample = DetDataSample(
            metainfo=dict(
                img_shape=(h, w), ori_shape=(h, w), scale_factor=(1.0, 1.0)))
        sample.gt_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32),
            labels=torch.tensor(classes),
            masks=BitmapMasks(torch.stack(masks).numpy(), h, w))
        sample.gt_sem_seg = PixelData(sem_seg=labels[None].to(torch.uint8))
        inputs.append(image.clamp(max=255).to(torch.uint8))
        samples.append(sample)
    return dict(inputs=inputs, data_samples=samples)


def tiny_model(**overrides):
    torch.manual_seed(0)
    cfg = tiny_model_cfg()
    cfg.update(overrides)
    model = MODELS.build(cfg)
    model.init_weights()
    return model


def test_detector_losses_and_instance_loss_weight():
    data = make_batch([(64, 64), (56, 72)])
    losses = {}
    for weight in (1.0, 2.0):
        model = tiny_model(instance_loss_weight=weight)
        assert isinstance(model, PanopticFPN)
        batch = model.data_preprocessor(data, training=True)
        torch.manual_seed(1)  # same RPN/RoI sampling in both runs
        losses[weight] = model(**batch, mode='loss')
    assert set(losses[1.0]) == {
        'loss_rpn_cls', 'loss_rpn_bbox', 'loss_cls', 'acc', 'loss_bbox',
        'loss_mask', 'loss_seg'
    }
    for name in ('loss_cls', 'loss_bbox', 'loss_mask'):
        torch.testing.assert_close(losses[2.0][name], 2 * losses[1.0][name])
    for name in ('loss_rpn_cls', 'loss_rpn_bbox', 'loss_seg', 'acc'):
        torch.testing.assert_close(losses[2.0][name], losses[1.0][name])
    # the configured lambda_s = 0.5 halves the semantic cross entropy
    assert model.semantic_head.loss_seg.loss_weight == 0.5


def test_a_few_training_steps_lower_the_loss():
    model = tiny_model()
    model.train()
    data = make_batch([(64, 64), (64, 48)], seed=3)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    totals = []
    for _ in range(10):
        batch = model.data_preprocessor(data, training=True)
        loss, _ = model.parse_losses(model(**batch, mode='loss'))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        totals.append(loss.item())
    assert all(math.isfinite(t) for t in totals)
    assert sum(totals[-3:]) / 3 < 0.8 * totals[0], totals


def test_detector_predict_gives_instances_semantics_and_panoptic():
    model = tiny_model()
    # keep every instance in the fusion, so that thing segments exist
    model.panoptic_fusion_head.score_thr = 0.0
    model.panoptic_fusion_head.stuff_area_limit = 16
    model.eval()
    data = make_batch([(64, 64), (48, 72)], seed=1)
    # the second image was resized from 60 x 90 by the pipeline
    data['data_samples'][1].set_metainfo(
        dict(ori_shape=(60, 90), scale_factor=(0.8, 0.8)))
    batch = model.data_preprocessor(data, training=False)
    with torch.no_grad():
        results = model(**batch, mode='predict')

    num_things = 0
    for result, (h, w) in zip(results, [(64, 64), (60, 90)]):
        instances = result.pred_instances
        assert instances.masks.shape[1:] == (h, w)
        assert instances.masks.dtype == torch.bool
        assert len(instances) == len(instances.scores) > 0

        semantic = result.pred_sem_seg.sem_seg
        assert semantic.shape == (1, h, w) and semantic.dtype == torch.int64
        stuff = set(range(NUM_THINGS, NUM_THINGS + NUM_STUFF))
        assert set(semantic.unique().tolist()) <= stuff | {VOID}
        assert 'seg_logits' not in result.pred_sem_seg

        panoptic = result.pred_panoptic_seg.sem_seg
        assert panoptic.shape == (1, h, w) and panoptic.dtype == torch.int64
        segments = result.pred_panoptic_seg.segments_info
        assert [s['id'] for s in segments] == list(range(1, len(segments) + 1))
        areas = torch.bincount(panoptic.flatten(), minlength=len(segments) + 1)
        assert areas[1:].tolist() == [s['area'] for s in segments]
        for s in segments:
            assert s['isthing'] == (s['category'] < NUM_THINGS)
        num_things += sum(s['isthing'] for s in segments)
    assert num_things > 0

    # without rescale, everything is at img_shape, padding cropped
    with torch.no_grad():
        results = model.predict(
            batch['inputs'], batch['data_samples'], rescale=False)
    for result, (h, w) in zip(results, [(64, 64), (48, 72)]):
        assert result.pred_instances.masks.shape[1:] == (h, w)
        assert result.pred_sem_seg.sem_seg.shape == (1, h, w)
        assert result.pred_panoptic_seg.sem_seg.shape == (1, h, w)


def test_detector_tensor_mode_and_logits_on_request():
    model = tiny_model()
    model.eval()
    with torch.no_grad():
        rpn_outs, roi_outs, seg_logits = model(
            torch.randn(2, 3, 64, 96), mode='tensor')
    assert len(rpn_outs) == 2 and len(rpn_outs[0]) == 5
    cls_score, bbox_pred, mask_preds = roi_outs
    assert cls_score.shape[1] == NUM_THINGS + 1
    assert mask_preds.shape[1:] == (NUM_THINGS, 28, 28)
    assert seg_logits.shape == (2, NUM_STUFF + 1, 16, 24)

    model.test_cfg['return_seg_logits'] = True
    data = make_batch([(64, 64)])
    with torch.no_grad():
        [result] = model(
            **model.data_preprocessor(data, training=False), mode='predict')
    assert result.pred_sem_seg.seg_logits.shape == (NUM_STUFF + 1, 64, 64)


def test_detector_needs_its_heads():
    cfg = tiny_model_cfg()
    cfg.semantic_head = None
    with pytest.raises(ValueError):
        MODELS.build(cfg)
