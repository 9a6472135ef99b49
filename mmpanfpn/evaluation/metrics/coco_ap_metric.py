"""mmdet's ``CocoMetric`` with a choice of ``COCOeval`` engine."""
from typing import Dict
from unittest import mock

from mmdet.evaluation.metrics import CocoMetric
from mmdet.evaluation.metrics import coco_metric as mmdet_coco_metric

from ..functional.coco_eval import coco_eval_class


class CocoMetricWithEngine(CocoMetric):
    """mmdet's ``CocoMetric``, its ``COCOeval`` from a named engine.

    Everything else (the COCO api, the results files, the metric names,
    rounding and the class-wise table) is mmdet's.

    Args:
        coco_eval_engine (str): ``'fast'`` (hotcoco's engine: the same
            numbers as pycocotools, 20-50x faster) or ``'pycocotools'``.
            Defaults to ``'fast'``.
        **kwargs: mmdet's ``CocoMetric`` arguments.
    """

    def __init__(self, coco_eval_engine: str = 'fast', **kwargs) -> None:
        super().__init__(**kwargs)
        self.coco_eval_engine = coco_eval_engine
        self.coco_eval_class = coco_eval_class(coco_eval_engine)

    def compute_metrics(self, results: list) -> Dict[str, float]:
        # CocoMetric takes no COCOeval class: it calls the COCOeval of its
        # module at evaluation time. The engine's class stands in there for
        # this call only (the evaluation runs in one thread)
        with mock.patch.object(mmdet_coco_metric, 'COCOeval',
                               self.coco_eval_class):
            return super().compute_metrics(results)
