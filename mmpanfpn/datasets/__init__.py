"""COCO-format panoptic data: the file formats (``panoptic_format``,
``coco_panoptic_json``: numpy and OpenCV only, so that
``tools/eval_panoptic.py`` runs without torch), the dataset and its loading
transform (which need mmdet, and are therefore imported on first use)."""
from .coco_panoptic_json import read_panoptic_json
from .panoptic_format import id2rgb, read_panoptic_png, rgb2id

__all__ = [
    'CocoPanopticDataset', 'build_label_space', 'LoadPanopticAnnotations',
    'id2rgb', 'read_panoptic_json', 'read_panoptic_png', 'rgb2id'
]


def __getattr__(name: str):
    if name in ('CocoPanopticDataset', 'build_label_space'):
        from . import coco_panoptic
        return getattr(coco_panoptic, name)
    if name == 'LoadPanopticAnnotations':
        from .transforms import LoadPanopticAnnotations
        return LoadPanopticAnnotations
    raise AttributeError(f'module {__name__!r} has no attribute {name!r}')
