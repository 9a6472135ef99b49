"""configs/semantic_fpn: every config builds a segmentor with our FPNHead in
mmseg's scope; R50, ResNeXt and Swin-T run a forward pass; the tiny synthetic
config trains (a few iterations lower the loss) with the MMEngine runner."""
import glob
import os
import os.path as osp

import pytest
import torch
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner
from mmseg.registry import MODELS as MMSEG_MODELS

import mmpanfpn.models.fpn_head  # noqa: F401  registers FPNHead
from mmpanfpn.datasets.synthetic import (CATEGORIES, SEMANTIC_CLASSES,
                                         make_synthetic_panoptic)
from mmpanfpn.models.fpn_head import FPNHead

CONFIG_DIR = osp.join(osp.dirname(__file__), '..', 'configs', 'semantic_fpn')
CONFIGS = {
    'fpn_r50_4xb2-80k_cityscapes-512x1024.py': 19,
    'fpn_r101_4xb2-80k_cityscapes-512x1024.py': 19,
    'fpn_r50_4xb4-160k_ade20k-512x512.py': 150,
    'fpn_r101_4xb4-160k_ade20k-512x512.py': 150,
    'fpn_x101-32x4d_4xb2-80k_cityscapes-512x1024.py': 19,
    'fpn_swin-t-p4-w7_4xb4-160k_ade20k-512x512.py': 150,
    'fpn_r18_tiny_synthetic.py': 6,
}
FORWARD = [
    'fpn_r50_4xb2-80k_cityscapes-512x1024.py',
    'fpn_x101-32x4d_4xb2-80k_cityscapes-512x1024.py',
    'fpn_swin-t-p4-w7_4xb4-160k_ade20k-512x512.py',
]


@pytest.fixture(autouse=True, scope='module')
def one_thread():
    """On a loaded machine, torch threads that wait for each other slow these
    small models down several times over; one thread does not wait."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def sync_bn_to_bn(node):
    """SyncBN needs a process group to sync over; BN for one process."""
    if isinstance(node, dict):
        if node.get('type') == 'SyncBN':
            node['type'] = 'BN'
        for value in node.values():
            sync_bn_to_bn(value)
    elif isinstance(node, list):
        for value in node:
            sync_bn_to_bn(value)


def load_config(name):
    """The config, with nothing to download and BN for SyncBN."""
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    cfg.model.pretrained = None
    cfg.model.backbone.init_cfg = None
    sync_bn_to_bn(cfg.model)
    return cfg


def build_segmentor(cfg):
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        return MMSEG_MODELS.build(cfg.model)


def test_every_config_is_checked():
    found = {osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))}
    assert found == set(CONFIGS)


@pytest.mark.parametrize('name', sorted(CONFIGS))
def test_config_builds_our_head_in_mmseg_scope(name):
    cfg = load_config(name)
    assert cfg.default_scope == 'mmseg'
    assert cfg.val_evaluator.type == 'IoUMetric'
    model = build_segmentor(cfg)
    assert type(model.decode_head) is FPNHead
    assert model.decode_head.num_classes == CONFIGS[name]


@pytest.mark.parametrize('name', FORWARD)
def test_forward_pass(name):
    model = build_segmentor(load_config(name)).eval()
    with torch.no_grad():
        logits = model(torch.randn(1, 3, 64, 96), mode='tensor')
    assert logits.shape == (1, CONFIGS[name], 16, 24)
    assert torch.isfinite(logits).all()


def test_synthetic_semantic_classes_are_the_datasets():
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'fpn_r18_tiny_synthetic.py'))
    metainfo = cfg.train_dataloader.dataset.metainfo
    assert tuple(metainfo.classes) == SEMANTIC_CLASSES
    assert [list(c)
            for c in metainfo.palette] == [c['color'] for c in CATEGORIES]
    assert cfg.val_dataloader.dataset.metainfo == metainfo


class LossHook(Hook):

    def __init__(self):
        self.losses = []
        self.metrics = None

    def after_train_iter(self,
                         runner,
                         batch_idx,
                         data_batch=None,
                         outputs=None):
        self.losses.append(outputs['loss'].item())

    def after_val_epoch(self, runner, metrics=None):
        self.metrics = metrics


def test_tiny_config_trains(tmp_path):
    root = make_synthetic_panoptic(
        str(tmp_path / 'data'), num_train=16, num_val=4, size=(64, 64), seed=0)
    cfg = Config.fromfile(osp.join(CONFIG_DIR, 'fpn_r18_tiny_synthetic.py'))
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = str(root)
    cfg.train_dataloader.batch_size = 4
    cfg.model.data_preprocessor.size = (64, 64)
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 16
    cfg.param_scheduler = [dict(type='ConstantLR', factor=1.0)]
    cfg.default_hooks.checkpoint.interval = 16
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'

    runner = Runner.from_cfg(cfg)
    record = LossHook()
    runner.register_hook(record)
    runner.train()

    assert type(runner.model.decode_head) is FPNHead
    first, last = record.losses[:4], record.losses[-4:]
    assert sum(last) < 0.8 * sum(first), record.losses
    assert 0 <= record.metrics['mIoU'] <= 100


@pytest.mark.parametrize(
    'name',
    sorted(osp.basename(p) for p in glob.glob(osp.join(CONFIG_DIR, '*.py'))))
def test_checkpoint_hook_is_the_atomic_one(name):
    """Semantic configs run in mmseg's scope; their checkpoint hook is still
    mmpanfpn's (save, swap last_checkpoint, then remove old ones)."""
    from mmengine.registry import HOOKS

    from mmpanfpn.engine.hooks import AtomicCheckpointHook
    cfg = Config.fromfile(osp.join(CONFIG_DIR, name))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        hook = HOOKS.build(cfg.default_hooks.checkpoint)
    assert type(hook) is AtomicCheckpointHook


def test_show_dir_draws_every_test_image_enlarged(tmp_path):
    """``tools/test.py --show-dir --channels-last`` on a semantic config.

    mmseg's SegVisualizationHook in the config, ours with test_out_dir in the
    run: one picture per test image, named after it, ground truth | prediction
    each enlarged from 64x64 to 512x512; and ChannelsLastHook in the run.
    """
    import json
    import subprocess
    import sys

    import mmcv

    from mmpanfpn.testing import checkout_env
    root = make_synthetic_panoptic(
        str(tmp_path / 'data'), num_train=2, num_val=3, size=(64, 64), seed=0)
    config = osp.join(CONFIG_DIR, 'fpn_r18_tiny_synthetic.py')
    segmentor = build_segmentor(Config.fromfile(config))
    checkpoint = str(tmp_path / 'random.pth')
    torch.save({'state_dict': segmentor.state_dict(), 'meta': {}}, checkpoint)
    work_dir = tmp_path / 'work'
    proc = subprocess.run([
        sys.executable,
        osp.join(CONFIG_DIR, '..', '..', 'tools',
                 'test.py'), config, checkpoint, '--work-dir',
        str(work_dir), '--show-dir', 'show', '--channels-last',
        '--cfg-options', f'test_dataloader.dataset.data_root={root}',
        'model.data_preprocessor.size=[64,64]'
    ],
                          capture_output=True,
                          text=True,
                          env=checkout_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'ChannelsLastHook' in proc.stdout + proc.stderr
    (run_dir, ) = glob.glob(str(work_dir / '2*'))
    with open(osp.join(root, 'annotations', 'panoptic_val.json')) as f:
        names = sorted(image['file_name'] for image in json.load(f)['images'])
    assert sorted(os.listdir(osp.join(run_dir, 'show'))) == names
    for name in names:
        picture = mmcv.imread(osp.join(run_dir, 'show', name))
        assert picture.shape == (512, 1024, 3)


def test_show_dir_hook_draws_the_prediction_alone_without_ground_truth(
        tmp_path):
    """A test set without labels: the picture is the prediction panel only
    (64x64 enlarged to 512x512)."""
    import types

    import mmcv
    import numpy as np
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample

    from mmpanfpn.engine.hooks import SegVisualizationHook
    image = str(tmp_path / 'a.jpg')
    mmcv.imwrite(np.zeros((64, 64, 3), np.uint8), image)
    dataset = types.SimpleNamespace(
        metainfo=dict(classes=('a', 'b'), palette=[[0, 0, 255], [0, 255, 0]]))
    runner = types.SimpleNamespace(
        work_dir=str(tmp_path),
        timestamp='ts',
        test_dataloader=types.SimpleNamespace(dataset=dataset))
    from mmengine.visualization import Visualizer
    Visualizer.get_instance('the runner\'s')  # mmseg's hook reads it
    hook = SegVisualizationHook(draw=True, test_out_dir='show')
    hook.before_test(runner)
    sample = SegDataSample(metainfo=dict(img_path=image))
    sample.pred_sem_seg = PixelData(data=torch.ones((1, 64, 64)).long())
    hook.after_test_iter(runner, 0, {}, [sample])
    picture = mmcv.imread(str(tmp_path / 'ts' / 'show' / 'a.jpg'))
    assert picture.shape == (512, 512, 3)
    # class 1 (green) blended over black everywhere
    assert picture[256, 256, 1] > 100 and picture[256, 256, 2] < 50
