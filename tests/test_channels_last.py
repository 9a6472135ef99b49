"""Inference in the channels-last memory format: the models run in it (their
code makes no layout assumption), give the default format's outputs up to float
rounding, and go back to it exactly; ChannelsLastHook applies it for a test run
only."""
import copy
import os.path as osp

import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.config import Config
from mmengine.hooks import Hook
from mmengine.registry import DefaultScope
from mmengine.runner import Runner

from mmpanfpn.engine.hooks import ChannelsLastHook, set_channels_last
from mmpanfpn.registry import MODELS

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
CONFIGS = {
    'fcn':
    osp.join(ROOT, 'configs', 'panoptic_fcn',
             'panoptic-fcn_tiny_synthetic.py'),
    'fpn':
    osp.join(ROOT, 'configs', 'panoptic_fpn',
             'panoptic-fpn_tiny_synthetic.py'),
}


def build(name):
    cfg = Config.fromfile(CONFIGS[name]).model
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmpanfpn'):
        model = MODELS.build(cfg)
    model.init_weights()
    return model.eval()


def predict(model, inputs):
    samples = [
        DetDataSample(
            metainfo=dict(
                img_shape=(96, 128),
                ori_shape=(96, 128),
                batch_input_shape=(96, 128),
                pad_shape=(96, 128),
                scale_factor=(1., 1.))) for _ in range(len(inputs))
    ]
    with torch.no_grad():
        return model.predict(inputs, samples)


def conv_weight(model):
    return model.backbone.conv1.weight


@pytest.mark.parametrize('name', ['fcn', 'fpn'])
def test_channels_last_gives_the_outputs_up_to_rounding_and_goes_back(name):
    model = build(name)
    inputs = torch.randn((2, 3, 96, 128),
                         generator=torch.Generator().manual_seed(1))
    before = predict(model, inputs)
    set_channels_last(model)
    assert conv_weight(model).is_contiguous(memory_format=torch.channels_last)
    last = predict(model, inputs)
    set_channels_last(model, False)
    assert conv_weight(model).is_contiguous()
    after = predict(model, inputs)
    for b, l, a in zip(before, last, after):
        # back in the default format: the same arithmetic, bit for bit
        assert torch.equal(a.pred_panoptic_seg.sem_seg,
                           b.pred_panoptic_seg.sem_seg)
        assert torch.equal(a.pred_instances.scores, b.pred_instances.scores)
        # channels last: other kernels, float rounding apart
        same = (l.pred_panoptic_seg.sem_seg == b.pred_panoptic_seg.sem_seg)
        assert same.float().mean() > 0.99
        n = min(len(l.pred_instances), len(b.pred_instances))
        assert n > 0
        torch.testing.assert_close(
            l.pred_instances.scores[:n],
            b.pred_instances.scores[:n],
            atol=1e-4,
            rtol=1e-3)


def test_a_model_without_backbone_is_refused():
    with pytest.raises(TypeError, match='Linear has no backbone'):
        set_channels_last(torch.nn.Linear(2, 2))


class LayoutSpy(Hook):
    """Records the backbone's layout during the test."""

    def __init__(self):
        self.seen = []

    def after_test_iter(self, runner, batch_idx, data_batch, outputs):
        self.seen.append(
            conv_weight(
                runner.model).is_contiguous(memory_format=torch.channels_last))


def test_hook_runs_the_test_in_channels_last_only(synthetic_root, tmp_path):
    from mmpanfpn.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(CONFIGS['fpn'])
    cfg.test_dataloader.dataset.data_root = synthetic_root
    cfg.test_evaluator.ann_file = osp.join(synthetic_root, 'annotations',
                                           'panoptic_val.json')
    cfg.test_evaluator.seg_prefix = osp.join(synthetic_root, 'annotations',
                                             'panoptic_val')
    cfg.work_dir = str(tmp_path)
    cfg.log_level = 'WARNING'
    cfg.custom_hooks = [dict(type='mmpanfpn.ChannelsLastHook')]
    runner = Runner.from_cfg(copy.deepcopy(cfg))
    spy = LayoutSpy()
    runner.register_hook(spy, priority='LOWEST')
    assert any(isinstance(h, ChannelsLastHook) for h in runner.hooks)
    metrics = runner.test()
    assert spy.seen and all(spy.seen)
    assert conv_weight(runner.model).is_contiguous()
    assert 0 <= metrics['coco_panoptic/PQ'] <= 100


def test_an_mmseg_segmentor_runs_in_channels_last():
    from mmseg.registry import MODELS as MMSEG_MODELS
    from mmseg.structures import SegDataSample

    import mmpanfpn.models.fpn_head  # noqa: F401  registers FPNHead
    cfg = Config.fromfile(
        osp.join(ROOT, 'configs', 'semantic_fpn', 'fpn_r18_tiny_synthetic.py'))
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        model = MMSEG_MODELS.build(cfg.model)
    model.init_weights()
    model.eval()
    inputs = torch.randn((2, 3, 96, 128))
    meta = dict(img_shape=(96, 128), ori_shape=(96, 128), pad_shape=(96, 128))
    with torch.no_grad():
        before = model.predict(inputs,
                               [SegDataSample(metainfo=meta) for _ in '12'])
        set_channels_last(model)
        last = model.predict(inputs,
                             [SegDataSample(metainfo=meta) for _ in '12'])
    for b, l in zip(before, last):
        same = l.pred_sem_seg.data == b.pred_sem_seg.data
        assert same.float().mean() > 0.99
