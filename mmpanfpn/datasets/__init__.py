from .coco_panoptic import CocoPanopticDataset, build_label_space
from .panoptic_format import id2rgb, read_panoptic_png, rgb2id
from .transforms import LoadPanopticAnnotations

__all__ = [
    'CocoPanopticDataset', 'build_label_space', 'LoadPanopticAnnotations',
    'id2rgb', 'read_panoptic_png', 'rgb2id'
]
