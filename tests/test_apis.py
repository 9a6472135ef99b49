"""Python API and the image demo on the tiny config (random weights)."""
import json
import os.path as osp
import subprocess
import sys

import mmcv

from mmpanfpn.apis import inference_model, init_model

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


def test_image_demo_writes_picture_png_and_json(synthetic_root, tmp_path):
    out = tmp_path / 'out'
    cmd = [
        sys.executable,
        osp.join(ROOT, 'demo', 'image_demo.py'),
        osp.join(synthetic_root, 'val', '000002.jpg'), TINY, '--out-dir',
        str(out), '--score-thr', '0.0'
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
