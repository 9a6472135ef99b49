"""The panoptic data layer: format helpers, synthetic set, dataset,
transform."""
import copy
import hashlib
import json
import os
import os.path as osp
import shutil

import cv2
import numpy as np
import pytest

from mmpanfpn.datasets import (LoadPanopticAnnotations, id2rgb,
                               read_panoptic_png, rgb2id)
from mmpanfpn.datasets.synthetic import (CATEGORIES, SEMANTIC_CLASSES,
                                         make_synthetic_panoptic)
from mmpanfpn.registry import DATASETS

# Labels are contiguous, things first, in the file's order; the file lists
# circle(1) sky(2) square(4) water(5) triangle(7) grass(9).
EXPECTED_CLASSES = ('circle', 'square', 'triangle', 'sky', 'water', 'grass')
EXPECTED_LABEL2CAT = (1, 4, 7, 2, 5, 9)


def _dataset(root, split='train', **kwargs):
    cfg = dict(
        type='CocoPanopticDataset',
        data_root=root,
        ann_file=f'annotations/panoptic_{split}.json',
        data_prefix=dict(
            img=f'{split}/', seg=f'annotations/panoptic_{split}/'),
        pipeline=[])
    cfg.update(kwargs)
    return DATASETS.build(cfg)


def _load(dataset, index, **kwargs):
    info = dataset.get_data_info(index)
    info['ori_shape'] = (info['height'], info['width'])
    return LoadPanopticAnnotations(**kwargs)(info)


# ---------------------------------------------------------------- format ---
def test_rgb2id_by_hand():
    # id = R + 256 G + 256^2 B
    rgb = np.array([[[1, 2, 3], [0, 0, 0]]], np.uint8)
    assert rgb2id(rgb).tolist() == [[1 + 2 * 256 + 3 * 65536, 0]]


def test_id2rgb_roundtrip_random_ids():
    ids = np.random.RandomState(0).randint(0, 256**3, size=(5, 7))
    assert (rgb2id(id2rgb(ids)) == ids).all()
    with pytest.raises(ValueError, match='256'):
        id2rgb(np.array([[256**3]]))


def test_read_panoptic_png_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.png'):
        read_panoptic_png(str(tmp_path / 'nope.png'))
    bad = tmp_path / 'bad.png'
    bad.write_bytes(b'not a png at all')
    with pytest.raises(ValueError, match='bad.png'):
        read_panoptic_png(str(bad))


# ------------------------------------------------------------- synthetic ---
def _digest(root):
    h = hashlib.sha256()
    for dirpath, _, files in sorted(os.walk(root)):
        for name in sorted(files):
            with open(osp.join(dirpath, name), 'rb') as f:
                h.update(name.encode() + f.read())
    return h.hexdigest()


def test_synthetic_is_deterministic(tmp_path):
    a = make_synthetic_panoptic(str(tmp_path / 'a'), 3, 2, (48, 48), seed=3)
    b = make_synthetic_panoptic(str(tmp_path / 'b'), 3, 2, (48, 48), seed=3)
    c = make_synthetic_panoptic(str(tmp_path / 'c'), 3, 2, (48, 48), seed=4)
    assert _digest(a) == _digest(b) != _digest(c)


def test_synthetic_content(synthetic_root):
    with open(osp.join(synthetic_root, 'annotations',
                       'panoptic_train.json')) as f:
        content = json.load(f)
    cats = content['categories']
    assert [c['isthing'] for c in cats] == [1, 0, 1, 0, 1, 0]  # interleaved
    assert {'id', 'name', 'isthing'} <= set(cats[0])
    anns = content['annotations']
    assert len(anns) == len(content['images']) == 24
    segs = [s for a in anns for s in a['segments_info']]
    assert {'id', 'category_id', 'iscrowd', 'area', 'bbox'} <= set(segs[0])
    thing_ids = {c['id'] for c in cats if c['isthing']}
    things_per_image = [
        sum(s['category_id'] in thing_ids for s in a['segments_info'])
        for a in anns
    ]
    assert 0 in things_per_image, 'some images are stuff-only'
    assert any(s['iscrowd'] for s in segs), 'some segments are crowd'

    void_images = 0
    for ann in anns:
        ids = read_panoptic_png(
            osp.join(synthetic_root, 'annotations', 'panoptic_train',
                     ann['file_name']))
        void_images += (ids == 0).any()
        present, counts = np.unique(ids[ids > 0], return_counts=True)
        json_area = {s['id']: s['area'] for s in ann['segments_info']}
        assert dict(zip(present.tolist(), counts.tolist())) == json_area
    assert void_images > 0

    # mmseg view: label = index into the categories' order, 255 = void
    sem = cv2.imread(
        osp.join(synthetic_root, 'semantic', 'train', '000000.png'),
        cv2.IMREAD_UNCHANGED)
    ids = read_panoptic_png(
        osp.join(synthetic_root, 'annotations', 'panoptic_train',
                 '000000.png'))
    assert ((sem == 255) == (ids == 0)).all()
    assert SEMANTIC_CLASSES == tuple(c['name'] for c in CATEGORIES)


# --------------------------------------------------------------- dataset ---
def test_label_space_from_file(synthetic_root):
    ds = _dataset(synthetic_root)
    assert ds.metainfo['classes'] == EXPECTED_CLASSES
    assert ds.metainfo['thing_classes'] == ('circle', 'square', 'triangle')
    assert ds.metainfo['stuff_classes'] == ('sky', 'water', 'grass')
    assert ds.metainfo['label2cat'] == EXPECTED_LABEL2CAT
    assert len(ds) == 24  # stuff-only images kept by default


def test_metainfo_order_is_followed_and_validated(synthetic_root):
    ds = _dataset(
        synthetic_root,
        metainfo=dict(
            thing_classes=('triangle', 'circle', 'square'),
            stuff_classes=('grass', 'sky', 'water')))
    assert ds.metainfo['label2cat'] == (7, 1, 4, 9, 2, 5)

    with pytest.raises(
            ValueError,
            match=r'panoptic_train.json.*thing_classes'
            r'.*missing \[\'triangle\'\]'):
        _dataset(
            synthetic_root, metainfo=dict(thing_classes=('circle', 'square')))
    with pytest.raises(
            ValueError, match=r"thing_classes.*wrong kind \['sky'\]"):
        _dataset(
            synthetic_root,
            metainfo=dict(
                thing_classes=('circle', 'square', 'triangle', 'sky'),
                stuff_classes=('water', 'grass')))
    with pytest.raises(ValueError, match="classes.*'dog'"):
        _dataset(synthetic_root, metainfo=dict(classes=('dog', )))


def test_mmdet_style_classes_only(synthetic_root):
    classes = ('square', 'circle', 'triangle', 'water', 'sky', 'grass')
    ds = _dataset(synthetic_root, metainfo=dict(classes=classes))
    assert ds.metainfo['classes'] == classes
    assert ds.metainfo['label2cat'] == (4, 1, 7, 5, 2, 9)


def test_filter_empty_gt(synthetic_root):
    full = _dataset(synthetic_root)
    with_things = _dataset(
        synthetic_root, filter_cfg=dict(filter_empty_gt=True))
    stuff_only = [
        i for i in range(len(full)) if not full.get_data_info(i)['instances']
    ]
    assert len(with_things) == len(full) - len(stuff_only) > 0
    with pytest.raises(ValueError, match='no image left after filtering'):
        _dataset(synthetic_root, filter_cfg=dict(min_size=10000))


# ------------------------------------------------------------- transform ---
def test_transform_outputs(synthetic_root):
    ds = _dataset(synthetic_root)
    for index in range(len(ds)):
        info = ds.get_data_info(index)
        results = _load(ds, index, with_panoptic_ids=True)
        ids = results['gt_panoptic_ids']
        seg = results['gt_seg_map']
        assert seg.dtype == np.uint8 and seg.shape == ids.shape
        assert ((seg == 255) == (ids == 0)).all()
        for s in info['segments_info']:
            # every segment (crowd included) keeps its class in gt_seg_map
            assert (seg[ids == s['id']] == s['category']).all()
            assert (s['category'] < 3) == (
                CATEGORIES[[c['id'] for c in CATEGORIES
                            ].index(s['category_id'])]['isthing'] == 1)
        crowd = [s['id'] for s in info['segments_info'] if s['iscrowd']]
        instance_ids = [i['segment_id'] for i in info['instances']]
        assert not set(crowd) & set(instance_ids)
        masks = results['gt_masks'].masks
        assert len(masks) == len(results['gt_bboxes']) == len(instance_ids)
        for mask, sid, label in zip(masks, instance_ids,
                                    results['gt_bboxes_labels']):
            assert (mask.astype(bool) == (ids == sid)).all()
            assert label < 3  # things come first


def test_transform_by_hand(tmp_path):
    """A 2x3 PNG with one thing, one crowd thing, one stuff and void."""
    ids = np.array([[5, 5, 0], [7, 9, 9]])
    ann = dict(
        images=[dict(id=1, file_name='a.jpeg', height=2, width=3)],
        annotations=[
            dict(
                image_id=1,
                file_name='a_panoptic.png',
                segments_info=[
                    dict(id=5, category_id=10, iscrowd=0, bbox=[0, 0, 2, 1]),
                    dict(id=7, category_id=10, iscrowd=1, bbox=[0, 1, 1, 1]),
                    dict(id=9, category_id=3, iscrowd=0, bbox=[1, 1, 2, 1]),
                ])
        ],
        categories=[
            dict(id=3, name='road', isthing=0),
            dict(id=10, name='car', isthing=1)
        ])
    root = _write_custom(tmp_path, ann, {'a_panoptic.png': ids})
    ds = _dataset(
        root, ann_file='ann.json', data_prefix=dict(img='img/', seg='pan/'))
    info = ds.get_data_info(0)
    assert info['img_path'].endswith(osp.join('img', 'a.jpeg'))
    assert info['seg_map_path'].endswith(osp.join('pan', 'a_panoptic.png'))
    results = _load(ds, 0)
    # car -> label 0 (the only thing), road -> label 1
    assert results['gt_seg_map'].tolist() == [[0, 0, 255], [0, 1, 1]]
    assert results['gt_bboxes_labels'].tolist() == [0]
    assert results['gt_masks'].masks.tolist() == [[[1, 1, 0], [0, 0, 0]]]


# ---------------------------------------------------------------- errors ---
def _write_custom(tmp_path, ann, pngs):
    root = tmp_path / 'custom'
    (root / 'pan').mkdir(parents=True, exist_ok=True)
    (root / 'img').mkdir(exist_ok=True)
    with open(root / 'ann.json', 'w') as f:
        json.dump(ann, f)
    for name, ids in pngs.items():
        cv2.imwrite(str(root / 'pan' / name), id2rgb(ids)[..., ::-1])
    return str(root)


@pytest.fixture
def custom(tmp_path, synthetic_root):
    """A copy of the synthetic train split that a test may corrupt."""
    root = tmp_path / 'copy'
    shutil.copytree(synthetic_root, root)
    path = root / 'annotations' / 'panoptic_train.json'
    with open(path) as f:
        return str(root), path, json.load(f)


def _rewrite(path, content):
    with open(path, 'w') as f:
        json.dump(content, f)


def test_error_not_json(custom):
    root, path, _ = custom
    path.write_text('{"images": [')
    with pytest.raises(
            ValueError, match='panoptic_train.json.*not valid JSON'):
        _dataset(root)


def test_error_missing_key(custom):
    root, path, content = custom
    del content['categories']
    _rewrite(path, content)
    with pytest.raises(ValueError, match='panoptic_train.json.*"categories"'):
        _dataset(root)
    content = custom[2]


def test_error_unknown_and_duplicate_category(custom):
    root, path, content = custom
    bad = copy.deepcopy(content)
    bad['annotations'][0]['segments_info'][0]['category_id'] = 99
    _rewrite(path, bad)
    with pytest.raises(
            ValueError,
            match=r'annotations\[0\].segments_info\[0\]'
            r': category_id 99'):
        _dataset(root)
    bad = copy.deepcopy(content)
    bad['categories'].append(dict(bad['categories'][0], name='other'))
    _rewrite(path, bad)
    with pytest.raises(ValueError, match='repeats category id 1'):
        _dataset(root)


def test_error_png_and_json_disagree(custom):
    root, path, content = custom
    bad = copy.deepcopy(content)
    dropped = bad['annotations'][0]['segments_info'].pop()
    _rewrite(path, bad)
    with pytest.raises(
            ValueError,
            match=f'000000.png: segment id {dropped["id"]} is in '
            'the PNG but not in the JSON'):
        _load(_dataset(root), 0)
    bad = copy.deepcopy(content)
    bad['annotations'][0]['segments_info'].append(
        dict(id=424242, category_id=2, iscrowd=0, area=1, bbox=[0, 0, 1, 1]))
    _rewrite(path, bad)
    with pytest.raises(ValueError, match='segment id 424242 of the JSON'):
        _load(_dataset(root), 0)


def test_error_missing_png(custom):
    root, _, content = custom
    os.remove(osp.join(root, 'annotations', 'panoptic_train', '000001.png'))
    with pytest.raises(FileNotFoundError, match='000001.png'):
        _load(_dataset(root), 1)


def test_error_unknown_image(custom):
    root, path, content = custom
    content['annotations'][2]['image_id'] = 12345
    _rewrite(path, content)
    with pytest.raises(ValueError, match=r'annotations\[2\]: image_id 12345'):
        _dataset(root)
