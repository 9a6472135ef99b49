"""The one COCO-panoptic JSON reader: what it returns and the errors it gives
(each names the file and the field)."""
import copy
import json

import pytest

from mmpanfpn.datasets.coco_panoptic_json import read_panoptic_json

CONTENT = {
    'categories': [
        dict(id=1, name='person', isthing=1),
        dict(id=2, name='sky', isthing=0),
    ],
    'images': [
        dict(id=7, file_name='a.jpg', height=2, width=2),
        dict(id=3, file_name='b.jpg', height=2, width=2),
    ],
    'annotations': [
        dict(
            image_id=7,
            file_name='a.png',
            segments_info=[
                dict(id=10, category_id=1),
                dict(id=20, category_id=2)
            ]),
        dict(
            image_id=3,
            file_name='b.png',
            segments_info=[dict(id=20, category_id=2)]),
    ],
}


def _read(tmp_path, content, **kwargs):
    path = tmp_path / 'panoptic.json'
    path.write_text(json.dumps(content))
    return read_panoptic_json(str(path), **kwargs)


def test_lists_indexed_by_id_in_file_order(tmp_path):
    ann = _read(tmp_path, CONTENT)
    assert list(ann.categories) == [1, 2]
    assert ann.categories[2]['name'] == 'sky'
    assert list(ann.images) == [7, 3]
    assert list(ann.annotations) == [7, 3]
    assert ann.annotations[3]['file_name'] == 'b.png'
    # a list the file does not hold is None (a prediction file)
    ann = _read(tmp_path, {'annotations': CONTENT['annotations']})
    assert ann.categories is None and ann.images is None


@pytest.mark.parametrize('change, message', [
    (lambda c: c.pop('annotations'), 'missing field "annotations"'),
    (lambda c: c.update(images={}), 'field "images" must be a list'),
    (lambda c: c['categories'][1].pop('isthing'),
     r'categories\[1\]: missing field "isthing"'),
    (lambda c: c['categories'][1].update(id=1),
     r'categories\[1\] repeats category id 1'),
    (lambda c: c['categories'][0].update(isthing=2),
     r'categories\[0\] field "isthing" must be 0 or 1'),
    (lambda c: c['images'][1].update(id=7), r'images\[1\] repeats image id 7'),
    (lambda c: c['annotations'][1].update(image_id=99),
     r'annotations\[1\]: image_id 99 is not in "images"'),
    (lambda c: c['annotations'][1].update(image_id=7),
     r'annotations\[1\]: second annotation for image_id 7'),
    (lambda c: c['annotations'][0].pop('segments_info'),
     r'annotations\[0\]: missing field "segments_info"'),
    (lambda c: c['annotations'][0]['segments_info'][1].pop('id'),
     r'annotations\[0\].segments_info\[1\]: missing field "id"'),
    (lambda c: c['annotations'][0]['segments_info'][1].update(id=10),
     r'annotations\[0\].segments_info\[1\]: repeats segment id 10'),
    (lambda c: c['annotations'][1]['segments_info'][0].update(category_id=5),
     r'annotations\[1\].segments_info\[0\]: '
     'category_id 5 is not in "categories"'),
])
def test_errors_name_the_file_and_the_field(tmp_path, change, message):
    content = copy.deepcopy(CONTENT)
    change(content)
    with pytest.raises(ValueError, match=r'panoptic.json: ' + message):
        _read(tmp_path, content)


def test_required_lists_and_image_fields(tmp_path):
    with pytest.raises(ValueError, match='missing field "categories"'):
        _read(
            tmp_path, {'annotations': []},
            required=('annotations', 'categories'))
    content = copy.deepcopy(CONTENT)
    del content['images'][0]['height']
    _read(tmp_path, content)  # only "id" by default
    with pytest.raises(
            ValueError, match=r'images\[0\]: missing field "height"'):
        _read(tmp_path, content, image_fields=('id', 'height'))


def test_unreadable_files(tmp_path):
    with pytest.raises(FileNotFoundError, match='nope.json: panoptic'):
        read_panoptic_json(str(tmp_path / 'nope.json'))
    path = tmp_path / 'panoptic.json'
    path.write_text('{"annotations": [')
    with pytest.raises(ValueError, match='panoptic.json: .*not valid JSON'):
        read_panoptic_json(str(path))
    path.write_text('[]')
    with pytest.raises(ValueError, match='must hold a JSON object'):
        read_panoptic_json(str(path))
