"""Our Panoptic FPN equals mmdet's on the same weights.

mmdet's ``PanopticFPN`` is built from a shrunk copy of its own
``panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py``, given random weights (BN
statistics and GN affines included), saved, and loaded into ours, built from
our config shrunk the same way, through ``mmengine.runner.load_checkpoint``
(strict). mmdet filters instances in the RoI head (``rcnn.score_thr``); ours
keeps them down to a low ``rcnn.score_thr`` and filters in the fusion
(``panoptic.score_thr``): the panoptic maps must still agree, because NMS only
ever suppresses a box for a better-scoring one.
"""
import copy
import os.path as osp

import mmdet
import pytest
import torch
from mmdet.evaluation.functional import INSTANCE_OFFSET
from mmdet.registry import MODELS as MMDET_MODELS
from mmdet.structures import DetDataSample
from mmengine.config import Config, ConfigDict
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from mmengine.structures import InstanceData

from mmpanfpn.models import combine_semantic_and_instances
from mmpanfpn.ops import RoIAlign
from mmpanfpn.registry import MODELS
from mmpanfpn.testing import randomise_weights as randomise
from mmpanfpn.testing import shrink_panoptic_fpn

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
OUR_CONFIG = osp.join(REPO, 'configs', 'panoptic_fpn',
                      'panoptic-fpn_r50_fpn_1x_coco.py')
MMDET_CONFIG = osp.join(
    osp.dirname(mmdet.__file__), '.mim', 'configs', 'panoptic_fpn',
    'panoptic-fpn_r50_fpn_1x_coco.py')
NUM_THINGS, NUM_STUFF = 3, 4
STUFF_AREA_LIMIT = 300
# (img_shape, ori_shape): different sizes, so padding; the last was resized
IMAGES = [((96, 128), (96, 128)), ((80, 100), (80, 100)),
          ((64, 90), (80, 112))]


def shrink(model: ConfigDict) -> ConfigDict:
    """ResNet-18, 64-channel FPN, 3 things and 4 stuff, small RPN."""
    shrink_panoptic_fpn(model, 64, NUM_THINGS, NUM_STUFF)
    model.test_cfg.rpn.update(nms_pre=300, max_per_img=100)
    model.test_cfg.panoptic.stuff_area_limit = STUFF_AREA_LIMIT
    return model


def make_batch(model, seed=0):
    gen = torch.Generator().manual_seed(seed)
    inputs, samples = [], []
    for (h, w), (oh, ow) in IMAGES:
        # smooth random images: blobs rather than white noise
        low = torch.rand((1, 3, h // 8, w // 8), generator=gen)
        image = torch.nn.functional.interpolate(
            low, size=(h, w), mode='bilinear', align_corners=False)[0]
        inputs.append((image * 255).to(torch.uint8))
        samples.append(
            DetDataSample(
                metainfo=dict(
                    img_shape=(h, w),
                    ori_shape=(oh, ow),
                    scale_factor=(w / ow, h / oh))))
    return model.data_preprocessor(
        dict(inputs=inputs, data_samples=samples), training=False)


def canonical_mmdet(pan: torch.Tensor):
    """mmdet's ``label + instance_id * INSTANCE_OFFSET`` map (void = T + S)
    -> (category map, void -1; segment map)."""
    void = pan == NUM_THINGS + NUM_STUFF
    category = torch.where(void, -1, pan % INSTANCE_OFFSET)
    return category, pan


def canonical_ours(pan: torch.Tensor, segments_info):
    """Our id map + segments_info -> (category map, void -1; segment map)."""
    category_of_id = torch.full((len(segments_info) + 1, ), -1)
    for segment in segments_info:
        category_of_id[segment['id']] = segment['category']
    return category_of_id[pan], pan


def assert_same_segmentation(ours, theirs):
    """Equal pixel for pixel up to a relabelling of the segments."""
    pairs = torch.stack([ours.flatten(), theirs.flatten()],
                        dim=1).unique(dim=0)
    assert len(pairs) == len(ours.unique()) == len(theirs.unique())


@pytest.fixture(scope='module')
def models(tmp_path_factory):
    with DefaultScope.overwrite_default_scope('mmdet'):
        cfg = shrink(Config.fromfile(MMDET_CONFIG).model)
        torch.manual_seed(0)
        theirs = MMDET_MODELS.build(cfg)
    theirs.init_weights()
    randomise(theirs)
    theirs.eval()
    path = str(tmp_path_factory.mktemp('parity') / 'mmdet_panoptic_fpn.pth')
    torch.save(dict(state_dict=theirs.state_dict()), path)

    ours = MODELS.build(shrink(Config.fromfile(OUR_CONFIG).model))
    assert type(ours).__module__.startswith('mmpanfpn')
    # our RoI features come from mmpanfpn's CPU RoIAlign kernel, mmdet's
    # from mmcv's: the equalities below cover it
    for extractor in (ours.roi_head.bbox_roi_extractor,
                      ours.roi_head.mask_roi_extractor):
        assert all(type(layer) is RoIAlign for layer in extractor.roi_layers)
    load_checkpoint(ours, path, map_location='cpu', strict=True)
    ours.eval()
    return ours, theirs


def test_mmdet_checkpoint_loads_strictly(models):
    ours, theirs = models
    assert ours.state_dict().keys() == theirs.state_dict().keys()
    for name, value in theirs.state_dict().items():
        assert torch.equal(ours.state_dict()[name], value), name


def test_same_semantics_instances_and_panoptic_maps(models):
    ours, theirs = models
    batch = make_batch(ours)
    inputs, samples = batch['inputs'], batch['data_samples']
    metas = [s.metainfo for s in samples]
    assert ours.test_cfg.rcnn.score_thr == 0.05

    with torch.no_grad():
        our_results = ours.predict(inputs, copy.deepcopy(samples))

        # A panoptic threshold above 0.05 that keeps some instances and
        # drops others: between two neighbouring scores of the top ones.
        scores = torch.cat([r.pred_instances.scores for r in our_results])
        top = scores.sort(descending=True).values
        assert len(top) > 20
        score_thr = float(top[12] + top[13]) / 2
        assert 0.05 < score_thr < float(top[0])
        ours.panoptic_fusion_head.score_thr = score_thr
        theirs.roi_head.test_cfg.score_thr = score_thr
        our_results = ours.predict(inputs, copy.deepcopy(samples))

        x = theirs.extract_feat(inputs)
        their_logits = theirs.semantic_head.predict(x, metas, rescale=True)
        proposals = theirs.rpn_head.predict(x, samples, rescale=False)
        their_instances = theirs.roi_head.predict(
            x, proposals, samples, rescale=True)
        their_results = theirs.predict(inputs, copy.deepcopy(samples))
        our_logits = ours.semantic_head.predict(
            ours.extract_feat(inputs), metas, rescale=True)

    num_instances = num_thing_segments = num_stuff_segments = 0
    max_logit_diff = max_box_diff = max_score_diff = 0.0
    for i, (_, ori_shape) in enumerate(IMAGES):
        # semantic logits
        assert our_logits[i].shape == (NUM_STUFF + 1, ) + ori_shape
        torch.testing.assert_close(our_logits[i], their_logits[i])
        max_logit_diff = max(
            max_logit_diff, float(
                (our_logits[i] - their_logits[i]).abs().max()))

        # instances above the threshold
        mine = our_results[i].pred_instances
        mine = mine[mine.scores > score_thr]
        other = their_instances[i]
        assert len(mine) == len(other)
        torch.testing.assert_close(mine.bboxes, other.bboxes)
        torch.testing.assert_close(mine.scores, other.scores)
        assert torch.equal(mine.labels, other.labels)
        assert torch.equal(mine.masks, other.masks)
        num_instances += len(mine)
        if len(mine):
            max_box_diff = max(max_box_diff,
                               float((mine.bboxes - other.bboxes).abs().max()))
            max_score_diff = max(
                max_score_diff, float(
                    (mine.scores - other.scores).abs().max()))

        # panoptic maps
        pan = our_results[i].pred_panoptic_seg
        our_category, our_segments = canonical_ours(pan.sem_seg[0],
                                                    pan.segments_info)
        their_category, their_segments = canonical_mmdet(
            their_results[i].pred_panoptic_seg.sem_seg[0].long())
        assert our_category.shape == ori_shape
        assert torch.equal(our_category, their_category)
        assert_same_segmentation(our_segments, their_segments)
        num_thing_segments += sum(s['isthing'] for s in pan.segments_info)
        num_stuff_segments += sum(not s['isthing'] for s in pan.segments_info)

    print(f'\nparity: {num_instances} instances above score_thr='
          f'{score_thr:.3f}, {num_thing_segments} thing and '
          f'{num_stuff_segments} stuff segments; max |diff| logits '
          f'{max_logit_diff:.2e}, boxes {max_box_diff:.2e}, scores '
          f'{max_score_diff:.2e}')
    # the comparison must be able to fail: things and stuff are there
    assert num_thing_segments >= 3
    assert num_stuff_segments >= 1
    # and the fusion's filter did drop instances the RoI head kept
    assert sum(len(r.pred_instances) for r in our_results) > num_instances


@pytest.mark.parametrize('seed', range(40))
def test_fusion_equals_mmdet_heuristic_on_random_cases(seed):
    """Property test: random overlapping instances and semantic logits."""
    from mmdet.models.seg_heads.panoptic_fusion_heads import \
        HeuristicFusionHead as MMDetFusion
    gen = torch.Generator().manual_seed(seed)
    h, w = 24, 32
    num = int(torch.randint(0, 8, (1, ), generator=gen))
    masks = torch.zeros((num, h, w), dtype=torch.bool)
    for k in range(num):
        y0, x0 = torch.randint(0, h - 4, (1, ), generator=gen), \
            torch.randint(0, w - 4, (1, ), generator=gen)
        bh, bw = torch.randint(1, 14, (2, ), generator=gen)
        masks[k, y0:y0 + bh, x0:x0 + bw] = True
        masks[k] &= torch.rand((h, w), generator=gen) > 0.2
    scores = torch.rand(num, generator=gen)
    labels = torch.randint(0, NUM_THINGS, (num, ), generator=gen)
    # blocky logits, so that stuff regions of various areas appear
    logits = torch.nn.functional.interpolate(
        torch.randn((1, NUM_STUFF + 1, 3, 4), generator=gen),
        size=(h, w),
        mode='nearest')[0]
    score_thr, overlap, area_limit = 0.3, 0.5, 40

    mmdet_fusion = MMDetFusion(
        NUM_THINGS,
        NUM_STUFF,
        test_cfg=ConfigDict(mask_overlap=overlap, stuff_area_limit=area_limit))
    keep = scores > score_thr  # what mmdet's RoI head would have kept
    instances = InstanceData(
        bboxes=torch.zeros((int(keep.sum()), 4)),
        labels=labels[keep],
        scores=scores[keep],
        masks=masks[keep])
    theirs = mmdet_fusion._predict_single(instances, logits.clone())
    their_category, their_segments = canonical_mmdet(theirs.sem_seg[0].long())

    stuff_or_other = logits.argmax(0)
    semantic = torch.where(stuff_or_other < NUM_STUFF,
                           stuff_or_other + NUM_THINGS, 255)
    pan, segments = combine_semantic_and_instances(
        masks,
        labels,
        scores,
        semantic,
        NUM_THINGS,
        NUM_STUFF,
        score_thr=score_thr,
        mask_overlap=overlap,
        stuff_area_limit=area_limit)
    our_category, our_segments = canonical_ours(pan, segments)
    assert torch.equal(our_category, their_category)
    assert_same_segmentation(our_segments, their_segments)
