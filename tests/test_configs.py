"""Every Panoptic FPN and Panoptic FCN config builds its model; the backbone
swaps run, and every Panoptic FCN config runs a forward pass."""
import copy
import functools
import glob
import os.path as osp

import pytest
import torch
from mmengine.config import Config

from mmpanfpn.models import PanopticFCN, PanopticFPN
from mmpanfpn.registry import MODELS

ROOT = osp.join(osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs')
CONFIG_DIR = osp.join(ROOT, 'panoptic_fpn')
CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py')))
FCN_DIR = osp.join(ROOT, 'panoptic_fcn')
FCN_CONFIGS = sorted(
    osp.basename(p) for p in glob.glob(osp.join(FCN_DIR, '*.py')))
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
    folder = FCN_DIR if name.startswith('panoptic-fcn') else CONFIG_DIR
    return Config.fromfile(osp.join(folder, name))


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


def test_the_fcn_zoo_is_there():
    for name in ('r50_fpn_1x_coco', 'r50_fpn_ms-3x_coco',
                 'r50_fpn_400-ms-3x_coco', 'r50_fpn_512-ms-3x_coco',
                 'r50_fpn_600-ms-3x_coco', 'r50_fpn_no-dcn_1x_coco',
                 'r101_fpn_1x_coco', 'r50_fpn_cityscapes', 'tiny_synthetic'):
        assert f'panoptic-fcn_{name}.py' in FCN_CONFIGS
    assert 'panoptic-fcn-star_r50_fpn_ms-3x_coco.py' in FCN_CONFIGS


_FCN_BUILT = {}


def _fcn_forward(cfg: Config):
    """Build a Panoptic FCN and run it on a 64x64 image; configs whose models
    differ only in train_cfg / test_cfg share the (slow) R50 build."""
    key = repr({
        k: v
        for k, v in cfg.model.to_dict().items()
        if k not in ('train_cfg', 'test_cfg')
    })
    if key not in _FCN_BUILT:
        torch.manual_seed(0)
        model = MODELS.build(cfg.model)
        model.eval()
        with torch.no_grad():
            _FCN_BUILT[key] = model, model(
                torch.rand(1, 3, 64, 64), mode='tensor')
    return _FCN_BUILT[key]


@pytest.mark.parametrize('name', FCN_CONFIGS)
def test_fcn_config_builds_and_runs_forward(name):
    from mmpanfpn.models.panoptic_fcn import TEST_DEFAULTS, TRAIN_DEFAULTS
    cfg = load(name)
    assert cfg.default_scope == 'mmpanfpn'
    assert cfg.val_evaluator.type == 'CocoPanopticMetric'
    assert cfg.get('custom_hooks', []) == []
    train_cfg, test_cfg = cfg.model.train_cfg, cfg.model.test_cfg
    assert set(train_cfg) <= set(TRAIN_DEFAULTS)
    assert set(test_cfg) <= set(TEST_DEFAULTS)
    model, outputs = _fcn_forward(cfg)
    assert isinstance(model, PanopticFCN)
    num_levels = len(model.head_levels)
    assert len(train_cfg['instance_scales']) == num_levels
    assert len(test_cfg['center_pool_sizes']) == num_levels
    for dataset, classes in CLASSES.items():
        if dataset in name:
            assert (model.num_things_classes,
                    model.num_stuff_classes) == classes
    things, stuff = model.num_things_classes, model.num_stuff_classes
    centers, regions, kernel_maps, encoded = outputs
    assert len(centers) == num_levels
    # the first head level is P3: 64 / 8
    assert centers[0].shape == (1, things, 8, 8)
    assert regions[0].shape == (1, stuff + 1, 8, 8)
    assert kernel_maps[0].shape[1] == model.kernel_head.feat_channels
    assert encoded.shape == (1, model.encoder.channels, 16, 16)
    assert model.thing_embed.weight.shape[:2] == (
        model.encoder.channels, model.kernel_head.feat_channels)


@pytest.mark.parametrize('name', CONFIGS + FCN_CONFIGS)
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


@pytest.mark.parametrize('folder', [CONFIG_DIR, FCN_DIR])
def test_metafile_entries_describe_the_configs(folder):
    """The folder's metafile.yml (what ``mim search`` shows) gives each
    config's schedule, backbone and optimizer as the config has them."""
    import yaml

    from mmpanfpn.testing.model_zoo import check_metafile_entry
    with open(osp.join(folder, 'metafile.yml')) as f:
        models = yaml.safe_load(f)['Models']
    for model in models:
        check_metafile_entry(model, _parse(osp.basename(model['Config'])))
