"""Pure functions of the panoptic metrics (numpy, plus pycocotools for the
COCO-instance conversion; hotcoco for the fast engines): no torch, no
registry."""
from .coco_eval import COCO_EVAL_ENGINES, HotcocoEval, coco_eval_class
from .label_space import LabelSpace
from .panoptic_files import (PanopticEvalResult, default_nproc,
                             evaluate_panoptic_files)
from .pq import (PQStat, PQStatCat, SegmentsError, SinglePQ, area_mismatches,
                 percent_metrics, pq_single)
from .semantic import SEMANTIC_LABEL_SPACES, semantic_areas
from .tables import (format_table, iou_classwise_table, pq_classwise_table,
                     pq_summary_table)

__all__ = [
    'COCO_EVAL_ENGINES', 'HotcocoEval', 'coco_eval_class', 'LabelSpace',
    'PanopticEvalResult', 'default_nproc', 'evaluate_panoptic_files', 'PQStat',
    'PQStatCat', 'SegmentsError', 'SinglePQ', 'area_mismatches',
    'percent_metrics', 'pq_single', 'SEMANTIC_LABEL_SPACES', 'semantic_areas',
    'format_table', 'iou_classwise_table', 'pq_classwise_table',
    'pq_summary_table'
]
