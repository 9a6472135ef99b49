"""COCOeval engines: the fast engine gives pycocotools' numbers exactly.

A hand-made image whose AP a reader can work out, then generated sets
(:mod:`mmpanfpn.testing.coco_detections`: crowd GT, images without GT or
without detections, > 100 detections per image, score ties) on which every
summary value and the whole precision array must equal pycocotools'.
"""
import contextlib
import copy
import io
import json

import numpy as np
import pytest
from pycocotools.coco import COCO

from mmpanfpn.evaluation.functional.coco_eval import (COCO_EVAL_ENGINES,
                                                      coco_eval_class)
from mmpanfpn.testing.coco_detections import make_detection_set

# mmdet's CocoMetric evaluates with these maxDets: AP at 1000 detections,
# AR at 100 / 300 / 1000
MMDET_MAX_DETS = [100, 300, 1000]


def run(engine: str,
        gt: dict,
        detections: list,
        iou_type: str,
        max_dets=None,
        cat_ids=None):
    """Evaluate as mmdet's CocoMetric does: pycocotools COCO objects,
    ``loadRes``, then the engine's evaluate / accumulate / summarize."""
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(copy.deepcopy(detections))
        evaluator = coco_eval_class(engine)(coco_gt, coco_dt, iou_type)
        if max_dets is not None:
            evaluator.params.maxDets = max_dets
        if cat_ids is not None:
            evaluator.params.catIds = cat_ids
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    return evaluator


def box_result(image_id, box, score, category_id=1):
    return dict(
        image_id=image_id, category_id=category_id, bbox=box, score=score)


@pytest.mark.parametrize('engine', COCO_EVAL_ENGINES)
def test_hand_made_image(engine):
    # one 100x100 image, category 1: two GT boxes and a crowd region
    gt = dict(
        images=[dict(id=1, height=100, width=100)],
        categories=[dict(id=1, name='thing')],
        annotations=[
            dict(
                id=1,
                image_id=1,
                category_id=1,
                bbox=[10, 10, 20, 20],
                area=400,
                iscrowd=0),
            dict(
                id=2,
                image_id=1,
                category_id=1,
                bbox=[50, 50, 30, 30],
                area=900,
                iscrowd=0),
            dict(
                id=3,
                image_id=1,
                category_id=1,
                bbox=[0, 70, 30, 30],
                area=900,
                iscrowd=1),
        ])
    detections = [
        box_result(1, [0, 70, 30, 30], 0.95),  # on the crowd: ignored
        box_result(1, [10, 10, 20, 20], 0.9),  # GT 1, IoU 1
        box_result(1, [80, 0, 10, 10], 0.8),  # nothing there: FP
        box_result(1, [50, 50, 30, 30], 0.7),  # GT 2, IoU 1
    ]
    stats = run(engine, gt, detections, 'bbox').stats
    # every match has IoU 1, so all ten IoU thresholds agree. In score order
    # (the ignored one aside): TP, FP, TP -> (recall, precision) = (1/2, 1),
    # (1/2, 1/2), (1, 2/3); interpolated precision: 1 up to recall 1/2, then
    # 2/3. Of the 101 recall points 0, 0.01, ..., 1, 51 are <= 1/2:
    # AP = (51 * 1 + 50 * 2/3) / 101
    ap = (51 + 50 * 2 / 3) / 101  # 0.83498...
    # all GT areas < 32^2: small; no medium or large GT (-1). AR@1: the top
    # detection is the ignored one, so recall 0; AR@10, AR@100: 1
    expected = [ap, ap, ap, ap, -1, -1, 0, 1, 1, 1, -1, -1]
    np.testing.assert_allclose(stats, expected, rtol=0, atol=1e-12)


def _results_for(iou_type: str, detections: list) -> list:
    # as mmdet's CocoMetric: box results without masks; mask results
    # without boxes (or pycocotools would take the box area as the area)
    drop = 'segmentation' if iou_type == 'bbox' else 'bbox'
    return [{k: v for k, v in d.items() if k != drop} for d in detections]


def test_generated_sets_have_every_case():
    gt, detections = make_detection_set(seed=1)
    image_ids = {img['id'] for img in gt['images']}
    with_gt = {a['image_id'] for a in gt['annotations']}
    per_image = np.bincount([d['image_id'] for d in detections])
    assert image_ids - with_gt  # images without GT
    assert image_ids - set(np.flatnonzero(per_image).tolist())  # without dets
    assert per_image.max() > 100
    assert any(a['iscrowd'] for a in gt['annotations'])
    assert any(isinstance(a['segmentation'], list) for a in gt['annotations'])
    scores = [d['score'] for d in detections]
    assert len(set(scores)) < len(scores)  # ties


@pytest.mark.parametrize('seed', [1, 6, 7, 0])
@pytest.mark.parametrize('iou_type', ['bbox', 'segm'])
def test_fast_engine_equals_pycocotools(seed, iou_type):
    gt, detections = make_detection_set(seed=seed)
    results = _results_for(iou_type, detections)
    for max_dets in (None, MMDET_MAX_DETS):
        reference = run('pycocotools', gt, results, iou_type, max_dets)
        fast = run('fast', gt, results, iou_type, max_dets)
        # seeds 1, 6, 7: all 12 values strictly between 0 and 1; seed 0
        # also has AP_l = 0 (a large GT never detected)
        assert np.array_equal(fast.stats,
                              reference.stats), (fast.stats, reference.stats)
        assert np.array_equal(fast.eval['precision'],
                              reference.eval['precision'])
        assert np.array_equal(fast.eval['recall'], reference.eval['recall'])


def test_fast_engine_after_pycocotools_on_the_same_objects():
    # pycocotools' evaluate() rewrites the segmentations of the COCO objects
    # it reads as RLEs with bytes counts; the fast engine reads them too
    gt, detections = make_detection_set(seed=1)
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = copy.deepcopy(gt)
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(_results_for('segm', detections))
        stats = []
        for engine in ('pycocotools', 'fast'):
            evaluator = coco_eval_class(engine)(coco_gt, coco_dt, 'segm')
            evaluator.evaluate()
            evaluator.accumulate()
            evaluator.summarize()
            stats.append(evaluator.stats)
    assert any(
        isinstance(a['segmentation'].get('counts'), bytes)
        for a in coco_gt.dataset['annotations']
        if isinstance(a['segmentation'], dict))
    assert np.array_equal(stats[0], stats[1])


def test_fast_engine_with_a_category_subset():
    # mmdet sets catIds: a category that has detections but no GT, left out
    gt, detections = make_detection_set(seed=6)
    results = _results_for('segm', detections)
    cat_ids = [1, 3, 7, 20]
    reference = run('pycocotools', gt, results, 'segm', MMDET_MAX_DETS,
                    cat_ids)
    fast = run('fast', gt, results, 'segm', MMDET_MAX_DETS, cat_ids)
    assert reference.eval['precision'].shape[2] == len(cat_ids)
    assert np.array_equal(fast.stats, reference.stats)
    assert np.array_equal(fast.eval['precision'], reference.eval['precision'])


def test_unknown_engine_is_named():
    with pytest.raises(ValueError, match="'faster'"):
        coco_eval_class('faster')


def mmdet_results(gt: dict, detections: list) -> list:
    """``CocoMetric.process`` records of the detections: (gt, pred) pairs,
    boxes as xyxy, labels indexing the categories, RLE masks."""
    cat_ids = [c['id'] for c in gt['categories']]
    records = []
    for image in gt['images']:
        dets = [d for d in detections if d['image_id'] == image['id']]
        boxes = np.array([d['bbox'] for d in dets],
                         dtype=np.float32).reshape(-1, 4)
        boxes[:, 2:] += boxes[:, :2]
        pred = dict(
            img_id=image['id'],
            bboxes=boxes,
            scores=np.array([d['score'] for d in dets], dtype=np.float32),
            labels=np.array([cat_ids.index(d['category_id']) for d in dets],
                            dtype=np.int64),
            masks=[d['segmentation'] for d in dets])
        records.append((dict(img_id=image['id']), pred))
    return records


def test_coco_metric_with_engine_reports_what_pycocotools_does(tmp_path):
    from mmdet.evaluation.metrics import coco_metric as mmdet_coco_metric
    from pycocotools.cocoeval import COCOeval

    from mmpanfpn.evaluation.functional.coco_eval import HotcocoEval
    from mmpanfpn.evaluation.metrics.coco_ap_metric import CocoMetricWithEngine

    gt, detections = make_detection_set(seed=7)
    gt_file = tmp_path / 'instances.json'
    gt_file.write_text(json.dumps(gt))
    runs = []

    class Recording(HotcocoEval):

        def evaluate(self):
            runs.append(self.params.iouType)
            super().evaluate()

    metrics = {}
    for engine in COCO_EVAL_ENGINES:
        metric = CocoMetricWithEngine(
            coco_eval_engine=engine,
            ann_file=str(gt_file),
            metric=['bbox', 'segm'],
            classwise=True)
        if engine == 'fast':
            metric.coco_eval_class = Recording
        metric.dataset_meta = dict(
            classes=tuple(c['name'] for c in gt['categories']))
        with contextlib.redirect_stdout(io.StringIO()):
            metrics[engine] = metric.compute_metrics(
                mmdet_results(gt, detections))
    assert runs == ['bbox', 'segm']  # the fast engine did the work
    assert mmdet_coco_metric.COCOeval is COCOeval  # and left mmdet as it was
    # 6 AP values per iou type, and a precision per category (classwise;
    # mmdet names them without the iou type, segm's replace bbox's)
    assert len(metrics['fast']) == 2 * 6 + len(gt['categories'])
    # (NaN, as mmdet writes it, for the category without GT, equals NaN)
    np.testing.assert_equal(metrics['fast'], metrics['pycocotools'])
    assert 0 < metrics['fast']['segm_mAP'] < 1


def test_unknown_engine_in_the_metric_is_named():
    from mmpanfpn.evaluation import CocoPanopticMetric
    with pytest.raises(ValueError, match="'hot'"):
        CocoPanopticMetric(coco_eval_engine='hot')
