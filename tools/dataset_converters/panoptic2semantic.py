"""COCO-format panoptic annotations -> semantic label PNGs (mmseg style).

Each output PNG holds, per pixel, the contiguous label of its segment in the
dataset's label space (things first, then stuff, as CocoPanopticDataset
numbers them; crowd pixels keep their class) and 255 on void. A
``classes.json`` beside them lists the label names.

    python tools/dataset_converters/panoptic2semantic.py \
        --ann-file data/coco/annotations/panoptic_val2017.json \
        --seg-dir data/coco/annotations/panoptic_val2017 \
        --out-dir data/coco/annotations/semantic_val2017
"""
import argparse
import json
import os
import os.path as osp

import cv2
from mmengine.utils import ProgressBar

from mmpanfpn.datasets import CocoPanopticDataset, LoadPanopticAnnotations
from mmpanfpn.engine import atomic_write


def convert(ann_file: str, seg_dir: str, out_dir: str) -> int:
    """Write one label PNG per annotated image; return how many."""
    dataset = CocoPanopticDataset(
        ann_file=ann_file,
        data_prefix=dict(img='', seg=seg_dir),
        pipeline=[],
        test_mode=True)
    load = LoadPanopticAnnotations(
        with_bbox=False, with_label=False, with_mask=False, with_seg=True)
    os.makedirs(out_dir, exist_ok=True)
    progress = ProgressBar(len(dataset))
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        labels = load(info)['gt_seg_map']
        name = osp.basename(info['seg_map_path'])
        ok, encoded = cv2.imencode('.png', labels)
        if not ok:
            raise RuntimeError(f'{name}: PNG encoding failed')
        atomic_write(encoded.tobytes(), osp.join(out_dir, name))
        progress.update()
    meta = dataset.metainfo
    atomic_write(
        json.dumps(
            dict(
                classes=list(meta['classes']),
                thing_classes=list(meta['thing_classes']),
                stuff_classes=list(meta['stuff_classes']),
                label2cat=list(meta['label2cat']),
                ignore_index=255),
            indent=1), osp.join(out_dir, 'classes.json'))
    return len(dataset)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--ann-file', required=True)
    parser.add_argument(
        '--seg-dir', required=True, help='folder of the panoptic PNGs')
    parser.add_argument('--out-dir', required=True)
    args = parser.parse_args()
    try:
        count = convert(args.ann_file, args.seg_dir, args.out_dir)
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')
    print(f'\n{count} label maps written to {args.out_dir}')


if __name__ == '__main__':
    main()
