"""CocoPanopticMetric: PQ, box/mask AP and mIoU in one pass, checked by hand.

Two 8x8 images. Categories are interleaved in the file (person 1, sky 2,
car 4, grass 5) while labels put things first (person 0, car 1, sky 2,
grass 3), so ``label2cat = (1, 4, 2, 5)``. In the grids a letter is a
segment and ``.`` is void::

    image 1               image 2
    S S S S S S S S       . . S S S S S S
    S P P S S S S S       S S S S S S S S
    S P P S S S S S       S S S S S S S S
    S S S S S S S S       S S S S S S S S
    G G G G G G G G       S S S S S S S S
    G G G G C C C G       S S C C C C S S
    G G G G C C C G       S S C C C C S S
    G G G G G G G G       X X S S S S S S

P person (4 px), C car (6 px, 8 px), S sky (28, 52), G grass (26), X a
crowd of persons (2 px). Segment ids above 255 use the PNG's G and B
channels.
"""
import json
import logging
import os
import os.path as osp
import runpy
import stat
from pathlib import Path

import cv2
import numpy as np
import pytest
import torch
from mmdet.structures import DetDataSample
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.structures import InstanceData, PixelData

from mmpanfpn.datasets.panoptic_format import id2rgb, read_panoptic_png
from mmpanfpn.evaluation import (CocoPanopticMetric, evaluate_panoptic_files,
                                 percent_metrics)
from mmpanfpn.evaluation.functional import semantic_areas

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
PERSON, SKY, CAR, GRASS = 1, 2, 4, 5
CATEGORIES = [
    {
        'id': PERSON,
        'name': 'person',
        'isthing': 1
    },
    {
        'id': SKY,
        'name': 'sky',
        'isthing': 0
    },
    {
        'id': CAR,
        'name': 'car',
        'isthing': 1
    },
    {
        'id': GRASS,
        'name': 'grass',
        'isthing': 0
    },
]
META = dict(
    classes=('person', 'car', 'sky', 'grass'),
    thing_classes=('person', 'car'),
    stuff_classes=('sky', 'grass'),
    label2cat=(PERSON, CAR, SKY, GRASS))
LABEL = {PERSON: 0, CAR: 1, SKY: 2, GRASS: 3}
OTHER = 255  # the semantic head's 'other' (thing) output

# segment letter -> (id, category id, iscrowd)
SEGMENTS = {
    'S': (70000, SKY, 0),
    'P': (300, PERSON, 0),
    'G': (5, GRASS, 0),
    'C': (1000, CAR, 0),
    'X': (9, PERSON, 1),
    '.': (0, None, 0)
}
IMAGES = {
    1:
    """S S S S S S S S
          S P P S S S S S
          S P P S S S S S
          S S S S S S S S
          G G G G G G G G
          G G G G C C C G
          G G G G C C C G
          G G G G G G G G""",
    2:
    """. . S S S S S S
          S S S S S S S S
          S S S S S S S S
          S S S S S S S S
          S S S S S S S S
          S S C C C C S S
          S S C C C C S S
          X X S S S S S S""",
}


def letters(image_id: int) -> np.ndarray:
    return np.array([row.split() for row in IMAGES[image_id].splitlines()])


def id_map(image_id: int) -> np.ndarray:
    grid = letters(image_id)
    out = np.zeros(grid.shape, np.int64)
    for letter, (seg_id, _, _) in SEGMENTS.items():
        out[grid == letter] = seg_id
    return out


def gt_segments(image_id: int) -> list:
    ids = id_map(image_id)
    return [{
        'id': seg_id,
        'category_id': cat,
        'iscrowd': crowd,
        'area': int((ids == seg_id).sum())
    } for letter, (seg_id, cat, crowd) in SEGMENTS.items()
            if letter != '.' and (letters(image_id) == letter).any()]


@pytest.fixture
def gt(tmp_path):
    """The GT JSON and PNG folder; returns ``(ann_file, seg_prefix)``."""
    seg_dir = tmp_path / 'gt'
    seg_dir.mkdir()
    annotations = []
    for image_id in IMAGES:
        name = f'{image_id:06d}.png'
        cv2.imwrite(str(seg_dir / name), id2rgb(id_map(image_id))[..., ::-1])
        annotations.append({
            'image_id': image_id,
            'file_name': name,
            'segments_info': gt_segments(image_id)
        })
    ann_file = tmp_path / 'gt.json'
    ann_file.write_text(
        json.dumps({
            'images': [{
                'id': i,
                'file_name': f'{i:06d}.jpg',
                'height': 8,
                'width': 8
            } for i in IMAGES],
            'annotations':
            annotations,
            'categories':
            CATEGORIES
        }))
    return str(ann_file), str(seg_dir) + '/'


def box_of(mask: np.ndarray) -> list:
    """The xyxy box of a mask, as mmdet draws it around pixels."""
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def prediction(image_id: int,
               relabel: dict = None,
               scores: dict = None,
               semantic: np.ndarray = None) -> DetDataSample:
    """The GT as a prediction; ``relabel`` {letter: category id} changes a
    segment's class, ``scores`` {letter: score} its detection score.

    Panoptic ids are renumbered 1..K (ids never need to match the GT's); the
    crowd is predicted void and not detected; the semantic map is the stuff +
    'other' head's unless ``semantic`` is given.
    """
    relabel, scores = relabel or {}, scores or {}
    grid = letters(image_id)
    pan = np.zeros(grid.shape, np.int64)
    segments, boxes, labels, det_scores, masks = [], [], [], [], []
    sem = np.full(grid.shape, OTHER, np.int64)
    for letter, (_, cat, crowd) in SEGMENTS.items():
        mask = grid == letter
        if letter == '.' or crowd or not mask.any():
            continue
        cat = relabel.get(letter, cat)
        pan[mask] = len(segments) + 1
        isthing = cat in (PERSON, CAR)
        segments.append({
            'id': len(segments) + 1,
            'category': LABEL[cat],
            'isthing': isthing,
            'score': 1.0,
            'area': int(mask.sum())
        })
        if isthing:
            boxes.append(box_of(mask))
            labels.append(LABEL[cat])
            det_scores.append(scores.get(letter, 1.0))
            masks.append(mask)
        else:
            sem[mask] = LABEL[cat]
    sample = DetDataSample(
        metainfo=dict(
            img_id=image_id,
            img_path=f'images/{image_id:06d}.jpg',
            ori_shape=grid.shape))
    sample.pred_panoptic_seg = PixelData(
        sem_seg=torch.from_numpy(pan)[None],
        metainfo=dict(segments_info=segments))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.int64),
        scores=torch.tensor(det_scores, dtype=torch.float32),
        masks=torch.from_numpy(np.stack(masks)))
    sample.pred_sem_seg = PixelData(
        sem_seg=torch.from_numpy(sem if semantic is None else semantic)[None])
    return sample


def evaluate(samples, **kwargs) -> dict:
    """The metric through mmengine's Evaluator, as the test loop runs it."""
    evaluator = Evaluator(CocoPanopticMetric(**kwargs))
    evaluator.dataset_meta = dict(META)
    evaluator.process(samples)
    return evaluator.evaluate(len(samples))


def perfect():
    return [prediction(1), prediction(2)]


def person_as_car():
    """Image 1's person predicted as a car, its detection scoring 0.5."""
    return [
        prediction(1, relabel={'P': CAR}, scores={'P': 0.5}),
        prediction(2)
    ]


# ------------------------------------------------------ hand-made values ---
def test_perfect_prediction_scores_100(gt):
    ann_file, seg_prefix = gt
    metrics = evaluate(perfect(), ann_file=ann_file, seg_prefix=seg_prefix)
    for key in ('PQ', 'SQ', 'RQ', 'PQ_th', 'SQ_th', 'RQ_th', 'PQ_st', 'SQ_st',
                'RQ_st'):
        assert metrics[f'coco_panoptic/{key}'] == 100.0, key
    # AP as mmdet reports it: a fraction
    assert metrics['coco/bbox_mAP'] == 1.0
    assert metrics['coco/bbox_mAP_50'] == 1.0
    assert metrics['coco/segm_mAP'] == 1.0
    assert metrics['sem_seg/mIoU'] == 100.0
    assert metrics['sem_seg/aAcc'] == 100.0


def test_one_wrong_class_segment_exact_values(gt):
    ann_file, seg_prefix = gt
    samples = person_as_car()
    # an all-classes semantic head, which also calls the person a car
    for sample, image_id in zip(samples, IMAGES):
        grid = letters(image_id)
        sem = np.full(grid.shape, 0, np.int64)
        for letter, (_, cat, _) in SEGMENTS.items():
            if letter != '.':
                sem[grid == letter] = LABEL[cat]
        if image_id == 1:
            sem[grid == 'P'] = LABEL[CAR]
        sample.pred_sem_seg = PixelData(sem_seg=torch.from_numpy(sem)[None])
    metrics = evaluate(
        samples,
        ann_file=ann_file,
        seg_prefix=seg_prefix,
        miou_label_space='all')

    # person: FN 1 (the crowd is neither matched nor missed) -> PQ 0
    # car: TP 2 (IoU 1), FP 1 -> PQ = SQ * RQ = 1 * 2 / 2.5 = 0.8
    # sky: TP 2, grass: TP 1 -> 1
    expected = {
        'PQ': (0 + 0.8 + 1 + 1) / 4,
        'SQ': (0 + 1 + 1 + 1) / 4,
        'RQ': (0 + 0.8 + 1 + 1) / 4,
        'PQ_th': 0.4,
        'SQ_th': 0.5,
        'RQ_th': 0.4,
        'PQ_st': 1,
        'SQ_st': 1,
        'RQ_st': 1
    }
    for key, value in expected.items():
        assert metrics[f'coco_panoptic/{key}'] == pytest.approx(100 *
                                                                value), key
    # person: its one GT is not detected -> AP 0; car: both found at score
    # 1, the false car scores 0.5, after full recall -> AP 1
    for key in ('bbox_mAP', 'bbox_mAP_50', 'bbox_mAP_75', 'bbox_mAP_s',
                'segm_mAP', 'segm_mAP_50', 'segm_mAP_s'):
        assert metrics[f'coco/{key}'] == 0.5, key
    assert metrics['coco/bbox_mAP_m'] == -1.0  # no medium objects at all
    # all classes (as configured): person IoU 2/6 (the
    # crowd's pixels right, image 1's 4 not), car 14/18, sky 1, grass 1
    assert metrics['sem_seg/mIoU'] == pytest.approx(
        100 * (2 / 6 + 14 / 18 + 1 + 1) / 4)
    assert metrics['sem_seg/aAcc'] == pytest.approx(100 * 122 / 126)


def test_stuff_and_other_head_scores_a_things_class(gt):
    ann_file, seg_prefix = gt
    samples = perfect()
    sem = samples[0].pred_sem_seg.sem_seg[0].clone()
    sem[3] = LABEL[GRASS]  # image 1's row 3: sky predicted as grass
    samples[0].pred_sem_seg = PixelData(sem_seg=sem[None])
    metrics = evaluate(
        samples, ann_file=ann_file, seg_prefix=seg_prefix, metric='miou')
    assert set(metrics) == {'sem_seg/aAcc', 'sem_seg/mIoU', 'sem_seg/mAcc'}
    # sky: GT 28 + 52 = 80, 72 right; grass: GT 26, predicted 34;
    # things (person, car, crowd: 20 px): all right
    assert metrics['sem_seg/mIoU'] == pytest.approx(
        100 * (72 / 80 + 26 / 34 + 1) / 3)
    assert metrics['sem_seg/aAcc'] == pytest.approx(100 * 118 / 126)


@pytest.mark.parametrize('seed', range(5))
def test_semantic_areas_equal_mmseg_intersect_and_union(seed):
    """Random maps: our one-pass histograms are mmseg's, in both spaces."""
    from mmseg.evaluation.metrics import IoUMetric
    rng = np.random.RandomState(seed)
    is_thing = rng.rand(7) < 0.4
    is_thing[:2] = [True, False]  # at least one of each
    num_stuff = int((~is_thing).sum())
    pred = rng.choice(list(range(7)) + [OTHER], size=(13, 17))
    gt = rng.randint(-1, 7, size=(13, 17))  # -1: ignored

    def mmseg(pred_map, gt_map, num_classes):
        return np.stack([
            a.numpy() for a in IoUMetric.intersect_and_union(
                torch.from_numpy(pred_map), torch.from_numpy(gt_map),
                num_classes, -1)
        ]).astype(np.int64)

    all_classes = semantic_areas(pred, gt, is_thing, 'all')
    assert (all_classes == mmseg(pred, gt, 7)).all()
    # stuff in label order, then 'things' for thing labels and OTHER
    to_reduced = {
        label: k
        for k, label in enumerate(np.flatnonzero(~is_thing))
    }
    reduce = np.vectorize(lambda v: to_reduced.get(v, num_stuff))
    reduced_gt = np.where(gt >= 0, reduce(np.maximum(gt, 0)), -1)
    assert (semantic_areas(pred, gt, is_thing, 'stuff_other') == mmseg(
        reduce(pred), reduced_gt, num_stuff + 1)).all()


def test_metric_subset_and_missing_prediction_fields(gt):
    ann_file, seg_prefix = gt
    samples = perfect()
    for sample in samples:
        del sample.pred_sem_seg
    metrics = evaluate(samples, ann_file=ann_file, seg_prefix=seg_prefix)
    assert metrics['coco_panoptic/PQ'] == 100.0
    assert metrics['coco/segm_mAP'] == 1.0
    assert not any(key.startswith('sem_seg/') for key in metrics)

    samples = perfect()
    del samples[1].pred_instances.masks  # a box-only detector
    metrics = evaluate(
        samples,
        ann_file=ann_file,
        seg_prefix=seg_prefix,
        metric=['bbox', 'segm'])
    assert set(metrics) == {
        f'coco/bbox_{k}'
        for k in ('mAP', 'mAP_50', 'mAP_75', 'mAP_s', 'mAP_m', 'mAP_l')
    }

    with pytest.raises(ValueError, match='subset'):
        CocoPanopticMetric(metric=['pq', 'proposal'])


def test_prefix_goes_in_front_of_every_group(gt):
    ann_file, seg_prefix = gt
    metrics = evaluate(
        perfect(), ann_file=ann_file, seg_prefix=seg_prefix, prefix='val')
    assert metrics['val/coco_panoptic/PQ'] == 100.0
    assert metrics['val/sem_seg/mIoU'] == 100.0


# ---------------------------------------------------------- ground truth ---
def test_gt_from_the_data_samples_equals_gt_from_the_file(gt, tmp_path):
    ann_file, seg_prefix = gt
    from_file = evaluate(
        person_as_car(), ann_file=ann_file, seg_prefix=seg_prefix)
    samples = person_as_car()
    for sample, image_id in zip(samples, IMAGES):
        # what CocoPanopticDataset gives: labels, no areas
        sample.set_metainfo(
            dict(
                seg_map_path=osp.join(seg_prefix, f'{image_id:06d}.png'),
                segments_info=[{
                    'id': s['id'],
                    'category': LABEL[s['category_id']],
                    'iscrowd': bool(s['iscrowd'])
                } for s in gt_segments(image_id)]))
    assert evaluate(samples) == from_file


def test_instances_ann_file_gives_the_same_ap(gt, tmp_path):
    ann_file, seg_prefix = gt
    import pycocotools.mask as mask_util
    images, annotations = [], []
    for image_id in IMAGES:
        images.append({'id': image_id, 'height': 8, 'width': 8})
        ids = id_map(image_id)
        for seg in gt_segments(image_id):
            if seg['category_id'] not in (PERSON, CAR):
                continue
            rle = mask_util.encode(
                np.asfortranarray((ids == seg['id']).astype(np.uint8)))
            annotations.append({
                'id': len(annotations) + 1,
                'image_id': image_id,
                'category_id': seg['category_id'],
                'iscrowd': seg['iscrowd'],
                'area': seg['area'],
                'bbox': mask_util.toBbox(rle).tolist(),
                'segmentation': {
                    'size': rle['size'],
                    'counts': rle['counts'].decode()
                }
            })
    instances = tmp_path / 'instances.json'
    instances.write_text(
        json.dumps({
            'images':
            images,
            'annotations':
            annotations,
            'categories': [{
                'id': PERSON,
                'name': 'person'
            }, {
                'id': CAR,
                'name': 'car'
            }]
        }))
    derived = evaluate(
        person_as_car(),
        ann_file=ann_file,
        seg_prefix=seg_prefix,
        metric=['bbox', 'segm'])
    given = evaluate(
        person_as_car(),
        ann_file=ann_file,
        seg_prefix=seg_prefix,
        metric=['bbox', 'segm'],
        instances_ann_file=str(instances))
    assert given == derived
    assert given['coco/bbox_mAP'] == 0.5


def test_area_mismatch_is_reported_once_per_image(gt, tmp_path):
    ann_file, seg_prefix = gt
    content = json.loads(Path(ann_file).read_text())
    content['annotations'][1]['segments_info'][0]['area'] = 51  # sky: 52
    content['annotations'][1]['segments_info'][1]['area'] = 7  # car: 8
    with open(ann_file, 'w') as f:
        json.dump(content, f)
    log_file = tmp_path / 'area.log'
    MMLogger.get_instance(
        'test_area_mismatch', log_file=str(log_file), log_level=logging.INFO)
    metrics = evaluate(perfect(), ann_file=ann_file, seg_prefix=seg_prefix)
    assert metrics['coco_panoptic/PQ'] == 100.0  # pixel areas are used
    log = log_file.read_text()
    lines = [line for line in log.splitlines() if 'GT of image 2' in line]
    assert len(lines) == 1
    assert 'segment 70000: "area" 51 in JSON, 52 pixels' in lines[0]
    assert 'segment 1000: "area" 7 in JSON, 8 pixels' in lines[0]
    assert 'GT of image 1' not in log
    assert '2 GT segment(s) have a JSON "area"' in log


# -------------------------------------------------------------- classwise ---
def test_classwise_tables_are_logged(gt, tmp_path):
    ann_file, seg_prefix = gt
    log_file = tmp_path / 'classwise.log'
    MMLogger.get_instance(
        'test_classwise', log_file=str(log_file), log_level=logging.INFO)
    evaluate(
        person_as_car(),
        ann_file=ann_file,
        seg_prefix=seg_prefix,
        classwise=True)
    log = log_file.read_text()
    table = []
    for line in log.split('Classwise Panoptic')[1].splitlines()[1:]:
        if not line.startswith(('|', '+')):
            break  # the end of the PQ table
        table.append(line)
    rows = {
        line.split('|')[1].strip(): [c.strip() for c in line.split('|')[2:-1]]
        for line in table if line.startswith('|') and 'category' not in line
    }
    # category, kind, PQ, SQ, RQ, TP, FP, FN
    assert rows['person'] == [
        'thing', '0.000', '0.000', '0.000', '0', '0', '1'
    ]
    assert rows['car'] == [
        'thing', '80.000', '100.000', '80.000', '2', '1', '0'
    ]
    assert rows['sky'] == [
        'stuff', '100.000', '100.000', '100.000', '2', '0', '0'
    ]
    assert 'per class results' in log and 'things' in log  # IoU table
    assert 'mAP_50' in log  # mmdet's AP table


# ---------------------------------------------------- submission files ---
def test_format_only_round_trip_through_the_offline_evaluator(gt, tmp_path):
    ann_file, seg_prefix = gt
    in_memory = evaluate(
        person_as_car(), ann_file=ann_file, seg_prefix=seg_prefix)
    prefix = str(tmp_path / 'out' / 'results')
    assert evaluate(
        person_as_car(),
        ann_file=ann_file,
        format_only=True,
        outfile_prefix=prefix) == {}
    submission = json.loads(Path(f'{prefix}.panoptic.json').read_text())
    assert submission['categories'] == CATEGORIES
    first = submission['annotations'][0]
    assert first['image_id'] == 1 and first['file_name'] == '000001.png'
    # dataset category ids, not labels: the person predicted as a car is 4
    assert {s['category_id']
            for s in first['segments_info']} == {SKY, CAR, GRASS}
    png = read_panoptic_png(f'{prefix}.panoptic/000001.png')
    assert sorted(np.unique(png)) == sorted(s['id']
                                            for s in first['segments_info'])
    # nothing left under a temporary name
    assert not [
        f for _, _, files in os.walk(tmp_path / 'out')
        for f in files if f.startswith('.') or f.endswith('.tmp')
    ]
    assert os.path.isfile(f'{prefix}.bbox.json')
    assert os.path.isfile(f'{prefix}.segm.json')

    result = evaluate_panoptic_files(
        ann_file,
        seg_prefix,
        f'{prefix}.panoptic.json',
        f'{prefix}.panoptic',
        nproc=1,
        progress=False)
    assert result.area_mismatches == []
    offline = percent_metrics(
        result.stat.summarize(result.categories), result.categories)
    for key, value in offline.items():
        assert in_memory[f'coco_panoptic/{key}'] == value, key

    # and the CLI accepts it
    main = runpy.run_path(osp.join(REPO, 'tools', 'eval_panoptic.py'))['main']
    out = tmp_path / 'pq.json'
    assert main([
        '--gt-json', ann_file, '--gt-dir', seg_prefix, '--pred-json',
        f'{prefix}.panoptic.json', '--pred-dir', f'{prefix}.panoptic',
        '--nproc', '1', '--out',
        str(out)
    ]) == 0
    assert json.loads(out.read_text())['PQ'] == in_memory['coco_panoptic/PQ']


def test_submission_is_accepted_by_the_reference_evaluator(gt, tmp_path):
    """The ``format_only`` submission, evaluated by panopticapi's own per-image
    code (mmdet's verbatim copy, ``pq_compute_single_core``, run with the
    bookkeeping stand-in of :mod:`mmpanfpn.testing.panopticapi_reference` since
    panopticapi is not installable), gives our in-memory PQ."""
    from mmpanfpn.testing.panopticapi_reference import reference_pq

    ann_file, seg_prefix = gt
    in_memory = evaluate(
        person_as_car(), ann_file=ann_file, seg_prefix=seg_prefix)
    prefix = str(tmp_path / 'results')
    evaluate(
        person_as_car(),
        ann_file=ann_file,
        format_only=True,
        outfile_prefix=prefix)
    gt_content = json.loads(Path(ann_file).read_text())
    submission = json.loads(Path(f'{prefix}.panoptic.json').read_text())
    by_image = {a['image_id']: a for a in submission['annotations']}
    pairs = [(a, by_image[a['image_id']]) for a in gt_content['annotations']]
    categories = {c['id']: c for c in gt_content['categories']}
    stat = reference_pq(pairs, seg_prefix, f'{prefix}.panoptic', categories)
    offline = percent_metrics(stat.summarize(categories), categories)
    for key, value in offline.items():
        assert in_memory[f'coco_panoptic/{key}'] == pytest.approx(
            value, abs=1e-9), key


def test_outfile_prefix_also_writes_while_evaluating(gt, tmp_path):
    ann_file, seg_prefix = gt
    prefix = str(tmp_path / 'results')
    metrics = evaluate(
        perfect(),
        ann_file=ann_file,
        seg_prefix=seg_prefix,
        outfile_prefix=prefix)
    assert metrics['coco_panoptic/PQ'] == 100.0
    assert os.path.isfile(f'{prefix}.panoptic.json')
    assert len(os.listdir(f'{prefix}.panoptic')) == 2


def test_submission_files_get_the_mode_of_a_plain_write(gt, tmp_path):
    ann_file, _ = gt
    prefix = str(tmp_path / 'results')
    old_umask = os.umask(0o027)
    try:
        evaluate(
            person_as_car(),
            ann_file=ann_file,
            format_only=True,
            outfile_prefix=prefix)
    finally:
        os.umask(old_umask)
    # 0o666 less the umask 0o027, as open(path, 'w') would make them
    for path in (f'{prefix}.panoptic.json', f'{prefix}.panoptic/000001.png',
                 f'{prefix}.bbox.json'):
        assert stat.S_IMODE(os.stat(path).st_mode) == 0o640, path


def test_format_only_needs_an_outfile_prefix():
    with pytest.raises(ValueError, match='outfile_prefix'):
        CocoPanopticMetric(format_only=True)


# ------------------------------------------------------------------ errors ---
def test_unknown_predicted_label_names_image_and_segment(gt):
    ann_file, seg_prefix = gt
    sample = prediction(2)
    sample.pred_panoptic_seg.segments_info[1]['category'] = 7
    with pytest.raises(ValueError, match=r'image 2: segment 2 has label 7'):
        evaluate([sample], ann_file=ann_file, seg_prefix=seg_prefix)


def test_predicted_id_missing_from_segments_info_names_it(gt):
    ann_file, seg_prefix = gt
    sample = prediction(2)
    sample.pred_panoptic_seg.sem_seg[0, 0, 0] = 42
    with pytest.raises(ValueError, match=r'image 2 .*\[42\]'):
        evaluate([sample], ann_file=ann_file, seg_prefix=seg_prefix)


def test_missing_keys_raise_clear_errors(gt):
    ann_file, seg_prefix = gt
    sample = prediction(1)
    del sample.pred_panoptic_seg.segments_info[0]['category']
    with pytest.raises(ValueError, match=r'image 1: .*segments_info\[0\]'):
        evaluate([sample], ann_file=ann_file, seg_prefix=seg_prefix)

    sample = prediction(1)
    with pytest.raises(ValueError, match='image 3 is not annotated'):
        sample.set_metainfo(dict(img_id=3))
        evaluate([sample], ann_file=ann_file, seg_prefix=seg_prefix)

    with pytest.raises(ValueError, match='image 1: .*segments_info'):
        evaluate([prediction(1)])  # no ann_file and no GT in the sample

    sample = prediction(1)
    sample.pred_instances.labels[0] = 2  # sky is no thing
    with pytest.raises(ValueError, match='image 1: pred_instances label 2'):
        evaluate([sample], ann_file=ann_file, seg_prefix=seg_prefix)


def test_gt_id_not_in_its_json_names_image_and_id(gt):
    ann_file, seg_prefix = gt
    content = json.loads(Path(ann_file).read_text())
    del content['annotations'][0]['segments_info'][1]  # the person, 300
    with open(ann_file, 'w') as f:
        json.dump(content, f)
    with pytest.raises(
            ValueError,
            match=r'image 1 .*000001.png.*\b300\b'
            r'.* in the PNG but not in segments_info'):
        evaluate(perfect(), ann_file=ann_file, seg_prefix=seg_prefix)
    # the same when only mIoU reads the GT (the per-pixel index checks it)
    with pytest.raises(
            ValueError,
            match=r'image 1 .*000001.png.*\b300\b'
            r'.* in the PNG but not in segments_info'):
        evaluate(
            perfect(), ann_file=ann_file, seg_prefix=seg_prefix, metric='miou')


# ------------------------------------------------------ synthetic dataset ---
def synthetic_predictions(dataset, rng: np.random.RandomState = None):
    """One prediction per image of ``dataset``, made from its GT: exact when
    ``rng`` is None, else perturbed (segments dropped, relabelled or shifted,
    random scores, noisy semantic labels).

    Returns:
        list[DetDataSample]: as the model returns them.
    """
    meta = dataset.metainfo
    num_things = len(meta['thing_classes'])
    num_classes = len(meta['classes'])
    samples = []
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        gt_ids = read_panoptic_png(info['seg_map_path'])
        pan = np.zeros_like(gt_ids)
        sem = np.full(gt_ids.shape, OTHER, np.int64)
        segments, boxes, labels, scores, masks = [], [], [], [], []
        for seg in info['segments_info']:
            mask = gt_ids == seg['id']
            label = seg['category']
            if seg['iscrowd']:
                continue  # void: neither matched nor missed
            if rng is not None:
                if rng.rand() < 0.15:
                    continue  # missed
                if rng.rand() < 0.15:  # wrong class of the same kind
                    label = (
                        rng.randint(num_things) if label < num_things else
                        rng.randint(num_things, num_classes))
                if rng.rand() < 0.3:  # shifted by a pixel or two
                    mask = np.roll(mask, rng.randint(1, 3), axis=1)
                mask &= pan == 0
                if not mask.any():
                    continue
            pan[mask] = len(segments) + 1
            segments.append({
                'id': len(segments) + 1,
                'category': label,
                'isthing': label < num_things,
                'score': 1.0,
                'area': int(mask.sum())
            })
            if label < num_things:
                boxes.append(box_of(mask))
                labels.append(label)
                scores.append(1.0 if rng is None else rng.rand())
                masks.append(mask)
            else:
                sem[mask] = label
        if rng is not None:
            noise = rng.rand(*sem.shape) < 0.05
            sem[noise] = rng.randint(num_things, num_classes, size=noise.sum())
        sample = DetDataSample(
            metainfo=dict(
                img_id=info['img_id'],
                img_path=info['img_path'],
                seg_map_path=info['seg_map_path'],
                segments_info=info['segments_info'],
                ori_shape=gt_ids.shape))
        sample.pred_panoptic_seg = PixelData(
            sem_seg=torch.from_numpy(pan)[None],
            metainfo=dict(segments_info=segments))
        h, w = gt_ids.shape
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4),
            labels=torch.tensor(labels, dtype=torch.int64),
            scores=torch.tensor(scores, dtype=torch.float32),
            masks=torch.from_numpy(
                np.stack(masks) if masks else np.zeros((0, h, w), bool)))
        sample.pred_sem_seg = PixelData(sem_seg=torch.from_numpy(sem)[None])
        samples.append(sample)
    return samples


def synthetic_dataset(root: str):
    """The synthetic val split, built and evaluated as the base config says."""
    from mmengine.config import Config

    from mmpanfpn.registry import DATASETS
    cfg = Config.fromfile(
        osp.join(REPO, 'configs', '_base_', 'datasets',
                 'synthetic_panoptic.py'))
    dataset_cfg = cfg.val_dataloader.dataset
    dataset_cfg.update(data_root=root + '/', pipeline=[])
    evaluator_cfg = dict(cfg.val_evaluator)
    evaluator_cfg.update(
        ann_file=osp.join(root, 'annotations', 'panoptic_val.json'),
        seg_prefix=osp.join(root, 'annotations', 'panoptic_val/'))
    return DATASETS.build(dataset_cfg), evaluator_cfg


def test_synthetic_perfect_predictions_score_100(tmp_path):
    from mmpanfpn.datasets.synthetic import make_synthetic_panoptic
    root = make_synthetic_panoptic(
        str(tmp_path), num_train=0, num_val=6, size=(64, 64))
    dataset, evaluator_cfg = synthetic_dataset(root)
    assert evaluator_cfg['type'] == 'CocoPanopticMetric'
    evaluator = Evaluator(evaluator_cfg)
    evaluator.dataset_meta = dataset.metainfo
    samples = synthetic_predictions(dataset)
    evaluator.process(samples)
    metrics = evaluator.evaluate(len(samples))
    assert metrics['coco_panoptic/PQ'] == 100.0
    assert metrics['coco_panoptic/PQ_th'] == 100.0
    assert metrics['coco_panoptic/PQ_st'] == 100.0
    assert metrics['coco/bbox_mAP'] == 1.0
    assert metrics['coco/segm_mAP'] == 1.0
    assert metrics['sem_seg/mIoU'] == 100.0

    # and imperfect ones score less, in every metric
    evaluator.process(synthetic_predictions(dataset, np.random.RandomState(0)))
    worse = evaluator.evaluate(len(samples))
    for key in ('coco_panoptic/PQ', 'coco/bbox_mAP', 'coco/segm_mAP',
                'sem_seg/mIoU'):
        assert 0 < worse[key] < metrics[key], key
