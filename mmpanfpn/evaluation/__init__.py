"""Panoptic evaluation, laid out as mmdet's: ``functional/`` (PQ, semantic
areas, COCO instances, tables: numpy only, so that ``tools/eval_panoptic.py``
runs without torch) and ``metrics/`` (``CocoPanopticMetric``, which needs
torch, mmdet and mmseg, and is therefore imported on first use)."""
from .functional import (PQStat, evaluate_panoptic_files, percent_metrics,
                         pq_classwise_table, pq_single)

__all__ = [
    'CocoPanopticMetric', 'PQStat', 'evaluate_panoptic_files',
    'percent_metrics', 'pq_classwise_table', 'pq_single'
]


def __getattr__(name: str):
    if name == 'CocoPanopticMetric':
        from .metrics import CocoPanopticMetric
        return CocoPanopticMetric
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
