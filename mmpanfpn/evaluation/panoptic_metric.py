"""One evaluator for Panoptic FPN's three outputs: PQ, box/mask AP and mIoU.

In one test pass, per image, :meth:`CocoPanopticMetric.process` reads the
ground-truth (GT) panoptic PNG once and derives from that read everything the
three metrics need: the PQ counts (:func:`~mmpanfpn.evaluation.pq.pq_single`),
the GT label map for mIoU and, without an instances file, the GT instances
for AP. Predictions are evaluated in memory, never written to PNG and read
back. Each image leaves a small picklable record, so that ranks gather little
and :meth:`~CocoPanopticMetric.compute_metrics` only sums (in ``img_id``
order, so that a distributed result equals the single-process one exactly):

- ``pq``: a :meth:`PQStat.to_dict` of the image;
- ``sem_seg``: intersection / union / prediction / GT pixel histograms, for
  both semantic label spaces (see :class:`CocoPanopticMetric`);
- ``coco_pred`` / ``coco_gt``: detections and GT instances as RLE, for
  pycocotools' ``COCOeval`` through mmdet's ``CocoMetric``.
"""
import json
import logging
import os
import os.path as osp
import tempfile
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Tuple, Union

import cv2
import numpy as np
import pycocotools.mask as mask_util
import torch
from mmdet.evaluation.metrics import CocoMetric
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement
from mmseg.evaluation.metrics import IoUMetric
from prettytable import PrettyTable

from mmpanfpn.datasets.coco_panoptic_json import check_panoptic_json, load_json
from mmpanfpn.datasets.panoptic_format import (VOID_ID, id2rgb,
                                               read_panoptic_png)
from mmpanfpn.registry import METRICS
from .pq import (PQStat, SegmentsError, area_mismatches, mismatched_areas,
                 percent_metrics, pq_single_and_areas)

ALLOWED_METRICS = ('pq', 'bbox', 'segm', 'miou')
# which prediction field each metric needs
NEEDS = {
    'pq': 'pred_panoptic_seg',
    'bbox': 'pred_instances',
    'segm': 'pred_instances',
    'miou': 'pred_sem_seg'
}
# label of ignored pixels in the internal semantic maps: below every class,
# so no class count is capped by it
SEM_IGNORE = -1
# at most this many area disagreements are named per image
MAX_AREA_LINES = 5


@METRICS.register_module()
class CocoPanopticMetric(BaseMetric):
    """PQ, box and mask AP, and semantic mIoU of a COCO-format panoptic set.

    Keys, named as mmdet and mmseg name them (a given ``prefix`` is put in
    front, ``{prefix}/coco_panoptic/PQ``):

    - ``coco_panoptic/PQ, SQ, RQ, PQ_th, ..., RQ_st``: percent, from
      :mod:`mmpanfpn.evaluation.pq` (the COCO panoptic definition);
    - ``coco/bbox_mAP, bbox_mAP_50, ..., segm_mAP_l``: fractions in
      ``[0, 1]`` rounded to 3 digits, as mmdet's ``CocoMetric`` (which
      computes them) reports them, over the thing categories;
    - ``sem_seg/mIoU, mAcc, aAcc``: percent, with mmseg's ``IoUMetric``
      formulas. A semantic head that predicts stuff plus one 'other' class
      (any value that is not a stuff label, e.g. 255) is scored over the
      stuff classes plus one 'things' class that holds every GT thing pixel,
      as detectron2 scores Panoptic FPN's semantic branch; a head that
      predicts thing labels too (seen in any image) is scored over all
      classes. GT void pixels are ignored.

    The GT of an image comes from ``ann_file`` (its ``segments_info`` by
    ``img_id``) and the PNG ``seg_prefix/file_name``; without ``ann_file``,
    from the data sample's ``seg_map_path`` and ``segments_info`` (pack them
    with ``PackDetInputs(meta_keys=...)``). A metric whose prediction field is
    missing (``pred_panoptic_seg`` for PQ, ``pred_instances`` for AP,
    ``pred_sem_seg`` for mIoU) is skipped with a log line.

    Args:
        ann_file (str, optional): GT COCO panoptic JSON; its ``categories``
            are also those of the submission. Defaults to None.
        seg_prefix (str, optional): Folder of the GT PNGs named by the
            JSON's ``file_name``. Defaults to None (use ``seg_map_path``).
        metric (str | Sequence[str]): Any of ``'pq'``, ``'bbox'``,
            ``'segm'``, ``'miou'``. Defaults to all four.
        classwise (bool): Log per-category tables (PQ with TP/FP/FN, AP,
            IoU). Defaults to False.
        format_only (bool): Only write the submission under
            ``outfile_prefix``, no GT needed. Defaults to False.
        outfile_prefix (str, optional): Write a COCO panoptic submission:
            ``{outfile_prefix}.panoptic.json`` (dataset category ids) and
            ``{outfile_prefix}.panoptic/*.png``, plus mmdet's
            ``{outfile_prefix}.bbox.json`` / ``.segm.json`` when AP is
            asked for. Required by ``format_only``. Defaults to None.
        instances_ann_file (str, optional): COCO instances JSON for AP. When
            None, the GT instances are the panoptic thing segments (crowd
            ones as ``iscrowd=1``), with pixel-exact masks, boxes and areas.
            Defaults to None.
        backend_args (dict, optional): mmengine file backend arguments for
            the annotation files and GT PNGs. Defaults to None.
        collect_device (str): ``'cpu'`` or ``'gpu'``, to gather records
            across ranks. Defaults to ``'cpu'``.
        prefix (str, optional): Put in front of every key. Defaults to None.
        collect_dir (str, optional): Folder for the CPU gathering; see
            :class:`mmengine.evaluator.BaseMetric`. Defaults to None.
    """
    # the keys carry their own groups (coco_panoptic/, coco/, sem_seg/)
    default_prefix: Optional[str] = ''

    def __init__(self,
                 ann_file: Optional[str] = None,
                 seg_prefix: Optional[str] = None,
                 metric: Union[str, Sequence[str]] = ALLOWED_METRICS,
                 classwise: bool = False,
                 format_only: bool = False,
                 outfile_prefix: Optional[str] = None,
                 instances_ann_file: Optional[str] = None,
                 backend_args: Optional[dict] = None,
                 collect_device: str = 'cpu',
                 prefix: Optional[str] = None,
                 collect_dir: Optional[str] = None) -> None:
        super().__init__(
            collect_device=collect_device,
            prefix=prefix,
            collect_dir=collect_dir)
        self.metrics = [metric] if isinstance(metric, str) else list(metric)
        unknown = [m for m in self.metrics if m not in ALLOWED_METRICS]
        if unknown or not self.metrics:
            raise ValueError(f'metric must be a non-empty subset of '
                             f'{ALLOWED_METRICS}, got {metric!r}')
        if format_only and outfile_prefix is None:
            raise ValueError('format_only=True needs an outfile_prefix to '
                             'write the submission to')
        self.ann_file = ann_file
        self.seg_prefix = seg_prefix
        self.classwise = classwise
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.backend_args = backend_args

        self._file_categories: Optional[List[dict]] = None
        self._gt_by_image: Optional[Dict[object, dict]] = None
        if ann_file is not None:
            self._load_panoptic_gt(ann_file)
        self._instances_metric = None
        if instances_ann_file is not None and not format_only and {
                'bbox', 'segm'
        } & set(self.metrics):
            # loads the instances JSON once, reused at every evaluation
            self._instances_metric = CocoMetric(
                ann_file=instances_ann_file,
                metric=self._ap_metrics(),
                classwise=classwise,
                outfile_prefix=outfile_prefix,
                backend_args=backend_args)
        self._labels: Optional[_LabelSpace] = None

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------

    def _load_panoptic_gt(self, ann_file: str) -> None:
        with get_local_path(ann_file, backend_args=self.backend_args) as path:
            content = load_json(path, 'ground-truth panoptic JSON')
        # an image-info file (test-dev) has no annotations: enough for
        # format_only
        gt = check_panoptic_json(content, ann_file, required=('categories', ))
        self._file_categories = list(gt.categories.values())
        self._gt_by_image = gt.annotations

    def _ap_metrics(self) -> List[str]:
        return [m for m in self.metrics if m in ('bbox', 'segm')]

    @property
    def label_space(self) -> '_LabelSpace':
        """The label space, built on first use from ``dataset_meta``."""
        if self._labels is None:
            if self.dataset_meta is None:
                raise ValueError(
                    'CocoPanopticMetric needs dataset_meta (classes, '
                    'thing_classes, label2cat); the Evaluator sets it from '
                    'the dataset')
            self._labels = _LabelSpace(self.dataset_meta,
                                       self._file_categories, self.ann_file)
        return self._labels

    # ------------------------------------------------------------------
    # per image
    # ------------------------------------------------------------------

    def process(self, data_batch: dict, data_samples: Sequence[dict]) -> None:
        """Append one record per data sample to ``self.results``.

        Args:
            data_batch (dict): The batch from the dataloader (unused).
            data_samples (Sequence[dict]): Model outputs (dicts, as the
                Evaluator passes them, or ``DetDataSample``) with ``img_id``,
                ``pred_panoptic_seg`` (``sem_seg`` (1, H, W) segment ids, 0
                void, and ``segments_info`` ``[{'id', 'category'}]``),
                ``pred_instances`` (``bboxes`` xyxy, ``labels``, ``scores``,
                ``masks`` (N, H, W)) and ``pred_sem_seg`` (``sem_seg`` (1,
                H, W) dataset labels), all at the original image size.
        """
        for sample in data_samples:
            if isinstance(sample, BaseDataElement):
                sample = sample.to_dict()
            self.results.append(self._process_sample(sample))

    def _lacking(self, sample: dict) -> Dict[str, str]:
        """``{metric: missing prediction field}`` of this sample."""
        lacking = {}
        for metric in self.metrics:
            field = NEEDS[metric]
            if field not in sample:
                lacking[metric] = field
            elif metric == 'segm' and 'masks' not in sample[field]:
                lacking[metric] = 'pred_instances.masks'
        return lacking

    def _process_sample(self, sample: dict) -> dict:
        if 'img_id' not in sample:
            raise ValueError('data sample has no "img_id"; keep it in '
                             'PackDetInputs(meta_keys=...)')
        img_id = sample['img_id']
        record = {'img_id': img_id, 'lacks': self._lacking(sample)}
        want = set(self.metrics) - set(record['lacks'])

        panoptic = None
        if 'pq' in want or (self.outfile_prefix is not None
                            and 'pred_panoptic_seg' in sample):
            panoptic = self._predicted_panoptic(sample['pred_panoptic_seg'],
                                                img_id)
            if self.outfile_prefix is not None:
                record['panoptic_ann'] = self._write_panoptic_png(
                    sample, img_id, *panoptic)
        if want & {'bbox', 'segm'}:
            record['coco_pred'] = self._predicted_instances(
                sample['pred_instances'], img_id, with_masks='segm' in want)
        derive_instances = bool(want & {'bbox', 'segm'}) and \
            self._instances_metric is None
        if self.format_only or not (want & {'pq', 'miou'} or derive_instances):
            return record

        # the only read of this image's GT
        gt_ids, gt_segments, gt_path = self._ground_truth(sample, img_id)
        gt_areas = None
        if 'pq' in want:
            try:
                stat, gt_areas, _ = pq_single_and_areas(
                    gt_ids, gt_segments, panoptic[0], panoptic[1],
                    self.label_space.categories)
            except SegmentsError as err:
                where = gt_path if err.side == 'gt' else 'prediction'
                raise ValueError(
                    f'image {img_id!r} ({where}): {err}') from None
            record['pq'] = stat.to_dict()
        # per-pixel GT segment index: only what mIoU and GT instances need
        if 'miou' in want or derive_instances:
            gt_slots, slot_segments = self._gt_slots(gt_ids, gt_segments,
                                                     gt_path, img_id)
            if gt_areas is None:
                counts = np.bincount(
                    gt_slots.ravel(), minlength=len(slot_segments) + 1)
                gt_areas = {
                    seg['id']: int(count)
                    for seg, count in zip(slot_segments, counts[1:].tolist())
                }
        record['area_mismatches'] = self._check_areas(gt_ids, gt_segments,
                                                      gt_path, img_id,
                                                      gt_areas)
        if 'miou' in want:
            record['sem_seg'] = self._semantic_areas(sample['pred_sem_seg'],
                                                     gt_slots, slot_segments,
                                                     img_id)
        if 'segm' in want and record['coco_pred']['masks']:
            mask_shape = tuple(record['coco_pred']['masks'][0]['size'])
            if mask_shape != gt_ids.shape:
                raise ValueError(
                    f'image {img_id!r}: pred_instances masks are '
                    f'{mask_shape}, the GT is {gt_ids.shape}; predict at '
                    'the original size')
        if derive_instances:
            record['coco_gt'] = self._gt_instances(gt_slots, slot_segments,
                                                   img_id)
        return record

    def _ground_truth(self, sample: dict,
                      img_id) -> Tuple[np.ndarray, List[dict], str]:
        """The GT id map (H, W), its segments (dataset category ids) and the
        PNG path, from ``ann_file`` or else from the data sample."""
        if self._gt_by_image is not None:
            ann = self._gt_by_image.get(img_id)
            if ann is None:
                raise ValueError(f'image {img_id!r} is not annotated in '
                                 f'{self.ann_file}')
            path = (
                osp.join(self.seg_prefix, ann['file_name'])
                if self.seg_prefix else sample.get('seg_map_path'))
            segments = ann['segments_info']
        else:
            path = sample.get('seg_map_path')
            segments = sample.get('segments_info')
            if segments is None:
                raise ValueError(
                    f'image {img_id!r}: without ann_file the data sample '
                    'needs "segments_info" (add it to PackDetInputs\' '
                    'meta_keys)')
            segments = [
                self.label_space.dataset_segment(seg, img_id)
                for seg in segments
            ]
        if path is None:
            raise ValueError(
                f'image {img_id!r}: no GT PNG: set seg_prefix, or keep '
                '"seg_map_path" in PackDetInputs\' meta_keys')
        gt_ids = read_panoptic_png(
            path, backend_args=self.backend_args, dtype=np.uint32)
        return gt_ids, segments, path

    def _gt_slots(self, gt_ids: np.ndarray, segments: List[dict], path: str,
                  img_id) -> Tuple[np.ndarray, List[dict]]:
        """Index every GT pixel by its segment.

        Returns:
            tuple: ``slots`` (H, W) int64, 0 on void and ``k + 1`` on
            ``ordered[k]``, and ``ordered``: the segments sorted by id.
        """
        ordered = sorted(segments, key=lambda s: s['id'])
        ids = np.array([VOID_ID] + [s['id'] for s in ordered], np.int64)
        if (np.diff(ids) <= 0).any():
            bad = ids[1:][np.diff(ids) <= 0][0]
            raise ValueError(f'image {img_id!r} ({path}): segment id {bad} '
                             'is repeated or not positive')
        slots = np.searchsorted(ids, gt_ids)
        slots[slots == len(ids)] = 0
        stray = ids[slots] != gt_ids
        if stray.any():
            raise ValueError(
                f'image {img_id!r} ({path}): segment id '
                f'{int(gt_ids[stray][0])} is in the PNG but not in '
                'segments_info')
        empty = np.flatnonzero(
            np.bincount(slots.ravel(), minlength=len(ids))[1:] == 0)
        if empty.size:
            raise ValueError(
                f'image {img_id!r} ({path}): segment id '
                f'{ordered[empty[0]]["id"]} is in segments_info but not in '
                'the PNG')
        return slots, ordered

    def _check_areas(self,
                     gt_ids: np.ndarray,
                     segments: List[dict],
                     path: str,
                     img_id,
                     pixel_areas: Optional[Dict[int, int]] = None) -> int:
        """Warn, once for the image, of JSON areas that are not the pixel
        counts (``pixel_areas`` when already counted); return how many."""
        wrong = (
            area_mismatches(gt_ids, segments) if pixel_areas is None else
            mismatched_areas(segments, pixel_areas))
        if wrong:
            named = '; '.join(
                f'segment {seg_id}: "area" {json_area} in JSON, {pixels} '
                f'pixels'
                for seg_id, json_area, pixels in wrong[:MAX_AREA_LINES])
            more = (f' (and {len(wrong) - MAX_AREA_LINES} more)'
                    if len(wrong) > MAX_AREA_LINES else '')
            print_log(
                f'GT of image {img_id!r} ({path}): {named}{more}; PQ uses '
                'the pixel counts',
                logger='current',
                level=logging.WARNING)
        return len(wrong)

    def _predicted_panoptic(self, pred: dict,
                            img_id) -> Tuple[np.ndarray, List[dict]]:
        """The predicted id map (H, W) and its segments with dataset category
        ids."""
        if 'sem_seg' not in pred or 'segments_info' not in pred:
            raise ValueError(
                f'image {img_id!r}: pred_panoptic_seg needs "sem_seg" (1, H, '
                'W) segment ids and "segments_info" in its metainfo')
        pred_ids = _to_numpy(pred['sem_seg'])
        if pred_ids.ndim == 3 and pred_ids.shape[0] == 1:
            pred_ids = pred_ids[0]
        segments = []
        for k, seg in enumerate(pred['segments_info']):
            if 'id' not in seg or 'category' not in seg:
                raise ValueError(
                    f'image {img_id!r}: predicted segments_info[{k}] needs '
                    f'"id" and "category" (a label), got {sorted(seg)}')
            segments.append(
                dict(
                    id=int(seg['id']),
                    category_id=self.label_space.category_id(
                        seg['category'], img_id, f'segment {seg["id"]}')))
        return pred_ids.astype(np.int64, copy=False), segments

    def _predicted_instances(self, pred: dict, img_id,
                             with_masks: bool) -> dict:
        """Detections as mmdet's ``CocoMetric.results2json`` takes them,
        ``labels`` indexing the thing categories."""
        keys = ('bboxes', 'scores', 'labels') + (('masks', ) if with_masks else
                                                 ())
        for key in keys:
            if key not in pred:
                raise ValueError(f'image {img_id!r}: pred_instances has no '
                                 f'"{key}"')
        labels = _to_numpy(pred['labels']).astype(np.int64)
        thing_index = self.label_space.thing_index(labels, img_id)
        result = dict(
            img_id=img_id,
            bboxes=_to_numpy(pred['bboxes']).astype(np.float32),
            scores=_to_numpy(pred['scores']).astype(np.float32),
            labels=thing_index)
        if with_masks:
            result['masks'] = _encode_masks(_to_numpy(pred['masks']))
        return result

    def _semantic_areas(self, pred: dict, gt_slots: np.ndarray,
                        segments: List[dict], img_id) -> dict:
        """Pixel histograms of this image for both semantic label spaces.

        Returns:
            dict: ``all`` (4, C) and ``stuff_other`` (4, S + 1) int64 rows
            as :func:`semantic_areas` gives them, and ``has_thing_labels``.
        """
        if 'sem_seg' not in pred:
            raise ValueError(f'image {img_id!r}: pred_sem_seg has no '
                             '"sem_seg"')
        pred_labels = _to_numpy(pred['sem_seg'])
        if pred_labels.ndim == 3 and pred_labels.shape[0] == 1:
            pred_labels = pred_labels[0]
        if pred_labels.shape != gt_slots.shape:
            raise ValueError(
                f'image {img_id!r}: pred_sem_seg is {pred_labels.shape}, the '
                f'GT is {gt_slots.shape}; predict at the original size')
        labels = self.label_space
        slot_label = np.array(
            [SEM_IGNORE] +
            [labels.cat2label[s['category_id']] for s in segments], np.int64)
        return semantic_areas(pred_labels, slot_label[gt_slots],
                              labels.is_thing)

    def _gt_instances(self, gt_slots: np.ndarray, segments: List[dict],
                      img_id) -> dict:
        """The thing segments of the GT as COCO instances (crowd ones with
        ``iscrowd=1``): RLE masks, boxes and areas from the pixels."""
        height, width = gt_slots.shape
        slots = [
            k + 1 for k, s in enumerate(segments)
            if self.label_space.categories[s['category_id']]['isthing']
        ]
        rles = _encode_masks(gt_slots[None] == np.array(
            slots, np.int64).reshape(-1, 1, 1)) if slots else []
        anns = []
        for slot, rle in zip(slots, rles):
            seg = segments[slot - 1]
            anns.append(
                dict(
                    image_id=img_id,
                    category_id=seg['category_id'],
                    iscrowd=int(seg.get('iscrowd', 0)),
                    bbox=mask_util.toBbox(rle).tolist(),
                    area=float(mask_util.area(rle)),
                    segmentation=dict(
                        size=rle['size'], counts=rle['counts'].decode())))
        return dict(img_id=img_id, height=height, width=width, anns=anns)

    def _write_panoptic_png(self, sample: dict, img_id, pred_ids: np.ndarray,
                            segments: List[dict]) -> dict:
        """Write the image's submission PNG (to a temporary name, then renamed)
        and return its annotation."""
        if 'img_path' in sample:
            stem = osp.splitext(osp.basename(sample['img_path']))[0]
        else:
            stem = str(img_id)
        file_name = f'{stem}.png'
        folder = f'{self.outfile_prefix}.panoptic'
        os.makedirs(folder, exist_ok=True)
        ok, encoded = cv2.imencode('.png', id2rgb(pred_ids)[..., ::-1])
        if not ok:
            raise ValueError(f'image {img_id!r}: could not encode its PNG')
        _write_atomically(osp.join(folder, file_name), encoded.tobytes())
        ids, counts = np.unique(pred_ids, return_counts=True)
        area = dict(zip(ids.tolist(), counts.tolist()))
        return dict(
            image_id=img_id,
            file_name=file_name,
            segments_info=[
                dict(
                    id=s['id'],
                    category_id=s['category_id'],
                    iscrowd=0,
                    area=area.get(s['id'], 0)) for s in segments
            ])

    # ------------------------------------------------------------------
    # all images
    # ------------------------------------------------------------------

    def compute_metrics(self, results: list) -> Dict[str, float]:
        """Merge the per-image records of all ranks into the metrics.

        Args:
            results (list): The records of :meth:`process`, gathered.

        Returns:
            dict: ``coco_panoptic/*``, ``coco/*`` and ``sem_seg/*`` metrics
            (see the class docstring); empty with ``format_only``.
        """
        # a fixed order, whatever the ranks' split: float sums are exact
        results = _unique_by_image(results)
        if self.outfile_prefix is not None:
            self._write_submission(results)
        if self.format_only:
            print_log(
                f'submission written to {self.outfile_prefix}'
                '.panoptic.json and .panoptic/',
                logger='current')
            return {}

        metrics = OrderedDict()
        computable = []
        for metric in self.metrics:
            lacking = [
                r['lacks'][metric] for r in results if metric in r['lacks']
            ]
            if not results or lacking:
                print_log(
                    f'{metric} skipped: {len(lacking)} of '
                    f'{len(results)} predictions have no '
                    f'{lacking[0] if lacking else NEEDS[metric]}',
                    logger='current',
                    level=logging.WARNING)
            else:
                computable.append(metric)
        mismatched = sum(r.get('area_mismatches', 0) for r in results)
        if mismatched:
            print_log(
                f'{mismatched} GT segment(s) have a JSON "area" that '
                'differs from their pixel count; PQ uses pixel counts',
                logger='current',
                level=logging.WARNING)
        self._check_coverage(results)

        if 'pq' in computable:
            metrics.update(self._pq_metrics(results))
        ap_metrics = [m for m in computable if m in ('bbox', 'segm')]
        if ap_metrics:
            metrics.update(self._ap_results(results, ap_metrics))
        if 'miou' in computable:
            metrics.update(self._miou_metrics(results))
        return metrics

    def _check_coverage(self, results: List[dict]) -> None:
        if self._gt_by_image is None:
            return
        missing = len(self._gt_by_image) - len({r['img_id'] for r in results})
        if missing:
            print_log(
                f'{missing} image(s) of {self.ann_file} have no '
                'prediction and are left out of the metrics',
                logger='current',
                level=logging.WARNING)

    def _pq_metrics(self, results: List[dict]) -> dict:
        stat = PQStat()
        for record in results:
            stat += PQStat.from_dict(record['pq'])
        categories = self.label_space.categories
        summary = stat.summarize(categories, classwise=self.classwise)
        percent = percent_metrics(summary, categories)
        table = PrettyTable(['', 'PQ', 'SQ', 'RQ', 'categories'])
        for group, suffix in (('All', ''), ('Things', '_th'), ('Stuff',
                                                               '_st')):
            table.add_row(
                [group] +
                [f'{percent[k + suffix]:.3f}'
                 for k in ('PQ', 'SQ', 'RQ')] + [summary[group]['n']])
        print_log(
            'Panoptic Evaluation Results:\n' + table.get_string(),
            logger='current')
        if self.classwise:
            print_log(
                'Classwise Panoptic Evaluation Results:\n' +
                pq_classwise_table(stat, categories),
                logger='current')
        return {
            f'coco_panoptic/{key}': value
            for key, value in percent.items() if key != 'classwise'
        }

    def _ap_results(self, results: List[dict], ap_metrics: List[str]) -> dict:
        """Box / mask AP with pycocotools, through mmdet's ``CocoMetric``."""
        preds = [r['coco_pred'] for r in results]
        if 'segm' not in ap_metrics:
            # CocoMetric dumps masks (and expects them) when the first has
            preds = [{k: v
                      for k, v in p.items() if k != 'masks'} for p in preds]
        labels = self.label_space
        with tempfile.TemporaryDirectory() as tmp_dir:
            coco_metric = self._instances_metric
            if coco_metric is None:
                gt_file = osp.join(tmp_dir, 'gt.json')
                with open(gt_file, 'w') as f:
                    json.dump(
                        self._coco_gt([r['coco_gt'] for r in results]), f)
                coco_metric = CocoMetric(
                    ann_file=gt_file,
                    metric=ap_metrics,
                    classwise=self.classwise,
                    outfile_prefix=self.outfile_prefix,
                    backend_args=None)
            coco_metric.metrics = ap_metrics
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

    def _coco_gt(self, gt_records: List[dict]) -> dict:
        images, annotations = [], []
        for gt in gt_records:
            images.append(
                dict(id=gt['img_id'], height=gt['height'], width=gt['width']))
            for ann in gt['anns']:
                # pycocotools needs ids from 1
                annotations.append(dict(ann, id=len(annotations) + 1))
        labels = self.label_space
        categories = [
            dict(id=cat_id, name=name)
            for cat_id, name in zip(labels.thing_cat_ids, labels.thing_classes)
        ]
        return dict(
            images=images, annotations=annotations, categories=categories)

    def _miou_metrics(self, results: List[dict]) -> dict:
        labels = self.label_space
        all_classes = any(r['sem_seg']['has_thing_labels'] for r in results)
        space = 'all' if all_classes else 'stuff_other'
        names = (
            labels.classes if all_classes else labels.stuff_classes +
            ('things', ))
        totals = sum(r['sem_seg'][space] for r in results)
        per_class = IoUMetric.total_area_to_metrics(
            *[torch.from_numpy(row).double() for row in totals],
            metrics=['mIoU'])
        print_log(
            f'mIoU over {len(names)} classes: ' +
            ('all classes (the semantic head predicts thing labels)'
             if all_classes else
             'stuff + one "things" class (the semantic head predicts stuff '
             'and "other")'),
            logger='current')
        if self.classwise:
            table = PrettyTable()
            table.add_column('Class', list(names))
            table.add_column('IoU',
                             [f'{100 * v:.2f}' for v in per_class['IoU']])
            table.add_column('Acc',
                             [f'{100 * v:.2f}' for v in per_class['Acc']])
            print_log(
                'per class results:\n' + table.get_string(), logger='current')
        return {
            'sem_seg/aAcc': 100 * float(per_class['aAcc']),
            'sem_seg/mIoU': 100 * float(np.nanmean(per_class['IoU'])),
            'sem_seg/mAcc': 100 * float(np.nanmean(per_class['Acc'])),
        }

    def _write_submission(self, results: List[dict]) -> None:
        """``{outfile_prefix}.panoptic.json`` (renamed into place once
        complete, after every rank wrote its PNGs) and, with AP metrics,
        mmdet's ``.bbox.json`` / ``.segm.json`` (format_only only: an
        evaluation writes them itself)."""
        annotations = [
            r['panoptic_ann'] for r in results if 'panoptic_ann' in r
        ]
        if annotations:
            names = [a['file_name'] for a in annotations]
            if len(set(names)) != len(names):
                repeated = sorted({n for n in names if names.count(n) > 1})
                raise ValueError(f'images share the PNG names {repeated[:5]}'
                                 '; their image file names must differ')
            categories = (
                self._file_categories or self.label_space.category_list)
            content = dict(annotations=annotations, categories=categories)
            _write_atomically(f'{self.outfile_prefix}.panoptic.json',
                              json.dumps(content).encode())
        preds = [r['coco_pred'] for r in results if 'coco_pred' in r]
        if self.format_only and preds:
            coco_metric = CocoMetric()
            coco_metric.cat_ids = list(self.label_space.thing_cat_ids)
            coco_metric.results2json(preds, self.outfile_prefix)


def semantic_areas(pred_labels: np.ndarray, gt_labels: np.ndarray,
                   is_thing: np.ndarray) -> dict:
    """Semantic pixel histograms of one image in two label spaces.

    The rows are those of mmseg's ``IoUMetric.intersect_and_union``
    (intersection, union, prediction, GT), over the pixels whose GT is not
    ignored, and equal to it (see the tests); one ``np.bincount`` of
    (GT, prediction) pairs serves both spaces, where ``intersect_and_union``
    pays a boolean-mask gather and three ``histc`` passes per call.

    Args:
        pred_labels (np.ndarray): (H, W) predicted dataset labels; a value
            outside ``[0, C)`` (e.g. 255 for 'other') is no class.
        gt_labels (np.ndarray): (H, W) GT labels, negative for ignored.
        is_thing (np.ndarray): (C, ) bool, which labels are things.

    Returns:
        dict: ``all``: (4, C) int64 over the C classes; ``stuff_other``:
        (4, S + 1) over the S stuff classes (in label order) and one
        'things' class that takes every GT thing pixel and every predicted
        non-stuff value; ``has_thing_labels``: whether the prediction uses
        thing labels anywhere.
    """
    num_classes = len(is_thing)
    pred_labels = np.asarray(pred_labels).astype(np.int64, copy=False)
    gt_labels = np.asarray(gt_labels).astype(np.int64, copy=False)
    # row C: ignored GT; column C: predictions outside the classes
    pred_col = np.where((pred_labels >= 0) & (pred_labels < num_classes),
                        pred_labels, num_classes)
    gt_row = np.where(gt_labels >= 0, gt_labels, num_classes)
    size = num_classes + 1
    confusion = np.bincount(
        (gt_row * size + pred_col).ravel(),
        minlength=size * size).reshape(size, size)
    has_thing_labels = bool(confusion[:, :num_classes][:, is_thing].any())
    confusion = confusion[:num_classes]  # ignored GT pixels drop out

    def rows(square: np.ndarray, last_column: np.ndarray) -> np.ndarray:
        # square: GT x predicted class; last_column: GT x no class
        intersect = np.diag(square)
        pred_area = square.sum(axis=0)
        gt_area = square.sum(axis=1) + last_column
        return np.stack(
            [intersect, pred_area + gt_area - intersect, pred_area, gt_area])

    # stuff + 'things': merge every thing label (and 'no class') into one
    num_stuff = int((~is_thing).sum())
    reduced = np.full(size, num_stuff, np.int64)
    reduced[:num_classes][~is_thing] = np.arange(num_stuff)
    merge = np.zeros((size, num_stuff + 1), np.int64)
    merge[np.arange(size), reduced] = 1
    stuff_other = merge[:num_classes].T @ confusion @ merge
    return dict(
        all=rows(confusion[:, :num_classes], confusion[:, num_classes]),
        stuff_other=rows(stuff_other, np.zeros(num_stuff + 1, np.int64)),
        has_thing_labels=has_thing_labels)


def pq_classwise_table(stat: PQStat, categories: Dict[int, dict]) -> str:
    """A per-category table: PQ, SQ, RQ (percent) and TP, FP, FN.

    Args:
        stat (PQStat): The summed counts.
        categories (dict): ``{category_id: {'name', 'isthing'}}``.

    Returns:
        str: The table; ``-`` marks categories with no GT and no prediction,
        left out of the means.
    """
    summary = stat.summarize(categories, classwise=True)['classwise']
    table = PrettyTable(
        ['category', 'kind', 'PQ', 'SQ', 'RQ', 'TP', 'FP', 'FN'])
    for cat_id, cat in categories.items():
        counts = stat.per_cat.get(cat_id)
        counted = counts is not None and counts.tp + counts.fp + counts.fn
        row = summary[cat_id]
        table.add_row([cat['name'], 'thing' if cat['isthing'] else 'stuff'] + [
            f'{100 * row[k]:.3f}' if counted else '-'
            for k in ('pq', 'sq', 'rq')
        ] + ([counts.tp, counts.fp, counts.fn] if counts else [0, 0, 0]))
    return table.get_string()


class _LabelSpace:
    """The dataset's contiguous labels and their COCO categories.

    No order is assumed: thing labels are those named in ``thing_classes``, and
    ``label2cat`` (or the annotation file's names) gives the category ids.
    """

    def __init__(self, meta: dict, file_categories: Optional[List[dict]],
                 ann_file: Optional[str]):
        for key in ('classes', 'thing_classes'):
            if not meta.get(key):
                raise ValueError(f'dataset_meta needs "{key}"')
        self.classes = tuple(meta['classes'])
        things = set(meta['thing_classes'])
        if not things <= set(self.classes):
            raise ValueError(
                'dataset_meta "thing_classes" names classes not in '
                f'"classes": {sorted(things - set(self.classes))}')
        label2cat = meta.get('label2cat')
        if label2cat is None and file_categories is not None:
            id_of_name = {c['name']: c['id'] for c in file_categories}
            unknown = [n for n in self.classes if n not in id_of_name]
            if unknown:
                raise ValueError(f'classes {unknown} are not categories of '
                                 f'{ann_file}')
            label2cat = [id_of_name[n] for n in self.classes]
        if label2cat is None:
            label2cat = range(len(self.classes))  # ids are the labels
        self.label2cat = tuple(label2cat)
        if len(self.label2cat) != len(self.classes):
            raise ValueError(f'dataset_meta "label2cat" has '
                             f'{len(self.label2cat)} ids for '
                             f'{len(self.classes)} classes')
        self.cat2label = {c: i for i, c in enumerate(self.label2cat)}
        self.num_classes = len(self.classes)
        self.is_thing = np.array([n in things for n in self.classes])

        if file_categories is not None:
            by_id = {c['id']: c for c in file_categories}
            for name, cat_id, isthing in zip(self.classes, self.label2cat,
                                             self.is_thing):
                cat = by_id.get(cat_id)
                if cat is None or bool(cat['isthing']) != isthing:
                    raise ValueError(
                        f'class "{name}" (category {cat_id}, '
                        f'{"thing" if isthing else "stuff"}) does not match '
                        f'the categories of {ann_file}')
        self.categories = {
            cat_id: dict(id=cat_id, name=name, isthing=int(isthing))
            for name, cat_id, isthing in zip(self.classes, self.label2cat,
                                             self.is_thing)
        }
        self.category_list = list(self.categories.values())

        thing_labels = np.flatnonzero(self.is_thing)
        stuff_labels = np.flatnonzero(~self.is_thing)
        self.thing_classes = tuple(self.classes[i] for i in thing_labels)
        self.stuff_classes = tuple(self.classes[i] for i in stuff_labels)
        self.thing_cat_ids = tuple(self.label2cat[i] for i in thing_labels)
        self.num_stuff = len(stuff_labels)
        # label -> index among the things (-1 for stuff)
        self._thing_index = np.full(self.num_classes, -1, np.int64)
        self._thing_index[thing_labels] = np.arange(len(thing_labels))

    def category_id(self, label, img_id, what: str) -> int:
        label = int(label)
        if not 0 <= label < self.num_classes:
            raise ValueError(f'image {img_id!r}: {what} has label {label}, '
                             f'not one of the {self.num_classes} classes')
        return self.label2cat[label]

    def thing_index(self, labels: np.ndarray, img_id) -> np.ndarray:
        bad = (labels < 0) | (labels >= self.num_classes)
        bad[~bad] = self._thing_index[labels[~bad]] < 0
        if bad.any():
            raise ValueError(f'image {img_id!r}: pred_instances label '
                             f'{int(labels[bad][0])} is not a thing class')
        return self._thing_index[labels]

    def dataset_segment(self, seg: dict, img_id) -> dict:
        """A data sample's GT segment (label ``category`` or ``category_id``)
        as a COCO one."""
        if 'id' not in seg:
            raise ValueError(f'image {img_id!r}: GT segments_info entry '
                             f'without "id": {seg}')
        if 'category_id' in seg:
            cat_id = seg['category_id']
            if cat_id not in self.categories:
                raise ValueError(f'image {img_id!r}: GT segment {seg["id"]} '
                                 f'has unknown category_id {cat_id}')
        elif 'category' in seg:
            cat_id = self.category_id(seg['category'], img_id,
                                      f'GT segment {seg["id"]}')
        else:
            raise ValueError(f'image {img_id!r}: GT segment {seg["id"]} has '
                             'no "category_id" or "category"')
        return dict(
            id=seg['id'],
            category_id=cat_id,
            iscrowd=int(seg.get('iscrowd', 0)))


def _to_numpy(value) -> np.ndarray:
    if isinstance(value, torch.Tensor):
        return value.detach().cpu().numpy()
    return np.asarray(value)


def _encode_masks(masks: np.ndarray) -> List[dict]:
    """RLEs of (N, H, W) masks, in one pycocotools call (it wants (H, W, N)
    uint8 in Fortran order)."""
    if len(masks) == 0:
        return []
    if masks.dtype == bool:
        masks = masks.view(np.uint8)  # no copy
    # (N, W, H) in C order is (H, W, N) in Fortran order: one copy
    return mask_util.encode(
        np.ascontiguousarray(masks.transpose(0, 2, 1),
                             dtype=np.uint8).transpose(2, 1, 0))


def _unique_by_image(results: List[dict]) -> List[dict]:
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


def _write_atomically(path: str, data: bytes) -> None:
    """Write beside ``path`` and rename over it: no reader ever sees a half-
    written file under the final name."""
    folder = osp.dirname(osp.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp_path = tempfile.mkstemp(
        dir=folder, prefix=f'.{osp.basename(path)}.', suffix='.tmp')
    try:
        with os.fdopen(fd, 'wb') as f:
            f.write(data)
        os.chmod(tmp_path, 0o644)  # mkstemp's 0600 would hide it from others
        os.replace(tmp_path, path)
    except BaseException:
        if osp.exists(tmp_path):
            os.unlink(tmp_path)
        raise
