"""One evaluator for Panoptic FPN's three outputs: PQ, box/mask AP and mIoU.

In one test pass, per image, :meth:`CocoPanopticMetric.process` reads the
ground-truth (GT) panoptic PNG once and derives from that read everything the
three metrics need: the PQ counts
(:func:`~mmpanfpn.evaluation.functional.pq.pq_single`), the GT label map for
mIoU and, without an instances file, the GT instances for AP. Predictions are
evaluated in memory, never written to PNG and read back. Each image leaves a
small picklable record, so that ranks gather little and
:meth:`~CocoPanopticMetric.compute_metrics` only sums (in ``img_id`` order,
so that a distributed result equals the single-process one exactly):

- ``pq``: a :meth:`PQStat.to_dict` of the image;
- ``sem_seg``: intersection / union / prediction / GT pixel histograms in the
  configured label space (``miou_label_space``);
- ``coco_pred`` / ``coco_gt``: detections and GT instances as RLE, for
  mmdet's ``CocoMetric`` with a ``COCOeval`` engine (hotcoco's by default,
  pycocotools' by choice: the same numbers).
"""
import logging
from collections import OrderedDict
from typing import Dict, List, Optional, Sequence, Union

import numpy as np
from mmengine.evaluator import BaseMetric
from mmengine.fileio import get_local_path
from mmengine.logging import print_log
from mmengine.structures import BaseDataElement

from mmpanfpn.datasets.coco_panoptic_json import check_panoptic_json, load_json
from mmpanfpn.registry import METRICS
from ..functional.coco_eval import coco_eval_class
from ..functional.coco_instances import panoptic_gt_instances
from ..functional.label_space import LabelSpace
from ..functional.pq import SegmentsError, pq_single
from ..functional.semantic import SEMANTIC_LABEL_SPACES, semantic_areas
from .coco_ap_metric import CocoMetricWithEngine
from .panoptic_inputs import (ImageGT, predicted_instances, predicted_panoptic,
                              predicted_semantic, read_ground_truth,
                              write_panoptic_png)
from .panoptic_results import (ap_metrics, miou_metrics, pq_metrics,
                               unique_by_image, write_submission)

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


@METRICS.register_module()
class CocoPanopticMetric(BaseMetric):
    """PQ, box and mask AP, and semantic mIoU of a COCO-format panoptic set.

    Keys, named as mmdet and mmseg name them (a given ``prefix`` is put in
    front, ``{prefix}/coco_panoptic/PQ``):

    - ``coco_panoptic/PQ, SQ, RQ, PQ_th, ..., RQ_st``: percent, from
      :mod:`mmpanfpn.evaluation.functional.pq` (the COCO panoptic
      definition);
    - ``coco/bbox_mAP, bbox_mAP_50, ..., segm_mAP_l``: fractions in
      ``[0, 1]`` rounded to 3 digits, as mmdet's ``CocoMetric`` (which
      computes them) reports them, over the thing categories;
    - ``sem_seg/mIoU, mAcc, aAcc``: percent, with mmseg's ``IoUMetric``
      formulas, in the label space ``miou_label_space`` names. GT void
      pixels are ignored.

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
        coco_eval_engine (str): The ``COCOeval`` of the AP: ``'fast'``
            (hotcoco's engine; the same AP / AR as pycocotools, many times
            faster) or ``'pycocotools'`` (the reference). Defaults to
            ``'fast'``.
        miou_label_space (str): The classes of mIoU, as the semantic head
            predicts them: ``'stuff_other'``, the stuff classes plus one
            'things' class that holds every GT thing pixel and every
            predicted value that is not a stuff label (e.g. 255, 'other'),
            as detectron2 scores Panoptic FPN's semantic branch; or
            ``'all'``, all classes (a head with ``all_classes=True``).
            Defaults to 'stuff_other'.
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
                 coco_eval_engine: str = 'fast',
                 miou_label_space: str = 'stuff_other',
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
        if miou_label_space not in SEMANTIC_LABEL_SPACES:
            raise ValueError(f'miou_label_space must be one of '
                             f'{SEMANTIC_LABEL_SPACES}, got '
                             f'{miou_label_space!r}')
        if format_only and outfile_prefix is None:
            raise ValueError('format_only=True needs an outfile_prefix to '
                             'write the submission to')
        self.ann_file = ann_file
        self.seg_prefix = seg_prefix
        self.classwise = classwise
        self.format_only = format_only
        self.outfile_prefix = outfile_prefix
        self.miou_label_space = miou_label_space
        self.backend_args = backend_args
        coco_eval_class(coco_eval_engine)  # an unknown name fails here
        self.coco_eval_engine = coco_eval_engine

        self._file_categories: Optional[Dict[int, dict]] = None
        self._gt_by_image: Optional[Dict[object, dict]] = None
        if ann_file is not None:
            self._load_panoptic_gt(ann_file)
        self._instances_metric = None
        if instances_ann_file is not None and not format_only and {
                'bbox', 'segm'
        } & set(self.metrics):
            # loads the instances JSON once, reused at every evaluation
            self._instances_metric = CocoMetricWithEngine(
                coco_eval_engine=coco_eval_engine,
                ann_file=instances_ann_file,
                metric=self._ap_metrics(),
                classwise=classwise,
                outfile_prefix=outfile_prefix,
                backend_args=backend_args)
        self._labels: Optional[LabelSpace] = None

    # ------------------------------------------------------------------
    # set-up
    # ------------------------------------------------------------------

    def _load_panoptic_gt(self, ann_file: str) -> None:
        with get_local_path(ann_file, backend_args=self.backend_args) as path:
            content = load_json(path, 'ground-truth panoptic JSON')
        # an image-info file (test-dev) has no annotations: enough for
        # format_only
        gt = check_panoptic_json(content, ann_file, required=('categories', ))
        self._file_categories = gt.categories
        self._gt_by_image = gt.annotations

    def _ap_metrics(self) -> List[str]:
        return [m for m in self.metrics if m in ('bbox', 'segm')]

    @property
    def label_space(self) -> LabelSpace:
        """The dataset's label space, read on first use from
        ``dataset_meta``."""
        if self._labels is None:
            if self.dataset_meta is None:
                raise ValueError(
                    'CocoPanopticMetric needs dataset_meta (classes, '
                    'thing_classes, label2cat); the Evaluator sets it from '
                    'the dataset')
            self._labels = LabelSpace(self.dataset_meta, self._file_categories,
                                      self.ann_file)
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
        """The record of one image: one step per metric asked for."""
        if 'img_id' not in sample:
            raise ValueError('data sample has no "img_id"; keep it in '
                             'PackDetInputs(meta_keys=...)')
        img_id = sample['img_id']
        labels = self.label_space
        record = {'img_id': img_id, 'lacks': self._lacking(sample)}
        want = set(self.metrics) - set(record['lacks'])

        panoptic = None
        if 'pq' in want or (self.outfile_prefix is not None
                            and 'pred_panoptic_seg' in sample):
            panoptic = predicted_panoptic(sample['pred_panoptic_seg'], labels,
                                          img_id)
            if self.outfile_prefix is not None:
                folder = f'{self.outfile_prefix}.panoptic'
                record['panoptic_ann'] = write_panoptic_png(
                    folder, sample, img_id, *panoptic)
        if want & {'bbox', 'segm'}:
            record['coco_pred'] = predicted_instances(
                sample['pred_instances'],
                labels,
                img_id,
                with_masks='segm' in want)
        derive_instances = bool(want & {'bbox', 'segm'}) and \
            self._instances_metric is None
        if self.format_only or not (want & {'pq', 'miou'} or derive_instances):
            return record

        gt = self._ground_truth(sample, img_id)  # the only read of the GT
        if 'pq' in want:
            record['pq'] = self._pq_counts(gt, *panoptic)
        if 'miou' in want or derive_instances:
            gt.slots()  # checks the PNG against segments_info
        record['area_mismatches'] = gt.check_areas()
        if 'miou' in want:
            record['sem_seg'] = self._semantic_areas(sample['pred_sem_seg'],
                                                     gt)
        if 'segm' in want:
            self._check_mask_size(record['coco_pred'], gt)
        if derive_instances:
            record['coco_gt'] = panoptic_gt_instances(*gt.slots(),
                                                      labels.categories,
                                                      img_id)
        return record

    def _ground_truth(self, sample: dict, img_id) -> ImageGT:
        ann = None
        if self._gt_by_image is not None:
            ann = self._gt_by_image.get(img_id)
            if ann is None:
                raise ValueError(f'image {img_id!r} is not annotated in '
                                 f'{self.ann_file}')
        return read_ground_truth(sample, img_id, ann, self.seg_prefix,
                                 self.label_space, self.backend_args)

    def _pq_counts(self, gt: ImageGT, pred_ids: np.ndarray,
                   pred_segments: List[dict]) -> dict:
        """PQ: the image's TP / FP / FN / IoU per category."""
        try:
            stat, gt.areas, _ = pq_single(gt.ids, gt.segments, pred_ids,
                                          pred_segments,
                                          self.label_space.categories)
        except SegmentsError as err:
            where = gt.path if err.side == 'gt' else 'prediction'
            raise ValueError(f'image {gt.img_id!r} ({where}): {err}') from None
        return stat.to_dict()

    def _semantic_areas(self, pred: dict, gt: ImageGT) -> np.ndarray:
        """mIoU: the image's (4, K) pixel histograms."""
        labels = self.label_space
        slots, segments = gt.slots()
        slot_label = np.array(
            [SEM_IGNORE] +
            [labels.cat2label[s['category_id']] for s in segments], np.int64)
        return semantic_areas(
            predicted_semantic(pred, gt), slot_label[slots], labels.isthing,
            self.miou_label_space)

    @staticmethod
    def _check_mask_size(coco_pred: dict, gt: ImageGT) -> None:
        if coco_pred['masks']:
            mask_shape = tuple(coco_pred['masks'][0]['size'])
            if mask_shape != gt.ids.shape:
                raise ValueError(
                    f'image {gt.img_id!r}: pred_instances masks are '
                    f'{mask_shape}, the GT is {gt.ids.shape}; predict at '
                    'the original size')

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
        results = unique_by_image(results)
        if self.outfile_prefix is not None:
            categories = (
                list(self._file_categories.values())
                if self._file_categories else self.label_space.category_list)
            write_submission(results, self.outfile_prefix, categories,
                             self.label_space.thing_cat_ids, self.format_only)
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

        labels = self.label_space
        if 'pq' in computable:
            metrics.update(pq_metrics(results, labels, self.classwise))
        ap_names = [m for m in computable if m in ('bbox', 'segm')]
        if ap_names:
            metrics.update(
                ap_metrics(results, ap_names, labels, self._instances_metric,
                           self.classwise, self.outfile_prefix,
                           self.coco_eval_engine))
        if 'miou' in computable:
            metrics.update(
                miou_metrics(results, labels, self.miou_label_space,
                             self.classwise))
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
