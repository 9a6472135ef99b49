from .panoptic_metric import CocoPanopticMetric, pq_classwise_table
from .pq import PQStat, evaluate_panoptic_files, percent_metrics, pq_single

__all__ = [
    'CocoPanopticMetric', 'PQStat', 'evaluate_panoptic_files',
    'percent_metrics', 'pq_classwise_table', 'pq_single'
]
