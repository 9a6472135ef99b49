"""Broken training data stops before training, with one message naming the file
and the field or id: every family of broken COCO-panoptic training set, and
``--resume`` from a checkpoint that cannot be resumed.

Each family is checked where ``tools/train.py`` meets it (building the training
dataset, or loading its first sample); a few run through the tool itself, which
must exit non-zero with that message as its last line and no checkpoint
written.
"""
import copy
import functools
import json
import os
import os.path as osp
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.config import Config

from mmpanfpn.datasets import id2rgb, read_panoptic_png
from mmpanfpn.datasets.synthetic import make_synthetic_panoptic
from mmpanfpn.engine import check_resume_checkpoint
from mmpanfpn.registry import DATASETS
from mmpanfpn.testing import checkout_env

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TINY = osp.join(ROOT, 'configs', 'panoptic_fpn',
                'panoptic-fpn_tiny_synthetic.py')
ANN = osp.join('annotations', 'panoptic_train.json')
PNG = osp.join('annotations', 'panoptic_train', '000000.png')
JPG = osp.join('train', '000000.jpg')


def _json(edit):
    """A case that edits the training annotation file's content."""

    def apply(root):
        path = osp.join(root, ANN)
        with open(path) as f:
            content = json.load(f)
        edit(content)
        with open(path, 'w') as f:
            json.dump(content, f)

    return apply


def _write(relative, data: bytes):

    def apply(root):
        with open(osp.join(root, relative), 'wb') as f:
            f.write(data)

    return apply


def _remove(relative):
    return lambda root: os.remove(osp.join(root, relative))


def _truncate(relative):

    def apply(root):
        path = osp.join(root, relative)
        with open(path, 'rb') as f:
            data = f.read()
        _write(relative, data[:len(data) // 2])(root)

    return apply


def _edit_png(edit):

    def apply(root):
        path = osp.join(root, PNG)
        ids = edit(read_panoptic_png(path))
        import cv2
        cv2.imwrite(path, id2rgb(ids)[..., ::-1])

    return apply


def _first_segments(content):
    return content['annotations'][0]['segments_info']


def _set(record, **values):
    record.update(values)


def _add_stray_id(ids):
    ids = ids.copy()
    ids[0, 0] = 4242  # a segment the JSON does not list
    return ids


def _unused_segment(content):
    segments = _first_segments(content)
    stuff = next(c['id'] for c in content['categories'] if not c['isthing'])
    segments.append(dict(id=4242, category_id=stuff, iscrowd=0, area=1))


# family -> (how to break the set, what the message must say besides the
# file it names)
FAMILIES = {
    'unreadable_json':
    (_write(ANN, b'\xff\xfe\x00 not json'), [ANN, 'not valid JSON']),
    'truncated_json': (_truncate(ANN), [ANN, 'not valid JSON']),
    'missing_images': (_json(lambda c: c.pop('images')),
                       [ANN, 'missing field "images"']),
    'missing_annotations': (_json(lambda c: c.pop('annotations')),
                            [ANN, 'missing field "annotations"']),
    'missing_categories': (_json(lambda c: c.pop('categories')),
                           [ANN, 'missing field "categories"']),
    'category_without_isthing':
    (_json(lambda c: c['categories'][2].pop('isthing')),
     [ANN, 'categories[2]', 'missing field "isthing"']),
    'repeated_category_id':
    (_json(lambda c: _set(c['categories'][1], id=c['categories'][0]['id'])),
     [ANN, 'categories[1]', 'repeats category id 1']),
    'unknown_category_id':
    (_json(lambda c: _set(_first_segments(c)[0], category_id=99)),
     [ANN, 'annotations[0].segments_info[0]', 'category_id 99']),
    'repeated_segment_id': (_json(
        lambda c: _set(_first_segments(c)[1], id=_first_segments(c)[0]['id'])),
                            [
                                ANN, 'annotations[0].segments_info[1]',
                                'repeats segment id'
                            ]),
    'annotation_without_segments_info':
    (_json(lambda c: c['annotations'][0].pop('segments_info')),
     [ANN, 'annotations[0]', 'missing field "segments_info"']),
    'annotation_of_unknown_image':
    (_json(lambda c: _set(c['annotations'][0], image_id=999)),
     [ANN, 'annotations[0]', 'image_id 999']),
    'empty_annotation_list': (_json(lambda c: _set(c, annotations=[])),
                              [ANN, 'no annotated images']),
    'missing_png': (_remove(PNG), [PNG, 'not found']),
    'corrupt_png': (_write(PNG,
                           b'\x89PNG\r\n broken'), [PNG, 'not a readable']),
    'png_size_differs_from_image':
    (_edit_png(lambda ids: np.pad(ids, ((0, 3), (0, 0)), mode='edge')),
     [PNG, 'is 35x32', JPG, 'is 32x32']),
    'missing_image': (_remove(JPG), [JPG, 'image not found']),
    'corrupt_image': (_write(JPG,
                             b'not a jpeg'), [JPG, 'not a readable image']),
    'id_in_png_not_in_json': (_edit_png(_add_stray_id),
                              [PNG, 'segment id 4242', 'not in the JSON']),
    'id_in_json_not_in_png': (_json(_unused_segment),
                              [PNG, 'segment id 4242', 'no pixel in the PNG']),
}


@pytest.fixture(scope='module')
def clean_set(tmp_path_factory):
    """Two 32x32 training images (the first with at least two segments) and one
    for validation."""
    root = str(tmp_path_factory.mktemp('clean_set'))
    make_synthetic_panoptic(root, 2, 1, (32, 32), seed=0, stuff_only_ratio=0)
    with open(osp.join(root, ANN)) as f:
        assert len(json.load(f)['annotations'][0]['segments_info']) >= 2
    return root


def _broken_copy(clean_set, tmp_path, family) -> str:
    import shutil
    root = str(tmp_path / family)
    shutil.copytree(clean_set, root)
    FAMILIES[family][0](root)
    return root


@functools.lru_cache(maxsize=None)
def _tiny_config() -> Config:
    return Config.fromfile(TINY)


def _train_error(root) -> str:
    """What training meets first: building the training set, then its first
    sample; the error's message (the tool's last line)."""
    dataset_cfg = copy.deepcopy(_tiny_config().train_dataloader.dataset)
    dataset_cfg.data_root = root
    with pytest.raises((ValueError, FileNotFoundError)) as caught:
        dataset = DATASETS.build(dataset_cfg)
        dataset[0]
    return str(caught.value)


def test_the_clean_set_trains(clean_set):
    dataset_cfg = copy.deepcopy(_tiny_config().train_dataloader.dataset)
    dataset_cfg.data_root = clean_set
    sample = DATASETS.build(dataset_cfg)[0]
    assert len(sample['data_samples'].gt_instances) >= 1


@pytest.mark.parametrize('family', sorted(FAMILIES))
def test_each_broken_family_names_the_file_and_field(family, clean_set,
                                                     tmp_path):
    root = _broken_copy(clean_set, tmp_path, family)
    message = _train_error(root)
    assert '\n' not in message, message
    for text in FAMILIES[family][1]:
        assert text in message, (family, message)


def _train(args, cwd) -> subprocess.CompletedProcess:
    env = dict(checkout_env(), OMP_NUM_THREADS='1')
    return subprocess.run(
        [sys.executable, TRAIN, TINY] + args,
        capture_output=True,
        text=True,
        cwd=str(cwd),
        env=env)


def _last_line(proc) -> str:
    return proc.stderr.strip().splitlines()[-1]


def test_train_tool_stops_at_the_first_bad_sample_in_a_worker(
        clean_set, tmp_path):
    """Through ``tools/train.py``, with the PNG read in a DataLoader worker
    (torch wraps the worker's traceback around the message; the last line is
    the message alone), and no checkpoint written."""
    root = _broken_copy(clean_set, tmp_path, 'corrupt_png')
    work_dir = tmp_path / 'work'
    proc = _train([
        '--work-dir',
        str(work_dir), '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}/annotations/panoptic_val.json',
        f'val_evaluator.seg_prefix={root}/annotations/panoptic_val/',
        'train_dataloader.batch_size=2', 'train_dataloader.num_workers=1',
        'train_cfg.max_iters=1', 'default_hooks.checkpoint.interval=1'
    ], tmp_path)
    assert proc.returncode != 0
    last = _last_line(proc)
    assert last == (f'error: {osp.join(root, PNG)}: not a readable PNG '
                    'image'), proc.stderr[-3000:]
    assert not list(work_dir.glob('*.pth'))


def test_train_before_making_the_data_names_the_fix(tmp_path):
    """The tiny config in a folder without ``data/``: the missing file and the
    command that makes it; and no third-party deprecation notice first."""
    proc = _train(['--work-dir', str(tmp_path / 'work')], tmp_path)
    assert proc.returncode != 0
    assert _last_line(proc) == (
        f'error: {osp.join("data", "synthetic", ANN)}: panoptic annotation '
        'file not found (make the data: python '
        'tools/make_synthetic_dataset.py data/synthetic)')
    assert 'pkg_resources' not in proc.stderr + proc.stdout
    assert not list((tmp_path / 'work').glob('*.pth'))


def _bad_checkpoint(tmp_path, damage):
    path = tmp_path / f'{damage}.pth'
    if damage == 'truncated':
        torch.save(dict(state_dict={'w': torch.ones(64)}, meta={}), path)
        path.write_bytes(path.read_bytes()[:100])
    else:  # a weights-only file: nothing to resume the schedule from
        torch.save({'w': torch.ones(2)}, path)
    return str(path)


@pytest.mark.parametrize(
    'damage, expected',
    [('truncated', 'not a readable checkpoint (truncated, or not written by '
      'torch.save): RuntimeError: PytorchStreamReader failed'),
     ('foreign', 'not a training checkpoint of an MMEngine runner (no '
      'state_dict, message_hub, meta.epoch, meta.iter)')])
def test_bad_resume_checkpoint_is_named(damage, expected, tmp_path):
    path = _bad_checkpoint(tmp_path, damage)
    with pytest.raises(ValueError) as caught:
        check_resume_checkpoint(path)
    assert str(caught.value).startswith(f'{path}: {expected}')


def test_train_tool_resume_from_another_models_checkpoint(tmp_path):
    """A runner's checkpoint of another model (other class counts) through
    ``tools/train.py --resume``: the mismatched keys, then a last line naming
    the file (no data needed: it stops before training)."""
    path = str(tmp_path / 'other_model.pth')
    torch.save(
        dict(
            state_dict={
                'semantic_head.conv_logits.weight': torch.zeros(9, 64, 1, 1)
            },
            meta=dict(epoch=0, iter=10),
            message_hub=dict(log_scalars={}, runtime_info={})), path)
    proc = _train(['--resume', path, '--work-dir', str(tmp_path)], tmp_path)
    assert proc.returncode != 0
    assert _last_line(proc) == (
        f'error: --resume: {path}: 1 tensors do not fit the model built from '
        'the config (class counts or channels differ?)')
    assert ('semantic_head.conv_logits.weight: checkpoint (9, 64, 1, 1) vs '
            'model (4, 64, 1, 1)') in proc.stderr
