"""Panoptic FCN against the official implementation (yanwei-li/PanopticFCN):
its inference formulas on hand-made cases (expected values worked out from the
official code's formulas in the comments), and its checkpoint layout: a model
written in the official layout converts back to the same weights and the same
outputs; a key that does not fit is an error naming it and the file.

(Kernel fusion's first-match case, the maskness rescoring, the whole-map stuff
pooling and the stuff argmax are pinned in test_panoptic_fcn_targets.py.)
"""
import copy
import math
import os.path as osp
import pickle

import pytest
import torch
import torch.nn.functional as F
from mmdet.structures import DetDataSample
from mmengine.config import Config

from mmpanfpn.models import panoptic_fcn_checkpoint as ckpt
from mmpanfpn.models.panoptic_fcn_heads import append_coordinates
from mmpanfpn.models.panoptic_fcn_inference import (assemble_panoptic,
                                                    average_stuff_kernels,
                                                    fuse_thing_kernels,
                                                    stuff_regions, thing_peaks)
from mmpanfpn.registry import MODELS

CONFIGS = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'panoptic_fcn')
TINY = osp.join(CONFIGS, 'panoptic-fcn_tiny_synthetic.py')
DCN = dict(type='DCNv2', deform_groups=1)
NEG = float('-inf')  # sigmoid(-inf) = 0 exactly

# ---------------------------------------------------------------- formulas


def logit(p):
    return torch.logit(torch.tensor(p, dtype=torch.float64)).float()


@pytest.mark.parametrize('pool, expected', [
    (3, [0.51667, 0.44444]),
    (5, [0.474, 0.416]),
])
def test_peaks_smooth_with_the_zero_padded_box_mean(pool, expected):
    """One row of probabilities [0.8, 0, 0, 0.9, 0.3] (one class, h = 1).

    The official smoothing is (p + avg_pool(p, pool, stride 1, zero pad)) / 2,
    where the pool divides by pool^2 whatever the padding:
      pool 3 (/9): x0 (0.8 + (0.8) / 9) / 2 = 0.44444
                   x3 (0.9 + (0 + 0.9 + 0.3) / 9) / 2 = 0.51667
                   x4 (0.3 + 1.2 / 9) / 2 = 0.21667 < x3: not a 3x3 maximum
      pool 5 (/25): x0 (0.8 + 0.8 / 25) / 2 = 0.416
                    x3 (0.9 + 1.2 / 25) / 2 = 0.474
    x1, x2 are below a neighbour, so two peaks: x3 then x0.
    """
    probs = [0.8, 0.0, 0.0, 0.9, 0.3]
    logits = torch.tensor(
        [[[[NEG if p == 0 else float(logit(p)) for p in probs]]]])
    scores, classes, cells, keep = thing_peaks(logits, pool, 50, 0.05)
    # K = min(50, h * w) = 5 candidates; local maxima only, the rest 0
    assert scores.shape == (1, 5)
    assert scores[0, :2].tolist() == pytest.approx(expected, abs=1e-5)
    assert scores[0, 2:].tolist() == [0, 0, 0]
    assert cells[0, :2].tolist() == [3, 0]
    assert keep[0].tolist() == [True, True, False, False, False]
    # the threshold is strict (score > thr): between the two peaks
    _, _, _, keep = thing_peaks(logits, pool, 50, sum(expected) / 2)
    assert keep[0].tolist() == [True, False, False, False, False]


def test_peaks_are_the_top_k_over_classes_and_cells():
    """A 3x3 map, two classes, pool 3 (/9, zero padding).

    Class 0: 0.9 at (0, 0) and 0.7 at its neighbour (1, 1):
      (0, 0): (0.9 + (0.9 + 0.7) / 9) / 2 = 0.53889
      (1, 1): (0.7 + 1.6 / 9) / 2 = 0.43889, below its neighbour: no peak.
    Class 1: 0.8 at (0, 2) and 0.6 at (2, 0), far apart (maxima are per
    class):
      (0, 2): (0.8 + 0.8 / 9) / 2 = 0.44444
      (2, 0): (0.6 + 0.6 / 9) / 2 = 0.33333
    K = 2 over both classes keeps 0.53889 (class 0, cell 0) and 0.44444
    (class 1, cell 2).
    """
    logits = torch.full((1, 2, 3, 3), NEG)
    logits[0, 0, 0, 0] = logit(0.9)
    logits[0, 0, 1, 1] = logit(0.7)
    logits[0, 1, 0, 2] = logit(0.8)
    logits[0, 1, 2, 0] = logit(0.6)
    scores, classes, cells, keep = thing_peaks(logits, 3, 2, 0.05)
    assert scores[0].tolist() == pytest.approx([0.53889, 0.44444], abs=1e-5)
    assert classes[0].tolist() == [0, 1]
    assert cells[0].tolist() == [0, 2]
    assert keep.all()
    scores, classes, cells, _ = thing_peaks(logits, 3, 3, 0.05)
    assert scores[0].tolist() == pytest.approx([0.53889, 0.44444, 0.33333],
                                               abs=1e-5)
    assert cells[0, 2] == 6 and classes[0, 2] == 1


def official_top_k(probs, k):
    """The official two-stage top-k: k per class, then k of those."""
    b, c, h, w = probs.shape
    per_class, cells = probs.view(b, c, -1).topk(k)
    scores, index = per_class.view(b, -1).topk(k)
    return scores, index // k, cells.view(b, -1).gather(1, index)


@pytest.mark.parametrize('seed', range(4))
def test_peaks_equal_the_official_two_stage_top_k(seed):
    gen = torch.Generator().manual_seed(seed)
    logits = torch.randn((2, 4, 6, 7), generator=gen) * 2
    for pool, k in ((3, 50), (5, 10)):
        scores, classes, cells, keep = thing_peaks(logits, pool, k, 0.3)
        probs = logits.sigmoid()
        probs = (probs + F.avg_pool2d(probs, pool, 1, (pool - 1) // 2)) / 2
        probs = probs * (F.max_pool2d(probs, 3, 1, 1) == probs)
        # official K: min(h * w, TOP_NUM // 2)
        ref_scores, ref_classes, ref_cells = official_top_k(
            probs, min(6 * 7, k))
        for i in range(2):
            ours = sorted(
                zip(scores[i][keep[i]].tolist(), classes[i][keep[i]].tolist(),
                    cells[i][keep[i]].tolist()))
            ref_keep = ref_scores[i] > 0.3
            ref = sorted(
                zip(ref_scores[i][ref_keep].tolist(),
                    ref_classes[i][ref_keep].tolist(),
                    ref_cells[i][ref_keep].tolist()))
            assert ours == ref and len(ours) > 0


def test_stuff_regions_score_their_mean_over_the_argmax_region():
    """Two classes on a 1x4 map: class 0 [0.9, 0.8, 0.2, 0.1], class 1 [0.3,
    0.4, 0.7, 0.6]. Argmax regions: class 0 cells 0-1, class 1 cells 2-3.
    Scores: (0.9 + 0.8) / 2 = 0.85 and (0.7 + 0.6) / 2 = 0.65; threshold
    0.7 keeps class 0 only. Kernels (one channel [1, 2, 3, 4]) pool over
    the whole map: (1 + 2) / 4 = 0.75 and (3 + 4) / 4 = 1.75."""
    probs = torch.tensor([[[[0.9, 0.8, 0.2, 0.1]], [[0.3, 0.4, 0.7, 0.6]]]])
    kernel_map = torch.tensor([[[[1., 2., 3., 4.]]]])
    scores, keep, kernels = stuff_regions(torch.logit(probs), kernel_map, 0.7)
    assert scores[0].tolist() == pytest.approx([0.85, 0.65], abs=1e-6)
    assert keep[0].tolist() == [True, False]
    assert kernels[0, :, 0].tolist() == pytest.approx([0.75, 1.75])
    # a class that is nowhere the argmax is never kept
    probs = torch.tensor([[[[0.9, 0.8]], [[0.3, 0.4]]]])
    _, keep, _ = stuff_regions(torch.logit(probs), kernel_map[..., :2], 0.)
    assert keep[0].tolist() == [True, False]


def test_stuff_kernels_and_scores_average_over_levels_per_class():
    """Class 3 found on two levels, class 1 on one: classes come sorted, the
    kernels and scores of class 3 are averaged ((1 + 3) / 2, (0 + 4) / 2; (0.2.

    + 0.6) / 2).
    """
    kernels = torch.tensor([[1., 0.], [0., 2.], [3., 4.]])
    fused, classes, scores = average_stuff_kernels(kernels,
                                                   torch.tensor([3, 1, 3]),
                                                   torch.tensor([.2, .5, .6]))
    assert classes.tolist() == [1, 3]
    assert fused.tolist() == [[0., 2.], [2., 2.]]
    assert scores.tolist() == pytest.approx([0.5, 0.4])


def fusion_by_definition(kernels, labels, scores, thr, class_specific):
    """Kernel j (score order) belongs to its first match i <= j (cosine >= thr,
    same class if class_specific); i is kept iff it is its own first match, and
    becomes the mean of what it owns."""
    unit = kernels / kernels.norm(dim=1, keepdim=True)
    owner = []
    for j in range(len(kernels)):
        owner.append(
            next(
                i for i in range(j + 1)
                if float(unit[i] @ unit[j]) >= thr and (
                    not class_specific or labels[i] == labels[j])))
    kept = [i for i in range(len(kernels)) if owner[i] == i]
    fused = torch.stack([
        kernels[[j for j in range(len(kernels)) if owner[j] == i]].mean(0)
        for i in kept
    ])
    return fused, labels[kept], scores[kept]


@pytest.mark.parametrize('seed', range(3))
@pytest.mark.parametrize('class_specific', [True, False])
def test_kernel_fusion_equals_the_first_match_definition(seed, class_specific):
    gen = torch.Generator().manual_seed(seed)
    kernels = torch.randn((16, 3), generator=gen)
    labels = torch.randint(0, 2, (16, ), generator=gen)
    scores = torch.rand(16, generator=gen).sort(descending=True).values
    ours = fuse_thing_kernels(kernels, labels, scores, 0.8, class_specific)
    ref = fusion_by_definition(kernels, labels, scores, 0.8, class_specific)
    assert 1 < len(ref[0]) < 16  # some groups merge, not all
    assert torch.allclose(ours[0], ref[0], atol=1e-6)
    assert torch.equal(ours[1], ref[1]) and torch.equal(ours[2], ref[2])


def test_panoptic_assembly_thresholds():
    """A 4x8 image, things 0..2, stuff 3..4 (255: the merged things).

    A (0.9, class 0) rows 0-1 cols 0-2: 6 px, painted.
    C (0.5, class 1) rows 0-1 cols 1-3: 4 of its 6 px are A's, 4/6 > 0.5:
      dropped.
    B (0.2, class 1; 0.2 is kept, the rule is score >= 0.2) rows 0-1 cols
      1-4: 4 of 8 px are A's, 4/8 = 0.5 is not above 0.5: kept, paints its
      4 free px (cols 3-4).
    D (0.19) is below 0.2; E (0.95) is empty: neither is painted.
    Stuff on the free pixels: 3 has 6 (rows 0-1 cols 5-7) + 8 (rows 2-3
    cols 0-3) = 14 px, 4 has 8 px: with the area limit 9 stuff 4 is void,
    with 8 (area >= limit is kept) it is a segment.
    """
    h, w = 4, 8

    def box(y0, y1, x0, x1):
        m = torch.zeros((h, w), dtype=torch.bool)
        m[y0:y1, x0:x1] = True
        return m

    masks = torch.stack([
        box(0, 0, 0, 0),
        box(0, 2, 0, 3),
        box(0, 2, 1, 4),
        box(0, 2, 1, 5),
        box(2, 4, 0, 2)
    ])
    scores = torch.tensor([0.95, 0.9, 0.5, 0.2, 0.19])
    labels = torch.tensor([2, 0, 1, 1, 2])
    semantic = torch.full((h, w), 255)
    semantic[0:2, 5:] = 3
    semantic[2:, :4] = 3
    semantic[2:, 4:] = 4
    pan, info = assemble_panoptic(masks, labels, scores, semantic, 3, 2, 0.2,
                                  0.5, 9)
    assert pan.tolist() == [
        [1, 1, 1, 2, 2, 3, 3, 3],
        [1, 1, 1, 2, 2, 3, 3, 3],
        [3, 3, 3, 3, 0, 0, 0, 0],
        [3, 3, 3, 3, 0, 0, 0, 0],
    ]
    assert [(s['category'], s['isthing'], s['area'])
            for s in info] == [(0, True, 6), (1, True, 4), (3, False, 14)]
    assert info[1]['score'] == pytest.approx(0.2)
    _, info = assemble_panoptic(masks, labels, scores, semantic, 3, 2, 0.2,
                                0.5, 8)
    assert [(s['category'], s['area']) for s in info][2:] == [(3, 14), (4, 8)]


def test_coordinates_are_row_then_column_as_the_official_coord_conv():
    """Official: linspace(-1, 1, H) and linspace(-1, 1, W) meshed in 'ij'
    order, concatenated [rows, columns]; official weights need no channel
    permutation."""
    out = append_coordinates(torch.zeros((1, 1, 2, 3)))
    assert out[0, 1].tolist() == [[-1, -1, -1], [1, 1, 1]]
    assert out[0, 2].tolist() == [[-1, 0, 1], [-1, 0, 1]]


# -------------------------------------------------------------- checkpoints


def tiny_model(deformable: bool, seed: int):
    cfg = copy.deepcopy(Config.fromfile(TINY).model)
    if deformable:  # the official R50 position head and the "*" encoder
        cfg.pos_head.conv_cfg = DCN
        cfg.encoder.conv_cfg = DCN
    torch.manual_seed(seed)
    model = MODELS.build(cfg)
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():  # nothing left at its default value
        for name, value in model.state_dict().items():
            if value.is_floating_point():
                value.add_(torch.randn(value.shape, generator=gen) * 0.05)
            if name.endswith('running_var'):
                value.abs_().add_(0.5)
        model.pos_head.thing_out.bias.zero_()  # centre scores near 0.5
        for embed in (model.thing_embed, model.stuff_embed):
            embed.weight.normal_(0, 0.3, generator=gen)
    return model.eval()


def predict(model, image):
    sample = DetDataSample(
        metainfo=dict(
            img_shape=(64, 64),
            ori_shape=(64, 64),
            batch_input_shape=(64, 64),
            pad_shape=(64, 64)))
    with torch.no_grad():
        return model.predict(image, [sample])[0]


@pytest.mark.parametrize('deformable, suffix', [(True, '.pth'),
                                                (False, '.pkl')])
def test_official_layout_converts_back_to_the_same_weights_and_outputs(
        tmp_path, deformable, suffix):
    ours = tiny_model(deformable, seed=1)
    official = ckpt.to_official(ours.state_dict())
    assert ('position_head.position_head.position_head_head_1.'
            'offset_mask_conv.weight' in official) == deformable
    assert ('position_head.position_head.position_head_head_1.'
            f'{"dcnv2." if deformable else ""}norm.weight' in official)
    assert not any(k.endswith('num_batches_tracked') for k in official)
    path = str(tmp_path / f'official{suffix}')
    if suffix == '.pkl':  # detectron2's pickle: numpy arrays
        with open(path, 'wb') as f:
            pickle.dump(
                {
                    'model': {k: v.numpy()
                              for k, v in official.items()},
                    '__author__': 'test'
                }, f)
    else:
        torch.save(
            dict(model=official, optimizer={}, scheduler={}, iteration=7),
            path)
    weights, ignored = ckpt.load_official(path)
    assert ignored == (['__author__'] if suffix == '.pkl' else
                       ['iteration', 'optimizer', 'scheduler'])

    fresh = tiny_model(deformable, seed=2)
    fresh.load_state_dict(
        ckpt.convert_official(weights, fresh.state_dict(), path), strict=True)
    for key, value in ours.state_dict().items():
        assert torch.equal(fresh.state_dict()[key], value), key

    image = torch.randn((1, 3, 64, 64),
                        generator=torch.Generator().manual_seed(0))
    a, b = predict(ours, image), predict(fresh, image)
    assert len(a.pred_instances) > 0
    for field in ('masks', 'scores', 'labels'):
        assert torch.equal(a.pred_instances[field], b.pred_instances[field])
    assert torch.equal(a.pred_sem_seg.sem_seg, b.pred_sem_seg.sem_seg)
    assert torch.equal(a.pred_panoptic_seg.sem_seg,
                       b.pred_panoptic_seg.sem_seg)


def test_convert_checkpoint_writes_meta_from_the_config(tmp_path):
    official = ckpt.to_official(tiny_model(True, seed=1).state_dict())
    src = str(tmp_path / 'official.pth')
    torch.save(dict(model=official, iteration=3), src)
    config = tmp_path / 'tiny_dcn.py'
    config.write_text(
        f'_base_ = {TINY!r}\n'
        'dcn = dict(_delete_=True, type="DCNv2", deform_groups=1)\n'
        'model = dict(pos_head=dict(conv_cfg=dcn), '
        'encoder=dict(conv_cfg=dcn))\n'
        'test_dataloader = dict(dataset=dict(metainfo=dict('
        'thing_classes=["a", "b", "c"], stuff_classes=["d", "e", "f"])))\n')
    checkpoint = ckpt.convert_checkpoint(src, str(config))
    meta = checkpoint['meta']
    assert meta['dataset_meta']['classes'] == ('a', 'b', 'c', 'd', 'e', 'f')
    assert meta['ignored_entries'] == ['iteration']
    assert checkpoint['state_dict']['thing_embed.weight'].equal(
        official['thing_generator.embed_extractor.weight'])


def test_official_configs_are_picked_by_the_deformable_keys():
    assert ckpt.official_config_name(
        {'position_head.position_head.position_head_head_1.weight':
         None}) == 'panoptic-fcn_r50_fpn_no-dcn_1x_coco.py'
    assert ckpt.official_config_name({
        'position_head.position_head.position_head_head_1.'
        'offset_mask_conv.weight':
        None
    }) == 'panoptic-fcn_r50_fpn_1x_coco.py'
    assert ckpt.official_config_name({
        'feature_encoder.encode_head.encode_head_head_1.'
        'offset_mask_conv.weight':
        None
    }) == 'panoptic-fcn-star_r50_fpn_ms-3x_coco.py'


def test_key_families():
    cases = [
        ('backbone.bottom_up.res5.2.conv3.norm.running_var',
         'backbone.layer4.2.bn3.running_var'),
        ('backbone.bottom_up.res3.0.shortcut.weight',
         'backbone.layer2.0.downsample.0.weight'),
        ('backbone.top_block.p7.bias', 'neck.fpn_convs.5.conv.bias'),
        # p5's Sequential: conv, up, conv, up, conv, up: index 4, 3rd conv
        ('semantic_fpn.p5.4.norm.weight',
         'encoder.semantic_fpn.conv_upsample_layers.3.conv.2.gn.weight'),
        ('semantic_fpn.p5.3.weight', None),  # an Upsample layer
        ('kernel_head.kernel_head.kernel_head_head_3.norm.bias',
         'kernel_head.convs.2.gn.bias'),
    ]
    for official, ours in cases:
        assert ckpt.official_to_ours(official) == ours


def bad_checkpoint(tmp_path, edit):
    model = tiny_model(False, seed=1)
    official = ckpt.to_official(model.state_dict())
    edit(official)
    path = str(tmp_path / 'bad.pth')
    torch.save(dict(model=official), path)
    return path, model.state_dict()


@pytest.mark.parametrize('edit, names', [
    (lambda sd: sd.update({'position_head.extra.weight': torch.zeros(1)}),
     ['position_head.extra.weight', 'unknown']),
    (lambda sd: sd.update({'semantic_fpn.p3.1.weight': torch.zeros(1)}),
     ['semantic_fpn.p3.1.weight', 'unknown']),
    (lambda sd: sd.pop('kernel_head.out_conv.bias'),
     ['kernel_head.out_conv.bias', 'missing']),
    (lambda sd: sd.update(
        {'position_head.out_inst.weight': torch.zeros((80, 64, 3, 3))}),
     ['position_head.out_inst.weight', '(80, 64, 3, 3)', '(3, 64, 3, 3)']),
    (lambda sd: sd.update({
        'position_head.position_head.position_head_head_1.offset_mask_conv.'
        'weight':
        torch.zeros((27, 64, 3, 3))
    }), ['offset_mask_conv.weight', 'pos_head.convs.0.conv.conv_offset']),
])
def test_keys_that_do_not_fit_are_named_with_the_file(tmp_path, edit, names):
    path, target = bad_checkpoint(tmp_path, edit)
    weights, _ = ckpt.load_official(path)
    with pytest.raises(ckpt.ConversionError) as err:
        ckpt.convert_official(weights, target, path)
    for name in [path] + names:
        assert name in str(err.value)


def test_unknown_checkpoint_entries_are_named(tmp_path):
    path = str(tmp_path / 'odd.pth')
    torch.save(dict(model={}, trainer_state=1), path)
    with pytest.raises(ckpt.ConversionError, match=r'odd\.pth.*trainer_state'):
        ckpt.load_official(path)


def test_kernel_fusion_similarity_threshold_is_inclusive():
    # the official kernel-fusion threshold compares cosines with >=: two
    # kernels at exactly acos(0.9) still merge (float64 to be exact)
    angle = math.acos(0.9)
    kernels = torch.tensor(
        [[1., 0.], [math.cos(angle), math.sin(angle)]], dtype=torch.float64)
    fused, _, _ = fuse_thing_kernels(kernels, torch.tensor([0, 0]),
                                     torch.tensor([0.9, 0.8]), 0.9)
    assert len(fused) == 1


@pytest.mark.parametrize('name', [
    'panoptic-fcn_r50_fpn_1x_coco.py',
    'panoptic-fcn_r50_fpn_no-dcn_1x_coco.py',
    'panoptic-fcn-star_r50_fpn_ms-3x_coco.py',
    'panoptic-fcn_r50_fpn_400-ms-3x_coco.py',
    'panoptic-fcn_r101_fpn_1x_coco.py', 'panoptic-fcn_r50_fpn_cityscapes.py'
])
def test_configs_normalise_input_as_the_official_code(name):
    """Official: detectron2's BGR input minus PIXEL_MEAN [123.675, 116.28,
    103.53] (RGB-ordered numbers) with std 1; the converted weights expect
    exactly that."""
    cfg = Config.fromfile(osp.join(CONFIGS, name))
    pre = cfg.model.data_preprocessor
    assert pre.mean == [123.675, 116.28, 103.53]
    assert pre.std == [1.0, 1.0, 1.0]
    assert pre.bgr_to_rgb is False
    assert pre.pad_size_divisor == 32
    loads = [
        t for t in cfg.test_dataloader.dataset.pipeline
        if t.type == 'LoadImageFromFile'
    ]
    assert loads and all(
        t.get('color_type', 'color') == 'color'
        and t.get('channel_order', 'bgr') == 'bgr' for t in loads)


def test_every_r50_star_key_has_an_official_name_and_back():
    """The R50 "*" model (deformable encoder and position head) has 352
    official tensors: no key lost either way, nothing but num_batches_tracked
    (53 BatchNorms) left out."""
    cfg = Config.fromfile(
        osp.join(CONFIGS, 'panoptic-fcn-star_r50_fpn_ms-3x_coco.py')).model
    cfg.backbone.init_cfg = None
    target = MODELS.build(cfg).state_dict()
    official = ckpt.to_official(target)
    assert len(official) == 352 and len(target) == 352 + 53
    assert 'backbone.top_block.p6.weight' in official
    assert 'feature_encoder.encode_head.encode_head_head_3.dcnv2.bias' in \
        official
    converted = ckpt.convert_official(official, target)
    assert all(torch.equal(converted[k], v) for k, v in target.items())


def test_mmcv_dcnv2_follows_detectron2s_offset_layout():
    """The official position head's ModulatedDeformConvWithOff: a 3x3 conv
    gives 27 channels, split (o1, o2, mask); offset = cat(o1, o2), mask =
    sigmoid. detectron2's kernel (deform_conv_cuda_kernel.cu) reads offset
    channel 2k as the row shift and 2k + 1 as the column shift of tap k = 3i +
    j, samples bilinearly with zeros outside the map and multiplies by mask k.
    mmcv's ModulatedDeformConv2dPack, with the converted weights, must give
    that."""
    from mmcv.ops import ModulatedDeformConv2dPack
    gen = torch.Generator().manual_seed(0)
    dcn = ModulatedDeformConv2dPack(3, 4, 3, padding=1, bias=True)
    with torch.no_grad():
        for p in dcn.parameters():  # offsets of a pixel or two
            p.copy_(torch.randn(p.shape, generator=gen) * 0.5)
    x = torch.randn((1, 3, 5, 6), generator=gen)
    out = dcn(x)

    raw = dcn.conv_offset(x)
    o1, o2, mask = raw.chunk(3, dim=1)
    offset, mask = torch.cat([o1, o2], 1), mask.sigmoid()
    h, w = x.shape[-2:]
    rows, cols = torch.meshgrid(
        torch.arange(h, dtype=x.dtype),
        torch.arange(w, dtype=x.dtype),
        indexing='ij')
    expected = dcn.bias.view(1, -1, 1, 1).expand(1, 4, h, w).clone()
    for i in range(3):
        for j in range(3):
            k = 3 * i + j
            y = rows + i - 1 + offset[0, 2 * k]
            x_ = cols + j - 1 + offset[0, 2 * k + 1]
            grid = torch.stack([2 * x_ / (w - 1) - 1, 2 * y / (h - 1) - 1], -1)
            sampled = F.grid_sample(
                x, grid[None], align_corners=True, padding_mode='zeros')
            expected += torch.einsum('oc,chw->ohw', dcn.weight[:, :, i, j],
                                     sampled[0] * mask[0, k])[None]
    assert torch.allclose(out, expected, atol=1e-5)
