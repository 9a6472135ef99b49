"""tools/train.py and tools/test.py: config overrides and their errors."""
import os.path as osp
import subprocess
import sys

import pytest

from mmpanfpn.utils.tool_config import prepare_config

ROOT = osp.join(osp.dirname(__file__), '..')
TINY = osp.join(ROOT, 'configs', 'panoptic_fpn',
                'panoptic-fpn_tiny_synthetic.py')


def test_overrides_and_gloo_on_cpu():
    cfg = prepare_config(TINY, {
        'train_cfg.max_iters': 7,
        'randomness.deterministic': True
    })
    assert cfg.train_cfg.max_iters == 7
    assert cfg.randomness.deterministic is True  # new leaf keys are fine
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.work_dir.endswith('panoptic-fpn_tiny_synthetic')


@pytest.mark.parametrize('key,suggestion', [
    ('train_cfg.max_iter', 'train_cfg.max_iters'),
    ('model.semantic_head.num_stuf_classes',
     'model.semantic_head.num_stuff_classes'),
    ('optim_wraper.optimizer.lr', 'optim_wrapper'),
])
def test_typo_is_refused_with_suggestion(key, suggestion):
    with pytest.raises(ValueError, match=f'did you mean "{suggestion}"'):
        prepare_config(TINY, {key: 1})


def test_train_tool_exits_nonzero_on_typo():
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), TINY, '--cfg-options',
        'train_cfg.max_iter=3'
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT)
    assert proc.returncode != 0
    assert 'panoptic-fpn_tiny_synthetic.py: --cfg-options train_cfg.max_iter' \
        in proc.stderr
    with pytest.raises(FileNotFoundError, match='nope.py'):
        prepare_config('nope.py')


def test_class_count_mismatch_is_refused(synthetic_root, tmp_path):
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), TINY, '--work-dir',
        str(tmp_path), '--cfg-options',
        f'train_dataloader.dataset.data_root={synthetic_root}',
        f'val_dataloader.dataset.data_root={synthetic_root}',
        f'val_evaluator.ann_file={synthetic_root}/annotations/'
        'panoptic_val.json',
        f'val_evaluator.seg_prefix={synthetic_root}/annotations/'
        'panoptic_val/', 'model.semantic_head.num_stuff_classes=53'
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT)
    assert proc.returncode != 0
    assert ('panoptic_train.json has 3 stuff classes but the model has '
            'num_stuff_classes=53') in proc.stderr
