"""The base dataset configs (COCO, Cityscapes, ADE20K, synthetic) load data
laid out as each benchmark's tools write it, through the same code."""
import json
import os
import os.path as osp

import cv2
import numpy as np
import pytest
from mmengine.config import Config

from mmpanfpn.datasets import id2rgb
from mmpanfpn.registry import DATASETS
from mmpanfpn.testing import load_tool

CONFIG_DIR = osp.join(
    osp.dirname(__file__), '..', 'configs', '_base_', 'datasets')

# A few real Cityscapes categories (label ids, isthing as cityscapesscripts
# writes them) and ADE20K-style ones, stuff listed before things.
CITYSCAPES_CATS = [
    dict(id=7, name='road', isthing=0),
    dict(id=11, name='building', isthing=0),
    dict(id=24, name='person', isthing=1),
    dict(id=26, name='car', isthing=1)
]
ADE_CATS = [
    dict(id=0, name='wall', isthing=0),
    dict(id=7, name='bed', isthing=1),
    dict(id=3, name='floor', isthing=0),
    dict(id=12, name='person', isthing=1)
]


def _scene(h=32, w=48):
    ids = np.zeros((h, w), np.int64)
    ids[:h // 2] = 1001  # first stuff
    ids[h // 2:] = 1002  # second stuff
    ids[4:12, 4:12] = 2001  # a thing
    ids[20:28, 30:40] = 2002  # another thing
    ids[0, 0] = 0  # void
    image = np.random.RandomState(0).randint(0, 255, (h, w, 3), np.uint8)
    return image, ids


def _write(root, ann_path, pan_dir, img_path, img_file_name, pan_file_name,
           cats):
    image, ids = _scene()
    stuff = [c for c in cats if not c['isthing']]
    things = [c for c in cats if c['isthing']]
    segs = [
        dict(id=1001, category_id=stuff[0]['id'], iscrowd=0),
        dict(id=1002, category_id=stuff[1]['id'], iscrowd=0),
        dict(
            id=2001, category_id=things[0]['id'], iscrowd=0, bbox=[4, 4, 8,
                                                                   8]),
        dict(
            id=2002,
            category_id=things[1]['id'],
            iscrowd=0,
            bbox=[30, 20, 10, 8])
    ]
    for seg in segs:
        seg['area'] = int((ids == seg['id']).sum())
    os.makedirs(osp.dirname(osp.join(root, img_path)), exist_ok=True)
    os.makedirs(osp.join(root, pan_dir), exist_ok=True)
    cv2.imwrite(osp.join(root, img_path), image)
    cv2.imwrite(osp.join(root, pan_dir, pan_file_name), id2rgb(ids)[..., ::-1])
    content = dict(
        images=[dict(id='img0', file_name=img_file_name, height=32, width=48)],
        annotations=[
            dict(image_id='img0', file_name=pan_file_name, segments_info=segs)
        ],
        categories=cats)
    with open(osp.join(root, ann_path), 'w') as f:
        json.dump(content, f)
    return ids


def _build(config, root, split):
    cfg = Config.fromfile(osp.join(CONFIG_DIR, config))
    dataset_cfg = cfg[f'{split}_dataloader'].dataset
    dataset_cfg.data_root = str(root)
    dataset_cfg.pop('filter_cfg', None)
    # the val split's files, loaded with annotations (the test pipeline
    # leaves them to the metric)
    dataset_cfg.pipeline = cfg.train_pipeline
    dataset_cfg.test_mode = False
    return DATASETS.build(dataset_cfg)


def _check(dataset, ids, expected_things):
    assert dataset.metainfo['thing_classes'] == expected_things
    sample = dataset[0]
    data_sample = sample['data_samples']
    assert len(data_sample.gt_instances) == 2
    sem = data_sample.gt_sem_seg.sem_seg[0].numpy()
    if sem.shape == ids.shape:  # no resize in the pipeline
        assert ((sem == 255) == (ids == 0)).all()
        assert (sem[ids == 2001] == 0).all()  # first thing -> label 0


@pytest.mark.parametrize('split', ['train', 'val'])
def test_cityscapes_layout(tmp_path, split):
    """createPanopticImgs' output after tools/dataset_converters/
    cityscapes_panoptic.py: PNG images in city folders."""
    stem = 'frankfurt_000000_000294'
    ids = _write(tmp_path, f'gtFine/cityscapes_panoptic_{split}.json',
                 f'gtFine/cityscapes_panoptic_{split}',
                 f'leftImg8bit/{split}/frankfurt/{stem}_leftImg8bit.png',
                 f'frankfurt/{stem}_leftImg8bit.png',
                 f'{stem}_gtFine_panoptic.png', CITYSCAPES_CATS)
    _check(
        _build('cityscapes_panoptic.py', tmp_path, split), ids,
        ('person', 'car'))


def test_cityscapes_converter_prefixes_city(tmp_path):
    conv = load_tool('tools/dataset_converters/cityscapes_panoptic.py')
    path = tmp_path / 'x.json'
    path.write_text(
        json.dumps(
            dict(images=[dict(
                file_name='ulm_000001_000019_leftImg8bit.png')])))
    assert conv.add_city_folders(str(path)) == 1
    assert conv.add_city_folders(str(path)) == 0  # idempotent
    assert json.loads(path.read_text())['images'][0]['file_name'] == \
        'ulm/ulm_000001_000019_leftImg8bit.png'


def test_ade20k_layout(tmp_path):
    ids = _write(tmp_path, 'ade20k_panoptic_val.json', 'ade20k_panoptic_val',
                 'images/validation/ADE_val_00000001.jpg',
                 'ADE_val_00000001.jpg', 'ADE_val_00000001.png', ADE_CATS)
    _check(
        _build('ade20k_panoptic.py', tmp_path, 'val'), ids, ('bed', 'person'))


def test_coco_layout(tmp_path):
    coco_cats = [
        dict(id=1, name='person', isthing=1),
        dict(id=3, name='car', isthing=1),
        dict(id=149, name='rug-merged', isthing=0),
        dict(id=184, name='tree-merged', isthing=0)
    ]
    ids = _write(tmp_path, 'annotations/panoptic_val2017.json',
                 'annotations/panoptic_val2017', 'val2017/000000000139.jpg',
                 '000000000139.jpg', '000000000139.png', coco_cats)
    _check(_build('coco_panoptic.py', tmp_path, 'val'), ids, ('person', 'car'))


def test_panoptic_to_semantic_converter(synthetic_root, tmp_path):
    """Labels follow the dataset's label space (things first)."""
    p2s = load_tool('tools/dataset_converters/panoptic2semantic.py')
    out = tmp_path / 'sem'
    count = p2s.convert(
        osp.join(synthetic_root, 'annotations', 'panoptic_val.json'),
        osp.join(synthetic_root, 'annotations', 'panoptic_val'), str(out))
    assert count == 8
    classes = json.loads((out / 'classes.json').read_text())
    assert classes['classes'][:3] == ['circle', 'square', 'triangle']
    # the synthetic set's own semantic view uses the file's category order
    # (circle sky square water triangle grass): map and compare
    to_file_order = {0: 0, 1: 2, 2: 4, 3: 1, 4: 3, 5: 5, 255: 255}
    for name in ('000000.png', '000005.png'):
        ours = cv2.imread(str(out / name), cv2.IMREAD_UNCHANGED)
        view = cv2.imread(
            osp.join(synthetic_root, 'semantic', 'val', name),
            cv2.IMREAD_UNCHANGED)
        mapped = np.vectorize(to_file_order.get)(ours)
        assert (mapped == view).all()


def test_ade20k_converter_then_load(tmp_path):
    """A 2-image fake ADEChallengeData2016 through the converter, then the base
    config loads it."""
    ade = load_tool('tools/dataset_converters/ade20k_panoptic.py')
    cats = ade.ade20k_categories()
    assert len(cats) == 150 and sum(c['isthing'] for c in cats) == 100
    wall, bed = cats[0], cats[7]  # label order: 'wall' 1st, 'bed' 8th
    assert (wall['name'], wall['isthing']) == ('wall', 0)
    assert (bed['name'], bed['isthing']) == ('bed', 1)

    root = tmp_path / 'ADEChallengeData2016'
    for sub in ('images', 'annotations', 'annotations_instance'):
        os.makedirs(root / sub / 'validation')
    semantic = np.ones((16, 20), np.uint8)  # wall (label 1)
    semantic[0, :] = 0  # void row
    semantic[4:10, 4:10] = 8  # bed pixels in the semantic map
    instance = np.zeros((16, 20, 3), np.uint8)
    instance[4:10, 4:10] = (1, 1, 0)  # R: 1st thing class ('bed'), G: id 1
    for stem in ('ADE_val_00000001', 'ADE_val_00000002'):
        cv2.imwrite(
            str(root / 'images' / 'validation' / f'{stem}.jpg'),
            np.zeros((16, 20, 3), np.uint8))
        cv2.imwrite(
            str(root / 'annotations' / 'validation' / f'{stem}.png'), semantic)
        cv2.imwrite(
            str(root / 'annotations_instance' / 'validation' / f'{stem}.png'),
            instance[..., ::-1])
    assert ade.convert_split(str(root), 'val') == 2
    content = json.loads((root / 'ade20k_panoptic_val.json').read_text())
    segs = content['annotations'][0]['segments_info']
    assert [(s['category_id'], s['area']) for s in segs] == [(0, 20 * 15 - 36),
                                                             (7, 36)]
    dataset = _build('ade20k_panoptic.py', root, 'val')
    assert len(dataset.metainfo['thing_classes']) == 100
    sample = dataset[0]['data_samples']
    assert len(sample.gt_instances) == 1
