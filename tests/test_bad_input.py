"""Bad input the other test files do not cover: each case is one clear error
naming the file and the id, a non-zero exit, and no result written."""
import json
import os.path as osp

import cv2
import numpy as np
import pytest
from test_eval_panoptic_cli import tool  # noqa: F401,E501
from test_eval_panoptic_cli import GT_IDS, write_dataset, write_png

from mmpanfpn.datasets import CocoPanopticDataset


def _edit_pred(root, edit):
    pred = json.loads((root / 'pred.json').read_text())
    edit(pred)
    (root / 'pred.json').write_text(json.dumps(pred))


@pytest.mark.parametrize(
    'case',
    ['unknown_category', 'duplicate_id', 'size_mismatch', 'id_only_in_json'])
def test_eval_cli_refuses_bad_predictions(
        case,
        tmp_path,
        tool,  # noqa: F811
        capsys):
    args = write_dataset(tmp_path)
    if case == 'unknown_category':
        _edit_pred(
            tmp_path, lambda p: p['annotations'][1]['segments_info'][0].update(
                category_id=99))
        expected = ['000002.png', 'image_id 2', 'unknown category_id 99']
    elif case == 'duplicate_id':
        _edit_pred(
            tmp_path, lambda p: p['annotations'][0]['segments_info'].append(
                dict(p['annotations'][0]['segments_info'][0])))
        # the JSON reader finds it, in the file it is in
        expected = ['pred.json', 'segments_info[2]', 'repeats segment id 1000']
    elif case == 'size_mismatch':
        write_png(tmp_path / 'pred' / '000002.png',
                  np.pad(GT_IDS, ((0, 1), (0, 0)), mode='edge'))
        expected = ['000002.png', '(4, 4)', '(3, 4)']
    else:
        _edit_pred(
            tmp_path, lambda p: p['annotations'][0]['segments_info'].append(
                {
                    'id': 5,
                    'category_id': 4
                }))
        expected = ['000001.png', '5']
    out = tmp_path / 'result.json'
    assert tool.main(args + ['--nproc', '1', '--out', str(out)]) == 1
    err = capsys.readouterr().err
    for text in expected:
        assert text in err, (case, err)
    assert not out.exists()  # no partial result left looking complete
    assert not list(tmp_path.glob('.result.json*'))


def _one_image_dataset(root, segments, image_ok=True):
    """One 4x6 image with its panoptic PNG; ``segments`` are (id, category,
    rows) with the rows the segment covers."""
    (root / 'img').mkdir()
    (root / 'seg').mkdir()
    ids = np.zeros((4, 6), np.int64)
    for seg_id, _, rows in segments:
        ids[rows] = seg_id
    write_png(root / 'seg' / 'a.png', ids)
    if image_ok:
        cv2.imwrite(
            str(root / 'img' / 'a.jpg'), np.full((4, 6, 3), 128, np.uint8))
    else:
        (root / 'img' / 'a.jpg').write_bytes(b'not a jpeg')
    (root / 'ann.json').write_text(
        json.dumps({
            'images': [{
                'id': 1,
                'file_name': 'a.jpg',
                'height': 4,
                'width': 6
            }],
            'annotations': [{
                'image_id':
                1,
                'file_name':
                'a.png',
                'segments_info': [{
                    'id': s,
                    'category_id': c,
                    'iscrowd': 0,
                    'area': int((ids == s).sum())
                } for s, c, _ in segments]
            }],
            'categories': [{
                'id': 1,
                'name': 'thing',
                'isthing': 1
            }, {
                'id': 2,
                'name': 'stuff',
                'isthing': 0
            }]
        }))


def _dataset(root, pipeline, **kwargs):
    return CocoPanopticDataset(
        data_root=str(root),
        ann_file='ann.json',
        data_prefix=dict(img='img/', seg='seg/'),
        pipeline=pipeline,
        **kwargs)


def test_image_with_no_segments_loads_as_all_void(tmp_path):
    """An annotated image without any segment is legal (all void): it trains as
    an image without instances whose semantic map is all ignore, and
    filter_empty_gt drops it only when asked."""
    _one_image_dataset(tmp_path, [])
    pipeline = [
        dict(type='LoadImageFromFile'),
        dict(type='LoadPanopticAnnotations')
    ]
    dataset = _dataset(tmp_path, pipeline)
    item = dataset[0]
    assert len(item['gt_bboxes']) == 0
    assert len(item['gt_bboxes_labels']) == 0
    assert (item['gt_seg_map'] == 255).all()
    with pytest.raises(ValueError, match='ann.json'):
        _dataset(
            tmp_path, pipeline,
            filter_cfg=dict(filter_empty_gt=True)).full_init()


def test_corrupt_image_names_the_file(tmp_path):
    _one_image_dataset(tmp_path, [(7, 2, slice(None))], image_ok=False)
    dataset = _dataset(
        tmp_path,
        [dict(type='LoadImageFromFile'),
         dict(type='LoadPanopticAnnotations')])
    with pytest.raises(Exception, match=osp.join('img', 'a.jpg')):
        dataset[0]


def test_corrupt_panoptic_png_names_the_file(tmp_path):
    _one_image_dataset(tmp_path, [(7, 2, slice(None))])
    (tmp_path / 'seg' / 'a.png').write_bytes(b'\x89PNG broken')
    dataset = _dataset(
        tmp_path,
        [dict(type='LoadImageFromFile'),
         dict(type='LoadPanopticAnnotations')])
    with pytest.raises(Exception, match=osp.join('seg', 'a.png')):
        dataset[0]
