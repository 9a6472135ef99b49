"""What :class:`~.coco_panoptic_metric.CocoPanopticMetric` makes of the per-
image records of all ranks: the metrics, and the submission files."""
import json
import logging
import os.path as osp
import tempfile
from typing import List, Optional, Sequence

import numpy as np
import torch
from mmdet.evaluation.metrics import CocoMetric
from mmengine.logging import print_log
from mmseg.evaluation.metrics import IoUMetric

from mmpanfpn.utils.atomic_io import atomic_write
from ..functional.coco_instances import coco_instances_json
from ..functional.label_space import LabelSpace
from ..functional.pq import PQStat, percent_metrics
from ..functional.tables import (iou_classwise_table, pq_classwise_table,
                                 pq_summary_table)
from .coco_ap_metric import CocoMetricWithEngine


def unique_by_image(results: List[dict]) -> List[dict]:
    """The records sorted by ``img_id``, each image once."""
    # ids of one dataset share a type; the flag keeps a mix from comparing
    results = sorted(
        results, key=lambda r: (isinstance(r['img_id'], str), r['img_id']))
    unique = [
        r for i, r in enumerate(results)
        if i == 0 or r['img_id'] != results[i - 1]['img_id']
    ]
    if len(unique) < len(results):
        print_log(
            f'{len(results) - len(unique)} image(s) were predicted '
            'more than once; each is counted once',
            logger='current',
            level=logging.WARNING)
    return unique


def pq_metrics(results: List[dict], labels: LabelSpace,
               classwise: bool) -> dict:
    """``coco_panoptic/*`` of the summed ``pq`` records; tables logged."""
    stat = PQStat()
    for record in results:
        stat += PQStat.from_dict(record['pq'])
    categories = labels.categories
    summary = stat.summarize(categories, classwise=classwise)
    percent = percent_metrics(summary, categories)
    print_log(
        'Panoptic Evaluation Results:\n' + pq_summary_table(percent, summary),
        logger='current')
    if classwise:
        print_log(
            'Classwise Panoptic Evaluation Results:\n' +
            pq_classwise_table(stat, categories),
            logger='current')
    return {
        f'coco_panoptic/{key}': value
        for key, value in percent.items() if key != 'classwise'
    }


def ap_metrics(results: List[dict],
               metrics: List[str],
               labels: LabelSpace,
               coco_metric: Optional[CocoMetric],
               classwise: bool,
               outfile_prefix: Optional[str],
               coco_eval_engine: str = 'fast') -> dict:
    """``coco/*``: box / mask AP through mmdet's ``CocoMetric``
    (``coco_metric`` when an instances file is given, else one over the
    ``coco_gt`` records, with the ``coco_eval_engine``'s ``COCOeval``)."""
    preds = [r['coco_pred'] for r in results]
    if 'segm' not in metrics:
        # CocoMetric dumps masks (and expects them) when the first has
        preds = [{k: v for k, v in p.items() if k != 'masks'} for p in preds]
    with tempfile.TemporaryDirectory() as tmp_dir:
        if coco_metric is None:
            gt_file = osp.join(tmp_dir, 'gt.json')
            with open(gt_file, 'w') as f:
                json.dump(
                    coco_instances_json([r['coco_gt'] for r in results],
                                        labels.thing_cat_ids,
                                        labels.thing_classes), f)
            coco_metric = CocoMetricWithEngine(
                coco_eval_engine=coco_eval_engine,
                ann_file=gt_file,
                metric=metrics,
                classwise=classwise,
                outfile_prefix=outfile_prefix,
                backend_args=None)
        coco_metric.metrics = metrics
        # set, not looked up by name: labels index the thing categories
        coco_metric.dataset_meta = dict(classes=labels.thing_classes)
        coco_metric.cat_ids = list(labels.thing_cat_ids)
        coco_metric.img_ids = [r['img_id'] for r in results]
        # CocoMetric keeps its COCO api private; subclasses use it too
        missing = set(coco_metric.cat_ids) - set(
            coco_metric._coco_api.get_cat_ids())
        if missing:
            raise ValueError(f'thing category ids {sorted(missing)} are '
                             'not in the instances annotation file')
        ap = coco_metric.compute_metrics([(None, p) for p in preds])
    return {f'coco/{key}': value for key, value in ap.items()}


def miou_metrics(results: List[dict], labels: LabelSpace, label_space: str,
                 classwise: bool) -> dict:
    """``sem_seg/*`` of the summed ``sem_seg`` histograms."""
    names = (
        labels.classes if label_space == 'all' else labels.stuff_classes +
        ('things', ))
    totals = sum(r['sem_seg'] for r in results)
    per_class = IoUMetric.total_area_to_metrics(
        *[torch.from_numpy(row).double() for row in totals], metrics=['mIoU'])
    print_log(
        f'mIoU over {len(names)} classes: ' +
        ('all classes'
         if label_space == 'all' else 'stuff + one "things" class'),
        logger='current')
    if classwise:
        print_log(
            'per class results:\n' +
            iou_classwise_table(names, per_class['IoU'], per_class['Acc']),
            logger='current')
    return {
        'sem_seg/aAcc': 100 * float(per_class['aAcc']),
        'sem_seg/mIoU': 100 * float(np.nanmean(per_class['IoU'])),
        'sem_seg/mAcc': 100 * float(np.nanmean(per_class['Acc'])),
    }


def write_submission(results: List[dict], outfile_prefix: str,
                     categories: List[dict], thing_cat_ids: Sequence[int],
                     format_only: bool) -> None:
    """``{outfile_prefix}.panoptic.json`` (renamed into place once complete,
    after every rank wrote its PNGs) and, with AP metrics, mmdet's
    ``.bbox.json`` / ``.segm.json`` (format_only only: an evaluation writes
    them itself)."""
    annotations = [r['panoptic_ann'] for r in results if 'panoptic_ann' in r]
    if annotations:
        names = [a['file_name'] for a in annotations]
        if len(set(names)) != len(names):
            repeated = sorted({n for n in names if names.count(n) > 1})
            raise ValueError(f'images share the PNG names {repeated[:5]}'
                             '; their image file names must differ')
        content = dict(annotations=annotations, categories=categories)
        atomic_write(json.dumps(content), f'{outfile_prefix}.panoptic.json')
    preds = [r['coco_pred'] for r in results if 'coco_pred' in r]
    if format_only and preds:
        coco_metric = CocoMetric()
        coco_metric.cat_ids = list(thing_cat_ids)
        coco_metric.results2json(preds, outfile_prefix)
