"""A panopticapi-equivalent reference evaluator, for tests and benchmarks.

panopticapi is not installed here, and is not imported. mmdet ships a copy of
panopticapi's per-image evaluation (``pq_compute_single_core`` in
``mmdet/evaluation/functional/panoptic_utils.py``, used by its
``CocoPanopticMetric``; only the image loading differs: mmcv / OpenCV
instead of PIL), which only lacks panopticapi's bookkeeping: the ``PQStat`` /
``PQStatCat`` accumulators, ``OFFSET``, ``VOID``, ``rgb2id`` and ``id2rgb``.
:func:`panopticapi_standin` provides them (reimplemented from panopticapi's
definitions) in a stand-in ``panopticapi`` package put in ``sys.modules`` and
in the names mmdet's two modules bound at import, for the ``with`` block
only. The stand-in is bookkeeping only: the matching code that runs is
mmdet's copy of panopticapi.
"""
import contextlib
import sys
import types
from collections import defaultdict
from typing import Dict, List, Tuple

import numpy as np

from mmpanfpn.evaluation.functional.pq import PQStat

# The stand-in's accumulators and colour conversions reproduce those of
# panopticapi (https://github.com/cocodataset/panopticapi,
# panopticapi/evaluation.py and utils.py), which mmdet's copy calls.
PANOPTICAPI_OFFSET = 256 * 256 * 256
PANOPTICAPI_VOID = 0


class StandinPQStatCat:
    """panopticapi's ``PQStatCat``."""

    def __init__(self):
        self.iou = 0.0
        self.tp = 0
        self.fp = 0
        self.fn = 0

    def __iadd__(self, pq_stat_cat):
        self.iou += pq_stat_cat.iou
        self.tp += pq_stat_cat.tp
        self.fp += pq_stat_cat.fp
        self.fn += pq_stat_cat.fn
        return self


class StandinPQStat:
    """panopticapi's ``PQStat``."""

    def __init__(self):
        self.pq_per_cat = defaultdict(StandinPQStatCat)

    def __getitem__(self, i):
        return self.pq_per_cat[i]

    def __iadd__(self, pq_stat):
        for label, pq_stat_cat in pq_stat.pq_per_cat.items():
            self.pq_per_cat[label] += pq_stat_cat
        return self

    def pq_average(self, categories, isthing):
        pq, sq, rq, n = 0, 0, 0, 0
        per_class_results = {}
        for label, label_info in categories.items():
            if isthing is not None:
                cat_isthing = label_info['isthing'] == 1
                if isthing != cat_isthing:
                    continue
            iou = self.pq_per_cat[label].iou
            tp = self.pq_per_cat[label].tp
            fp = self.pq_per_cat[label].fp
            fn = self.pq_per_cat[label].fn
            if tp + fp + fn == 0:
                per_class_results[label] = {'pq': 0.0, 'sq': 0.0, 'rq': 0.0}
                continue
            n += 1
            pq_class = iou / (tp + 0.5 * fp + 0.5 * fn)
            sq_class = iou / tp if tp != 0 else 0
            rq_class = tp / (tp + 0.5 * fp + 0.5 * fn)
            per_class_results[label] = {
                'pq': pq_class,
                'sq': sq_class,
                'rq': rq_class
            }
            pq += pq_class
            sq += sq_class
            rq += rq_class
        return {
            'pq': pq / n,
            'sq': sq / n,
            'rq': rq / n,
            'n': n
        }, per_class_results


def standin_rgb2id(color):
    """panopticapi's ``rgb2id``."""
    if isinstance(color, np.ndarray) and len(color.shape) == 3:
        if color.dtype == np.uint8:
            color = color.astype(np.int32)
        return (color[:, :, 0] + 256 * color[:, :, 1] +
                256 * 256 * color[:, :, 2])
    return int(color[0] + 256 * color[1] + 256 * 256 * color[2])


def standin_id2rgb(id_map):
    """panopticapi's ``id2rgb``."""
    if isinstance(id_map, np.ndarray):
        id_map_copy = id_map.copy()
        rgb_shape = tuple(list(id_map.shape) + [3])
        rgb_map = np.zeros(rgb_shape, dtype=np.uint8)
        for i in range(3):
            rgb_map[..., i] = id_map_copy % 256
            id_map_copy //= 256
        return rgb_map
    color = []
    for _ in range(3):
        color.append(id_map % 256)
        id_map //= 256
    return color


@contextlib.contextmanager
def panopticapi_standin():
    """Make mmdet's copy of panopticapi runnable, for the ``with`` block.

    Puts a stand-in ``panopticapi`` (``.evaluation``: ``PQStat``,
    ``PQStatCat``, ``OFFSET``, ``VOID``; ``.utils``: ``rgb2id``, ``id2rgb``) in
    ``sys.modules`` and binds those names in mmdet's
    ``evaluation.functional.panoptic_utils`` and
    ``evaluation.metrics.coco_panoptic_metric``, which tried to import them
    when they were first imported; everything is put back on exit.
    """
    package = types.ModuleType('panopticapi')
    package.__path__ = []  # a package, for ``import panopticapi.x``
    evaluation = types.ModuleType('panopticapi.evaluation')
    evaluation.PQStat = StandinPQStat
    evaluation.PQStatCat = StandinPQStatCat
    evaluation.OFFSET = PANOPTICAPI_OFFSET
    evaluation.VOID = PANOPTICAPI_VOID
    utils = types.ModuleType('panopticapi.utils')
    utils.rgb2id = standin_rgb2id
    utils.id2rgb = standin_id2rgb
    package.evaluation, package.utils = evaluation, utils
    modules = {
        'panopticapi': package,
        'panopticapi.evaluation': evaluation,
        'panopticapi.utils': utils
    }

    from mmdet.evaluation.functional import panoptic_utils
    from mmdet.evaluation.metrics import coco_panoptic_metric
    bindings = [
        (panoptic_utils, 'PQStat', StandinPQStat),
        (panoptic_utils, 'rgb2id', standin_rgb2id),
        (panoptic_utils, 'OFFSET', PANOPTICAPI_OFFSET),
        (panoptic_utils, 'VOID', PANOPTICAPI_VOID),
        (coco_panoptic_metric, 'panopticapi', package),
        (coco_panoptic_metric, 'PQStat', StandinPQStat),
        (coco_panoptic_metric, 'VOID', PANOPTICAPI_VOID),
        (coco_panoptic_metric, 'rgb2id', standin_rgb2id),
        (coco_panoptic_metric, 'id2rgb', standin_id2rgb),
    ]
    missing = object()
    saved_modules = {name: sys.modules.get(name, missing) for name in modules}
    saved_bindings = [(module, name, getattr(module, name, missing))
                      for module, name, _ in bindings]
    sys.modules.update(modules)
    for module, name, value in bindings:
        setattr(module, name, value)
    try:
        yield
    finally:
        for module, name, value in saved_bindings:
            if value is missing:
                delattr(module, name)
            else:
                setattr(module, name, value)
        for name, module in saved_modules.items():
            if module is missing:
                sys.modules.pop(name, None)
            else:
                sys.modules[name] = module


def standin_as_ours(stat: StandinPQStat) -> PQStat:
    return PQStat.from_dict({
        cat_id:
        dict(tp=int(s.tp), fp=int(s.fp), fn=int(s.fn), iou=float(s.iou))
        for cat_id, s in stat.pq_per_cat.items() if s.tp or s.fp or s.fn
    })


def reference_pq(pairs: List[Tuple[dict, dict]], gt_dir: str, pred_dir: str,
                 categories: Dict[int, dict]) -> PQStat:
    """mmdet's copy of panopticapi's ``pq_compute_single_core`` over
    ``(gt_annotation, pred_annotation)`` pairs, as our :class:`PQStat`."""
    from mmdet.evaluation.functional import pq_compute_single_core
    with panopticapi_standin():
        stat = pq_compute_single_core(0, pairs, gt_dir, pred_dir, categories)
    return standin_as_ours(stat)
