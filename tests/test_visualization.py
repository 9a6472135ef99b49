"""Panoptic pictures: colours per segment, thing outlines, GT | prediction."""
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData

from mmpanfpn.visualization import (PanopticLocalVisualizer, panoptic_colors,
                                    thing_outlines)

SEGMENTS = [
    dict(id=3, category=0, isthing=True),
    dict(id=8, category=1, isthing=False)
]
PALETTE = [(200, 0, 0), (0, 0, 200)]


def test_colors_and_outlines_by_hand():
    ids = np.array([[3, 3, 8, 8], [3, 3, 8, 0], [8, 8, 8, 0]])
    colors = panoptic_colors(ids, SEGMENTS, PALETTE)
    assert (colors[ids == 0] == 0).all()  # void stays black
    assert (colors[ids == 8] == (0, 0, 200)).all()  # stuff: class colour
    thing = colors[ids == 3]
    assert (thing == thing[0]).all() and thing[0][0] > thing[0][2]
    outline = thing_outlines(ids, SEGMENTS)
    # the 2x2 thing touches other segments on its right and bottom edges
    assert outline.tolist() == [[False, True, False, False],
                                [True, True, False, False],
                                [False, False, False, False]]


def test_add_datasample_side_by_side(tmp_path):
    vis = PanopticLocalVisualizer(name='test-vis', save_dir=str(tmp_path))
    vis.dataset_meta = dict(classes=('car', 'road'), palette=PALETTE)
    image = np.full((3, 4, 3), 100, np.uint8)
    sample = DetDataSample()
    ids = torch.tensor([[[3, 3, 8, 8], [3, 3, 8, 0], [8, 8, 8, 0]]])
    sample.pred_panoptic_seg = PixelData(
        sem_seg=ids, metainfo=dict(segments_info=SEGMENTS))
    out = tmp_path / 'pic.png'
    vis.add_datasample('x', image, sample, out_file=str(out))
    drawn = vis.get_image()
    assert drawn.shape == (3, 4, 3)  # prediction only: no GT meta given
    assert out.exists()
