"""COCO detection evaluation engines behind pycocotools' ``COCOeval`` API.

``'pycocotools'`` is the reference. ``'fast'`` runs the same protocol in
hotcoco's Rust engine: the 12 summary values and the precision / recall arrays
equal pycocotools' bit for bit on the generated cases of
``tests/test_coco_eval.py`` (crowd GT, images without GT or detections, more
than 100 detections per image, score ties), about 20-50x faster
(``benchmarks/bench_eval_engines.py``). Both take the pycocotools ``COCO``
objects that mmdet's ``CocoMetric`` builds.
"""
import warnings
from typing import Type

import numpy as np

COCO_EVAL_ENGINES = ('fast', 'pycocotools')


class HotcocoEval:
    """pycocotools' ``COCOeval`` interface on hotcoco's engine.

    The attributes mmdet's ``CocoMetric`` uses are pycocotools': ``params``
    (``catIds``, ``imgIds``, ``maxDets``, ``iouThrs``, ``useCats``, set
    before :meth:`evaluate`), ``stats`` (12 values after :meth:`summarize`)
    and ``eval['precision']`` ((T, R, K, A, M) after :meth:`accumulate`).

    Args:
        cocoGt: A pycocotools ``COCO`` of the ground truth.
        cocoDt: The pycocotools ``COCO`` that ``cocoGt.loadRes`` made of the
            detections.
        iouType (str): ``'bbox'`` or ``'segm'``. Defaults to ``'segm'``, as
            pycocotools.
    """

    def __init__(self, cocoGt, cocoDt, iouType: str = 'segm') -> None:
        import hotcoco

        self.cocoGt, self.cocoDt = cocoGt, cocoDt
        gt = cocoGt.dataset
        # loadRes filled in every field the protocol reads (id, area,
        # iscrowd, bbox, segmentation); the images and categories are the GT's
        self._engine = hotcoco.COCOeval(
            hotcoco.COCO(dict(gt, annotations=_text_rles(gt['annotations']))),
            hotcoco.COCO(
                dict(
                    images=gt.get('images', []),
                    categories=gt.get('categories', []),
                    annotations=_text_rles(
                        cocoDt.dataset.get('annotations', [])))), iouType)

    @property
    def params(self):
        return self._engine.params

    @property
    def stats(self) -> np.ndarray:
        return self._engine.stats

    @property
    def eval(self) -> dict:
        return self._engine.eval

    def evaluate(self) -> None:
        self._engine.evaluate()

    def accumulate(self) -> None:
        self._engine.accumulate()

    def summarize(self) -> None:
        with warnings.catch_warnings():
            # hotcoco warns when maxDets is not [1, 10, 100]; pycocotools
            # summarises any three maxDets (mmdet's CocoMetric sets
            # [100, 300, 1000]) and so does hotcoco, with the same numbers
            warnings.filterwarnings('ignore', message='hotcoco: max_dets')
            self._engine.summarize()


def _text_rles(annotations: list) -> list:
    """The annotations with RLE counts as text, as in JSON files: pycocotools'
    evaluation turns the segmentations of the COCO objects it reads into RLEs
    with bytes counts, which hotcoco does not take."""
    fixed = []
    for ann in annotations:
        seg = ann.get('segmentation')
        if isinstance(seg, dict) and isinstance(seg.get('counts'), bytes):
            ann = dict(
                ann, segmentation=dict(seg, counts=seg['counts'].decode()))
        fixed.append(ann)
    return fixed


def coco_eval_class(engine: str = 'fast') -> Type:
    """The ``COCOeval`` class of an engine.

    Args:
        engine (str): ``'fast'`` (hotcoco's engine, :class:`HotcocoEval`)
            or ``'pycocotools'`` (the reference). Defaults to ``'fast'``.

    Returns:
        type: Called as ``COCOeval(coco_gt, coco_dt, iou_type)``.
    """
    if engine == 'fast':
        return HotcocoEval
    if engine == 'pycocotools':
        # imported here: the offline PQ evaluator imports this package
        # without pycocotools
        from pycocotools.cocoeval import COCOeval
        return COCOeval
    raise ValueError(f'coco_eval_engine must be one of {COCO_EVAL_ENGINES}, '
                     f'got {engine!r}')
