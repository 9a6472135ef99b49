"""What ``demo/image_demo.py`` does: run a model from :func:`init_model` on
images and write, per image,

- panoptic models: ``<stem>_panoptic.jpg`` (a colour per segment, thing
  outlines, class legend), ``<stem>.png`` (the COCO-format panoptic PNG) and,
  for all images, ``panoptic.json`` (segments with the dataset's category ids
  when the model knows them, else the contiguous labels);
- segmentors: ``<stem>_semantic.jpg`` (a colour per class, legend) and
  ``<stem>.png`` (one uint8 label per pixel, mmseg's format).
"""
import json
import os
import os.path as osp
from typing import Iterator, Sequence

import mmcv
import numpy as np
import torch.nn as nn

from mmpanfpn.datasets import id2rgb
from mmpanfpn.engine import atomic_write
from mmpanfpn.registry import VISUALIZERS
from .inference import inference_model


def _segment_record(segment: dict, meta: dict) -> dict:
    label = segment['category']
    label2cat = meta.get('label2cat') or range(len(meta['classes']))
    score = segment.get('score')
    return dict(
        id=int(segment['id']),
        category_id=int(label2cat[label]),
        category=meta['classes'][label],
        isthing=int(bool(segment.get('isthing', segment.get('is_thing')))),
        score=None if score is None else float(score),
        area=int(segment['area']))


def run_image_demo(model: nn.Module, paths: Sequence[str],
                   out_dir: str) -> Iterator[str]:
    """Run ``model`` on each image and write its files (module docstring).

    Args:
        model (nn.Module): From :func:`mmpanfpn.apis.init_model`, with
            ``dataset_meta``.
        paths (Sequence[str]): Image files.
        out_dir (str): Output folder (created).

    Yields:
        str: one line per image done, ``'<path>: N segments'`` (panoptic)
        or ``'<path>: N classes'`` (semantic).

    Raises:
        SystemExit: an image cannot be read (the message names it).
    """
    meta = model.dataset_meta
    visualizer = VISUALIZERS.build(
        dict(type='mmpanfpn.PanopticLocalVisualizer', name='image_demo'))
    visualizer.dataset_meta = meta
    os.makedirs(out_dir, exist_ok=True)
    annotations = []
    for path in paths:
        image = mmcv.imread(path)
        if image is None:
            raise SystemExit(f'{path}: not a readable image')
        result = inference_model(model, image)
        stem = osp.splitext(osp.basename(path))[0]
        if 'pred_panoptic_seg' in result:
            pan = result.pred_panoptic_seg
            id_map = pan.sem_seg[0].cpu().numpy()
            segments = pan.metainfo.get('segments_info', [])
            drawn = visualizer.draw_panoptic(
                mmcv.bgr2rgb(image), id_map, segments)
            mmcv.imwrite(drawn[..., ::-1],
                         osp.join(out_dir, f'{stem}_panoptic.jpg'))
            mmcv.imwrite(
                id2rgb(id_map)[..., ::-1], osp.join(out_dir, f'{stem}.png'))
            annotations.append(
                dict(
                    file_name=f'{stem}.png',
                    image=osp.basename(path),
                    segments_info=[_segment_record(s, meta)
                                   for s in segments]))
            yield f'{path}: {len(segments)} segments'
        else:
            labels = result.pred_sem_seg.data[0].cpu().numpy()
            drawn = visualizer.draw_semantic(mmcv.bgr2rgb(image), labels)
            mmcv.imwrite(drawn[..., ::-1],
                         osp.join(out_dir, f'{stem}_semantic.jpg'))
            mmcv.imwrite(
                labels.astype('uint8'), osp.join(out_dir, f'{stem}.png'))
            yield f'{path}: {len(np.unique(labels))} classes'
    if annotations:
        atomic_write(
            json.dumps(dict(annotations=annotations), indent=1),
            osp.join(out_dir, 'panoptic.json'))
