"""Every Panoptic FPN config builds its model; the backbone swaps run."""
import copy
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmpanfpn.models import PanopticFPN
from mmpanfpn.registry import MODELS

CONFIG_DIR = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'panoptic_fpn')
CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py')))
# configs whose forward pass is checked
FORWARD = [
    'panoptic-fpn_r50_fpn_1x_coco.py',
    'panoptic-fpn_x101-32x4d_fpn_1x_coco.py',
    'panoptic-fpn_regnetx-3.2GF_fpn_1x_coco.py',
    'panoptic-fpn_swin-t-p4-w7_fpn_1x_coco.py',
]
CLASSES = {'coco': (80, 53), 'cityscapes': (8, 11), 'ade20k': (100, 50)}


@functools.lru_cache(maxsize=None)
def _parse(name: str) -> Config:
    return Config.fromfile(osp.join(CONFIG_DIR, name))


def load(name: str) -> Config:
    cfg = copy.deepcopy(_parse(name))  # parsing mmdet's bases is slow
    cfg.model.backbone.init_cfg = None  # nothing to download
    return cfg


def test_the_zoo_is_there():
    assert set(FORWARD) <= set(CONFIGS)
    for name in ('r50_fpn_ms-3x_coco', 'r101_fpn_1x_coco',
                 'r101_fpn_ms-3x_coco', 'r50_fpn_1x_cityscapes',
                 'r50_fpn_ade20k'):
        assert f'panoptic-fpn_{name}.py' in CONFIGS


@pytest.mark.parametrize('name', CONFIGS)
def test_config_builds_its_model(name):
    cfg = load(name)
    assert cfg.default_scope == 'mmpanfpn'
    assert cfg.val_evaluator.type == 'CocoPanopticMetric'
    assert cfg.get('custom_hooks', []) == []
    model = MODELS.build(cfg.model)
    assert isinstance(model, PanopticFPN)

    things = model.panoptic_fusion_head.num_things_classes
    stuff = model.panoptic_fusion_head.num_stuff_classes
    assert model.roi_head.bbox_head.num_classes == things
    assert model.roi_head.mask_head.num_classes == things
    assert (model.semantic_head.num_things_classes,
            model.semantic_head.num_stuff_classes) == (things, stuff)
    for dataset, classes in CLASSES.items():
        if dataset in name:
            assert (things, stuff) == classes
            # AP on everything above 0.05, panoptic on what clears 0.6
            assert cfg.model.test_cfg.rcnn.score_thr == 0.05
            assert model.panoptic_fusion_head.score_thr == 0.6


@pytest.mark.parametrize('name', FORWARD)
def test_backbone_swap_runs_forward(name):
    cfg = load(name)
    # a few proposals are enough to run the RoI heads, and much faster
    cfg.model.test_cfg.rpn.max_per_img = 8
    torch.manual_seed(0)
    model = MODELS.build(cfg.model)
    model.eval()
    with torch.no_grad():
        _, (cls_score, _, mask_preds), seg_logits = model(
            torch.rand(1, 3, 128, 128), mode='tensor')
    assert cls_score.shape[1] == 81
    assert mask_preds.shape[1:] == (80, 28, 28)
    assert seg_logits.shape == (1, 54, 32, 32)


@pytest.mark.parametrize('name', CONFIGS)
def test_checkpoint_and_seed_hooks_are_ours(name):
    """The default runtime gives every config the kill-safe checkpoint hook (in
    the mmpanfpn scope, although mmdet's base tags it 'mmdet') and the per-
    iteration reseeding that makes a resume exact."""
    from mmengine.registry import HOOKS, DefaultScope

    from mmpanfpn.engine.hooks import AtomicCheckpointHook, IterSeedHook
    cfg = _parse(name)
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        assert type(HOOKS.build(cfg.default_hooks.checkpoint)) is \
            AtomicCheckpointHook
        assert type(HOOKS.build(cfg.default_hooks.iter_seed)) is IterSeedHook
