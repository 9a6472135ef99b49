"""Panoptic FCN end to end on tiny inputs: losses on awkward batches, batched
inference equal to single-image inference, and the outputs Panoptic FPN's
metric and tools read."""
import copy
import functools
import os.path as osp

import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmdet.structures.mask import BitmapMasks
from mmengine.config import Config
from mmengine.structures import InstanceData, PixelData

from mmpanfpn.models import PanopticFCN
from mmpanfpn.registry import MODELS

TINY = osp.join(
    osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs', 'panoptic_fcn',
    'panoptic-fcn_tiny_synthetic.py')
SIZE = 64
# the tiny config: things 0..2, stuff 3..5


@functools.lru_cache(maxsize=None)
def _model_cfg():
    return Config.fromfile(TINY).model


def build(**test_cfg) -> PanopticFCN:
    cfg = copy.deepcopy(_model_cfg())
    cfg.test_cfg.update(test_cfg)
    torch.manual_seed(0)
    model = MODELS.build(cfg)
    # non-trivial outputs: centre scores around 0.5, varied kernels
    model.pos_head.thing_out.bias.data.zero_()
    for embed in (model.thing_embed, model.stuff_embed):
        embed.weight.data.normal_(0, 0.3)
    return model.eval()


def sample(things=(), stuff_rows=(), h=SIZE, w=SIZE, ori_shape=None):
    """A data sample: ``things`` as (label, x0, y0, x1, y1) rectangles over
    ``stuff_rows``, (label, y0, y1) bands (void elsewhere)."""
    semantic = np.full((h, w), 255, np.uint8)
    for label, y0, y1 in stuff_rows:
        semantic[y0:y1] = label
    masks = np.zeros((len(things), h, w), np.uint8)
    for k, (label, x0, y0, x1, y1) in enumerate(things):
        masks[k, y0:y1, x0:x1] = 1
        semantic[y0:y1, x0:x1] = label
    data = DetDataSample(
        metainfo=dict(
            img_shape=(h, w),
            ori_shape=ori_shape or (h, w),
            batch_input_shape=(h, w),
            pad_shape=(h, w),
            scale_factor=(1., 1.)))
    data.gt_instances = InstanceData(
        bboxes=torch.tensor([t[1:] for t in things],
                            dtype=torch.float32).view(-1, 4),
        labels=torch.tensor([t[0] for t in things], dtype=torch.long),
        masks=BitmapMasks(masks, h, w))
    data.gt_sem_seg = PixelData(sem_seg=torch.from_numpy(semantic)[None])
    return data


def images(n):
    return torch.randn(
        n, 3, SIZE, SIZE, generator=torch.Generator().manual_seed(1))


def check_losses(model, samples):
    model.train()
    losses = model.loss(images(len(samples)), samples)
    assert set(losses) == {
        'loss_pos_th', 'loss_pos_st', 'loss_seg_th', 'loss_seg_st'
    }
    total = sum(losses.values())
    assert torch.isfinite(total)
    model.zero_grad()
    total.backward()
    for name, param in model.named_parameters():
        if param.requires_grad:
            assert param.grad is not None, name
            assert torch.isfinite(param.grad).all(), name
    return losses


def test_losses_with_an_image_without_things_and_one_without_stuff():
    model = build()
    no_things = sample(stuff_rows=[(3, 0, 32), (4, 32, 64)])
    no_stuff = sample(things=[(0, 4, 4, 28, 28), (2, 30, 36, 60, 60)])
    losses = check_losses(model, [no_things, no_stuff])
    assert losses['loss_seg_th'] > 0 and losses['loss_seg_st'] > 0


def test_losses_with_nothing_to_segment_reach_every_parameter():
    """All void, no objects: the mask losses are 0 but every parameter still
    gets a (zero) gradient, as distributed training needs."""
    losses = check_losses(build(), [sample(), sample()])
    assert losses['loss_seg_th'] == 0 and losses['loss_seg_st'] == 0
    assert losses['loss_pos_th'] > 0  # the heatmaps still learn 'no centre'


def test_more_than_100_instances_train():
    # 11 x 11 = 121 squares of 4x4 pixels (the official code stops at 100)
    things = [(k % 3, x, y, x + 4, y + 4) for k, (x, y) in enumerate(
        (x, y) for x in range(1, 61, 5) for y in range(1, 61, 5))][:121]
    assert len(things) == 121
    losses = check_losses(build(), [sample(things, [(5, 0, 64)])])
    assert losses['loss_seg_th'] > 0


def test_a_batch_of_two_equals_two_batches_of_one():
    """Exactly, bit for bit.

    oneDNN's CPU convolutions may round differently for another batch size (in
    the backbone already, outside this model's code), so the check runs on
    PyTorch's native convolutions, which give each image the same arithmetic in
    any batch.
    """
    model = build()
    inputs = images(2)
    with torch.no_grad(), torch.backends.mkldnn.flags(enabled=False):
        batched = model.predict(inputs, [sample(), sample()])
        single = [
            model.predict(inputs[i:i + 1], [sample()])[0] for i in range(2)
        ]
    assert len(batched[0].pred_instances) > 0
    for b, s in zip(batched, single):
        for key in ('masks', 'bboxes', 'scores', 'labels'):
            assert torch.equal(b.pred_instances[key], s.pred_instances[key])
        assert torch.equal(b.pred_sem_seg.sem_seg, s.pred_sem_seg.sem_seg)
        assert torch.equal(b.pred_panoptic_seg.sem_seg,
                           s.pred_panoptic_seg.sem_seg)
        assert b.pred_panoptic_seg.segments_info == \
            s.pred_panoptic_seg.segments_info


def test_outputs_are_panoptic_fpns_fields_at_the_original_size():
    model = build()
    with torch.no_grad():
        out = model.predict(images(1), [sample(ori_shape=(32, 48))])[0]
    instances = out.pred_instances
    assert instances.masks.dtype == torch.bool
    assert instances.masks.shape[1:] == (32, 48)
    assert instances.labels.max() < 3 and (instances.scores >= 0.05).all()
    assert len(instances) <= 100
    assert (instances.scores[:-1] >= instances.scores[1:]).all()
    # boxes are the masks' extents
    for mask, box in zip(instances.masks, instances.bboxes):
        ys, xs = mask.nonzero(as_tuple=True)
        if len(ys):
            assert box.tolist() == [
                xs.min().item(),
                ys.min().item(),
                xs.max().item() + 1,
                ys.max().item() + 1
            ]
    labels = out.pred_sem_seg.sem_seg
    assert labels.shape == (1, 32, 48)
    assert set(labels.unique().tolist()) <= {3, 4, 5, 255}
    ids = out.pred_panoptic_seg.sem_seg
    segments = out.pred_panoptic_seg.segments_info
    assert ids.shape == (1, 32, 48)
    assert set(ids.unique().tolist()) - {0} == {s['id'] for s in segments}
    for seg in segments:
        assert set(seg) == {'id', 'category', 'isthing', 'score', 'area'}
        assert seg['area'] == int((ids == seg['id']).sum())
        assert seg['isthing'] == (seg['category'] < 3)
        if seg['isthing']:
            assert seg['score'] >= 0.2


@pytest.mark.parametrize(
    'test_cfg',
    [
        dict(thing_score_thr=1.0),  # no peaks
        dict(stuff_score_thr=1.0),  # no stuff region
        dict(thing_score_thr=1.0, stuff_score_thr=1.0),
    ])
def test_no_peaks_or_no_stuff_do_not_crash(test_cfg):
    model = build(**test_cfg)
    with torch.no_grad():
        out = model.predict(images(2), [sample(), sample()])
    for result in out:
        if test_cfg.get('thing_score_thr'):
            assert len(result.pred_instances) == 0
            assert result.pred_instances.masks.shape == (0, SIZE, SIZE)
        if test_cfg.get('stuff_score_thr'):
            assert (result.pred_sem_seg.sem_seg == 255).all()
        if len(test_cfg) == 2:
            assert not result.pred_panoptic_seg.sem_seg.any()
            assert result.pred_panoptic_seg.segments_info == []


def test_instances_are_capped_at_max_per_img():
    # every local maximum a peak, no fusion: more than 5 candidates
    model = build(
        thing_score_thr=0.0, min_score=0.0, similarity_thr=1.1, max_per_img=5)
    with torch.no_grad():
        out = model.predict(images(1), [sample()])[0]
    assert len(out.pred_instances) == 5


def test_a_misspelt_setting_is_an_error_naming_it():
    cfg = copy.deepcopy(_model_cfg())
    cfg.test_cfg.panoptic.stuff_area_limt = 10
    with pytest.raises(
            ValueError,
            match='test_cfg.panoptic: unknown keys '
            r"\['stuff_area_limt'\]"):
        MODELS.build(cfg)


def drop_category(root: str, name: str) -> None:
    """Remove a category from a COCO-panoptic folder: from the JSONs, and its
    segments' pixels become void (id 0) in the PNGs."""
    import json

    import mmcv

    from mmpanfpn.datasets.panoptic_format import id2rgb, rgb2id
    for split in ('train', 'val'):
        path = osp.join(root, 'annotations', f'panoptic_{split}.json')
        with open(path) as f:
            data = json.load(f)
        (dropped, ) = [
            c['id'] for c in data['categories'] if c['name'] == name
        ]
        data['categories'] = [
            c for c in data['categories'] if c['id'] != dropped
        ]
        for ann in data['annotations']:
            png = osp.join(root, 'annotations', f'panoptic_{split}',
                           ann['file_name'])
            ids = rgb2id(mmcv.imread(png, channel_order='rgb'))
            gone = [
                s['id'] for s in ann['segments_info']
                if s['category_id'] == dropped
            ]
            ids[np.isin(ids, gone)] = 0
            mmcv.imwrite(id2rgb(ids)[..., ::-1], png)
            ann['segments_info'] = [
                s for s in ann['segments_info'] if s['id'] not in gone
            ]
        with open(path, 'w') as f:
            json.dump(data, f)


def test_tiny_config_trains_on_a_folder_with_other_class_counts(tmp_path):
    """What the config's header promises: a COCO-panoptic folder of one's own
    needs only the data paths and the class counts (here the synthetic set
    without 'square': 2 things + 3 stuff)."""
    from mmengine.runner import Runner

    from mmpanfpn.datasets.synthetic import make_synthetic_panoptic
    from mmpanfpn.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    root = make_synthetic_panoptic(
        str(tmp_path / 'data'), num_train=8, num_val=4, size=(64, 64), seed=0)
    drop_category(root, 'square')
    cfg = Config.fromfile(TINY)
    for loader in ('train_dataloader', 'val_dataloader', 'test_dataloader'):
        cfg[loader].dataset.data_root = root
    for evaluator in (cfg.val_evaluator, cfg.test_evaluator):
        evaluator.ann_file = osp.join(root, 'annotations', 'panoptic_val.json')
        evaluator.seg_prefix = osp.join(root, 'annotations', 'panoptic_val')
    cfg.model.num_things_classes = 2
    cfg.train_dataloader.batch_size = 4
    cfg.train_cfg.max_iters = cfg.train_cfg.val_interval = 4
    cfg.default_hooks.checkpoint.interval = 4
    cfg.work_dir = str(tmp_path / 'work')
    cfg.log_level = 'WARNING'
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert runner.model.pos_head.thing_out.out_channels == 2
    assert runner.model.pos_head.stuff_out.out_channels == 1 + 3
    assert runner.val_evaluator.dataset_meta['classes'] == ('circle',
                                                            'triangle', 'sky',
                                                            'water', 'grass')
    metrics = runner.val_loop.run()
    assert 0 <= metrics['coco_panoptic/PQ'] <= 100
