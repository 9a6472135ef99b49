"""Python API and the image demo on the tiny config (random weights)."""
import json
import os
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import pytest
import torch

from mmpanfpn.apis import (inference_model, init_model, model_kind,
                           run_image_demo)
from mmpanfpn.testing import checkout_env

ROOT = osp.join(osp.dirname(__file__), '..')
TINY = osp.join(ROOT, 'configs', 'panoptic_fpn',
                'panoptic-fpn_tiny_synthetic.py')


def _options(root):
    return {
        'test_dataloader.dataset.data_root': root,
        # random weights: let every instance through the fusion
        'model.test_cfg.panoptic.score_thr': 0.0,
    }


def test_init_and_inference(synthetic_root):
    model = init_model(
        TINY, device='cpu', cfg_options=_options(synthetic_root))
    # class names come from the annotation file, not mmdet's COCO fallback
    assert model.dataset_meta['classes'] == ('circle', 'square', 'triangle',
                                             'sky', 'water', 'grass')
    paths = [osp.join(synthetic_root, 'val', f'00000{i}.jpg') for i in (0, 1)]
    results = inference_model(model, paths)
    assert len(results) == 2
    for path, result in zip(paths, results):
        h, w = mmcv.imread(path).shape[:2]
        assert tuple(result.pred_panoptic_seg.sem_seg.shape) == (1, h, w)
        assert tuple(result.pred_sem_seg.sem_seg.shape) == (1, h, w)
        assert 'scores' in result.pred_instances
    array_result = inference_model(model, mmcv.imread(paths[0]))
    assert (array_result.pred_panoptic_seg.sem_seg ==
            results[0].pred_panoptic_seg.sem_seg).all()


def test_init_in_channels_last(synthetic_root):
    # the same random weights for both models
    torch.manual_seed(0)
    model = init_model(
        TINY, cfg_options=_options(synthetic_root), channels_last=True)
    assert model.backbone.conv1.weight.is_contiguous(
        memory_format=torch.channels_last)
    path = osp.join(synthetic_root, 'val', '000000.jpg')
    torch.manual_seed(0)
    plain = init_model(TINY, cfg_options=_options(synthetic_root))
    last, first = inference_model(model, path), inference_model(plain, path)
    same = last.pred_panoptic_seg.sem_seg == first.pred_panoptic_seg.sem_seg
    assert same.float().mean() > 0.99


def test_image_demo_writes_picture_png_and_json(synthetic_root, tmp_path):
    # fixed random weights: unseeded ones may give no segment at all
    torch.manual_seed(0)
    model = init_model(TINY, cfg_options=_options(synthetic_root))
    weights = str(tmp_path / 'random.pth')
    torch.save({'state_dict': model.state_dict(), 'meta': {}}, weights)
    out = tmp_path / 'out'
    cmd = [
        sys.executable,
        osp.join(ROOT, 'demo', 'image_demo.py'),
        osp.join(synthetic_root, 'val', '000002.jpg'), TINY, '--weights',
        weights, '--out-dir',
        str(out), '--score-thr', '0.0', '--channels-last'
    ]
    cmd += [
        '--cfg-options', f'test_dataloader.dataset.data_root={synthetic_root}'
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert (out / '000002_panoptic.jpg').exists()
    assert (out / '000002.png').exists()
    content = json.loads((out / 'panoptic.json').read_text())
    segments = content['annotations'][0]['segments_info']
    assert segments and {s['category_id']
                         for s in segments} <= {1, 2, 4, 5, 7, 9}


def test_checkpoint_that_does_not_fit_is_refused(synthetic_root, tmp_path):
    import pytest
    import torch
    model = init_model(TINY, cfg_options=_options(synthetic_root))
    path = tmp_path / 'tiny.pth'
    torch.save(
        dict(
            state_dict=model.state_dict(),
            meta=dict(dataset_meta=model.dataset_meta)), path)
    reloaded = init_model(
        TINY, str(path), cfg_options=_options(synthetic_root))
    assert reloaded.dataset_meta['label2cat'] == (1, 4, 7, 2, 5, 9)
    other = dict(_options(synthetic_root))
    other['model.semantic_head.num_stuff_classes'] = 5
    with pytest.raises(
            ValueError,
            match=r'tiny.pth: 2 tensors do not fit.*'
            r'\n  semantic_head.conv_logits.weight: checkpoint '
            r'\(4, 64, 1, 1\) vs model \(6, 64, 1, 1\)'):
        init_model(TINY, str(path), cfg_options=other)


SEMANTIC = osp.join(ROOT, 'configs', 'semantic_fpn')
PANOPTIC = osp.join(ROOT, 'configs', 'panoptic_fpn')


def _small_image(path, height=48, width=64):
    image = np.random.RandomState(0).randint(0, 255, (height, width, 3))
    mmcv.imwrite(image.astype(np.uint8), str(path))
    return str(path)


def test_semantic_fpn_through_the_same_api(tmp_path, monkeypatch):
    """A Semantic FPN config builds an mmseg segmentor and gives mmseg's
    ``SegDataSample``; with no data on disk (cwd without ``data/``) the class
    names are those of the config's dataset class (Cityscapes').

    The config is named as the package carries it (``mmpanfpn::``), from a
    folder outside the checkout.
    """
    from mmseg.datasets import CityscapesDataset
    from mmseg.structures import SegDataSample
    monkeypatch.chdir(tmp_path)
    config = 'mmpanfpn::semantic_fpn/fpn_r50_4xb2-80k_cityscapes-512x1024.py'
    # the Cityscapes test scale (2048x1024) made small, for speed
    model = init_model(config, cfg_options={'test_pipeline.1.scale': (64, 32)})
    assert model.cfg.filename == osp.realpath(
        osp.join(SEMANTIC, 'fpn_r50_4xb2-80k_cityscapes-512x1024.py'))
    assert model_kind(model.cfg) == 'semantic'
    assert model.dataset_meta['classes'] == CityscapesDataset.METAINFO[
        'classes']
    path = _small_image(tmp_path / 'street.png')
    result = inference_model(model, path)
    assert isinstance(result, SegDataSample)
    assert tuple(result.pred_sem_seg.data.shape) == (1, 48, 64)
    from_array = inference_model(model, [mmcv.imread(path)])
    assert len(from_array) == 1
    assert (from_array[0].pred_sem_seg.data == result.pred_sem_seg.data).all()
    # and paths still work after an array (mmseg edits the pipeline it is
    # given)
    again = inference_model(model, path)
    assert (again.pred_sem_seg.data == result.pred_sem_seg.data).all()


def test_unsupported_model_type_is_named():
    """One error naming the model type: a backbone, and an mmdet detector
    without a panoptic output."""
    import pytest
    from mmengine.config import Config
    cfg = Config(dict(model=dict(type='ResNet', depth=18)))
    with pytest.raises(ValueError, match="model type 'ResNet'.*neither a"):
        init_model(cfg)
    cfg = Config.fromfile(TINY)
    cfg.model.type = 'MaskRCNN'
    for key in ('semantic_head', 'panoptic_fusion_head',
                'instance_loss_weight'):
        cfg.model.pop(key, None)
    with pytest.raises(
            ValueError,
            match="model type 'MaskRCNN' is an mmdet detector without a "
            'panoptic output'):
        init_model(cfg)
    cfg = Config(dict(model=dict(type='NoSuchModel')))
    with pytest.raises(ValueError, match="'NoSuchModel' is not registered"):
        init_model(cfg)


PANOPTIC_CONFIGS = sorted(
    osp.join(folder, name) for folder in ('panoptic_fpn', 'panoptic_fcn')
    for name in os.listdir(osp.join(ROOT, 'configs', folder))
    if name.endswith('.py'))


@pytest.mark.parametrize('name', PANOPTIC_CONFIGS)
def test_demo_on_every_panoptic_config_without_data(name, tmp_path,
                                                    monkeypatch):
    """No checkpoint, no annotation file (cwd without ``data/``): the model's
    class counts give the names (COCO-panoptic's 133 for 80 + 53), with one
    warning, and the demo draws labels past mmdet's 80 detection names."""
    from mmdet.datasets import CocoPanopticDataset as MMDetCocoPanoptic

    from mmpanfpn.apis.dataset_meta import panoptic_class_counts
    monkeypatch.chdir(tmp_path)
    options = {
        # random weights: let every instance and stuff region through
        'model.test_cfg.panoptic.score_thr': 0.0,
        'model.test_cfg.panoptic.stuff_area_limit': 0,
    }
    if name.startswith('panoptic_fpn'):
        options['model.test_cfg.rpn.max_per_img'] = 20
    with pytest.warns(UserWarning) as caught:
        model = init_model(
            osp.join(ROOT, 'configs', name), cfg_options=options)
    warned = [w for w in caught if 'class names not found' in str(w.message)]
    assert len(warned) == 1, [str(w.message) for w in caught]
    things, stuff = panoptic_class_counts(model)
    meta = model.dataset_meta
    assert len(meta['classes']) == len(meta['palette']) == things + stuff
    if (things, stuff) == (80, 53):
        assert meta['classes'] == (
            MMDetCocoPanoptic.METAINFO['thing_classes'] +
            MMDetCocoPanoptic.METAINFO['stuff_classes'])
    else:
        assert meta['classes'][0] == 'thing0'
        assert meta['classes'][-1] == f'stuff{stuff - 1}'
    # a small image, tested at its own size (the configs would resize it to
    # 800-1333 pixels)
    for step in model.cfg.test_dataloader.dataset.pipeline:
        if step.type == 'Resize':
            step.scale = (64, 48)
    image = _small_image(tmp_path / 'small.jpg')
    lines = list(run_image_demo(model, [image], str(tmp_path / 'out')))
    assert len(lines) == 1 and lines[0].startswith(image)
    picture = mmcv.imread(str(tmp_path / 'out' / 'small_panoptic.jpg'))
    assert picture.shape == (384, 512, 3)  # 48x64 enlarged 8x
    segments = json.loads(
        (tmp_path / 'out' /
         'panoptic.json').read_text())['annotations'][0]['segments_info']
    # stuff labels come after the things': past the 80 detection names
    assert any(s['category_id'] >= things for s in segments)
    assert {s['category'] for s in segments} <= set(meta['classes'])


def test_image_demo_cli_on_coco_config_without_data(tmp_path):
    """The demo of a COCO config with no dataset and no checkpoint, as a new
    user runs it: it succeeds, warns once about class names, and prints no
    third-party deprecation notice."""
    image = _small_image(tmp_path / 'small.jpg')
    cmd = [
        sys.executable,
        osp.join(ROOT, 'demo', 'image_demo.py'),
        image,
        osp.join(PANOPTIC, 'panoptic-fpn_r50_fpn_1x_coco.py'),
        '--out-dir',
        'out',
        '--cfg-options',
        'test_dataloader.dataset.pipeline.1.scale='
        '(64,48)',
        'model.test_cfg.rpn.max_per_img=20',
        # random weights: let every instance and stuff region through
        'model.test_cfg.panoptic.score_thr=0',
        'model.test_cfg.panoptic.stuff_area_limit=0'
    ]
    proc = subprocess.run(
        cmd, capture_output=True, text=True, cwd=tmp_path, env=checkout_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    warned = [
        line for line in proc.stderr.splitlines() if 'Warning: ' in line and (
            'class names' in line or 'COCO classes' in line)
    ]
    assert len(warned) == 1 and 'class names not found' in warned[0], warned
    assert 'pkg_resources' not in proc.stderr
    assert (tmp_path / 'out' / 'small_panoptic.jpg').exists()
    assert (tmp_path / 'out' / 'panoptic.json').exists()


def test_image_demo_draws_semantic_pictures(synthetic_root, tmp_path):
    """A Semantic FPN config: a semantic picture (enlarged, with legend) and
    the label map at the image's size."""
    model = init_model(
        osp.join(SEMANTIC, 'fpn_r18_tiny_synthetic.py'),
        cfg_options={'test_dataloader.dataset.data_root': synthetic_root})
    assert model.dataset_meta['classes'] == ('circle', 'sky', 'square',
                                             'water', 'triangle', 'grass')
    image = osp.join(synthetic_root, 'val', '000000.jpg')
    lines = list(run_image_demo(model, [image], str(tmp_path)))
    assert len(lines) == 1 and lines[0].startswith(image)
    h, w = mmcv.imread(image).shape[:2]
    labels = mmcv.imread(str(tmp_path / '000000.png'), flag='unchanged')
    assert labels.shape == (h, w) and labels.max() < 6
    picture = mmcv.imread(str(tmp_path / '000000_semantic.jpg'))
    assert max(picture.shape[:2]) == 512
    assert not (tmp_path / 'panoptic.json').exists()
