"""Panoptic pictures: colours per segment, thing outlines, GT | prediction,
small images enlarged."""
import os
import os.path as osp
import subprocess
import sys

import mmcv
import numpy as np
import torch
from mmdet.structures import DetDataSample
from mmengine.structures import PixelData

from mmpanfpn.testing import checkout_env
from mmpanfpn.visualization import (PanopticLocalVisualizer, panoptic_colors,
                                    semantic_segments, thing_outlines,
                                    upscale_for_display)

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))

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
    # prediction only (no GT meta given), enlarged: 4 -> 512 pixels wide is
    # a factor of 128, so 3 rows -> 384
    assert drawn.shape == (384, 512, 3)
    assert out.exists()
    # segment 8 (stuff, class colour (0, 0, 200) at alpha 0.6 over grey 100)
    # fills the top-right 2x2 block, i.e. rows 0-255 x columns 256-511
    blended = np.array([40, 40, 160])  # 100 * 0.4 + (0, 0, 200) * 0.6
    assert (np.abs(drawn[200, 300].astype(int) - blended) <= 1).all()


def test_small_images_are_enlarged_labels_by_nearest_neighbour():
    image = np.arange(18, dtype=np.uint8).reshape(2, 3, 3)
    labels = np.array([[1, 2, 3], [4, 5, 6]])
    big_image, big_labels = upscale_for_display(image, labels, 6)
    # long side 3 -> 6: every label becomes a 2x2 block
    assert big_labels.tolist() == [[1, 1, 2, 2, 3, 3], [1, 1, 2, 2, 3, 3],
                                   [4, 4, 5, 5, 6, 6], [4, 4, 5, 5, 6, 6]]
    assert big_image.shape == (4, 6, 3) and big_image.dtype == np.uint8
    # already large enough, or 0: unchanged
    same_image, same_labels = upscale_for_display(image, labels, 3)
    assert same_image is image and same_labels is labels
    assert upscale_for_display(image, labels, 0)[1] is labels


def test_labels_past_the_palette_and_names_are_drawn():
    """A segment whose class has no colour or name in the meta gets a generated
    colour and its number in the legend (no IndexError)."""
    vis = PanopticLocalVisualizer(name='test-vis-short-meta')
    vis.dataset_meta = dict(classes=('car', ), palette=[(200, 0, 0)])
    ids = np.array([[3, 8], [8, 8]])
    segments = [
        dict(id=3, category=0, isthing=True),
        dict(id=8, category=5, isthing=False)
    ]
    drawn = vis.draw_panoptic(np.zeros((2, 2, 3), np.uint8), ids, segments)
    assert drawn.shape == (512, 512, 3)


def test_semantic_labels_as_segments():
    labels = np.array([[0, 0, 255], [2, 2, 0]])
    id_map, segments = semantic_segments(labels)
    assert id_map.tolist() == [[1, 1, 0], [3, 3, 1]]  # label + 1, void 0
    assert segments == [
        dict(id=1, category=0, isthing=False),
        dict(id=3, category=2, isthing=False)
    ]


def test_browse_dataset_enlarges_small_images(synthetic_root, tmp_path):
    """``tools/browse_dataset.py`` on the 64x64 test set writes 512x512
    pictures, and starts without third-party deprecation notices."""
    config = osp.join(ROOT, 'configs', 'panoptic_fpn',
                      'panoptic-fpn_tiny_synthetic.py')
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'browse_dataset.py'), config, '--out-dir',
        str(tmp_path), '--max-images', '2', '--cfg-options',
        f'train_dataloader.dataset.data_root={synthetic_root}'
    ],
                          capture_output=True,
                          text=True,
                          env=checkout_env())
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert 'pkg_resources' not in proc.stderr
    names = sorted(os.listdir(tmp_path))
    assert len(names) == 2
    for name in names:
        assert mmcv.imread(str(tmp_path / name)).shape == (512, 512, 3)
