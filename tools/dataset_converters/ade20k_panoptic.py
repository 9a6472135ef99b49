"""ADE20K (SceneParsing, 150 classes) -> COCO panoptic format.

Input, as released by the SceneParsing benchmark::

    ADEChallengeData2016/images/{training,validation}/*.jpg
    ADEChallengeData2016/annotations/{training,validation}/*.png
        semantic labels: 0 = void, k = k-th of the 150 classes
    ADEChallengeData2016/annotations_instance/{training,validation}/*.png
        R = thing class (1-based, in the order of mmdet's ADE20K
        thing_classes), G = instance id (0 = none)

Output, loadable by ``configs/_base_/datasets/ade20k_panoptic.py``::

    ade20k_panoptic_{train,val}.json + ade20k_panoptic_{train,val}/*.png

Category ids are the 0-based indices of the 150 classes; ``isthing`` marks
the 100 classes with instances. Stuff segments come from the semantic map,
thing segments from the instance map. Class names and the thing/stuff split
are mmdet's (``ADE20KPanopticDataset``), read from the installed mmdet.

    python tools/dataset_converters/ade20k_panoptic.py \
        data/ADEChallengeData2016 [--splits train val]
"""
import argparse
import ast
import json
import os
import os.path as osp
from typing import List, Tuple

import cv2
import numpy as np
from mmengine.utils import ProgressBar

from mmpanfpn.datasets import id2rgb
from mmpanfpn.engine import atomic_write

SPLIT_FOLDERS = dict(train='training', val='validation')


def ade20k_categories() -> List[dict]:
    """The 150 classes in ADE20K's label order, with mmdet's thing split."""
    import mmdet
    from mmdet.datasets.ade20k import ADE20KPanopticDataset

    # mmdet keeps the label-order names only in its converter script, which
    # imports panopticapi; read the literal without running the script.
    script = osp.join(
        osp.dirname(mmdet.__file__), '.mim', 'tools', 'dataset_converters',
        'ade20k2coco.py')
    names = None
    for node in ast.parse(open(script).read()).body:
        if isinstance(node, ast.Assign) and getattr(
                node.targets[0], 'id', None) == 'ORIGINAL_CATEGORIES':
            names = ast.literal_eval(node.value)
    if names is None or len(names) != 150:
        raise RuntimeError(f'{script}: ORIGINAL_CATEGORIES not found')
    meta = ADE20KPanopticDataset.METAINFO
    things = set(meta['thing_classes'])
    colors = dict(zip(meta['classes'], meta['palette']))
    return [
        dict(
            id=i,
            name=name,
            isthing=int(name in things),
            color=list(colors[name])) for i, name in enumerate(names)
    ]


def convert_image(semantic: np.ndarray, instance: np.ndarray,
                  thing_cat_ids: np.ndarray,
                  isthing: np.ndarray) -> Tuple[np.ndarray, List[dict]]:
    """One image: (H, W) segment ids and its ``segments_info``.

    Args:
        semantic (np.ndarray): (H, W) uint8, 0 void, k = class k-1.
        instance (np.ndarray): (H, W, 3) uint8 RGB instance PNG.
        thing_cat_ids (np.ndarray): category id of each 1-based R value.
        isthing (np.ndarray): (150,) bool, per category id.
    """
    ids = np.zeros(semantic.shape, np.int64)
    segments = []
    category = semantic.astype(np.int64) - 1
    stuff_pixels = (category >= 0)
    stuff_pixels[stuff_pixels] = ~isthing[category[stuff_pixels]]
    for cat in np.unique(category[stuff_pixels]):
        segments.append(((category == cat) & stuff_pixels, int(cat)))
    instance_ids = instance[..., 1]
    for inst in np.unique(instance_ids[instance_ids > 0]):
        mask = instance_ids == inst
        classes = np.unique(instance[..., 0][mask])
        if len(classes) != 1 or classes[0] == 0:
            raise ValueError(f'instance {inst} has thing classes {classes}')
        segments.append((mask, int(thing_cat_ids[classes[0]])))
    info = []
    for segment_id, (mask, _) in enumerate(segments, start=1):
        ids[mask] = segment_id
    for segment_id, (_, cat) in enumerate(segments, start=1):
        mask = ids == segment_id  # instances drawn later win overlaps
        if not mask.any():
            continue
        ys, xs = np.nonzero(mask)
        info.append(
            dict(
                id=segment_id,
                category_id=cat,
                iscrowd=0,
                area=int(mask.sum()),
                bbox=[
                    int(xs.min()),
                    int(ys.min()),
                    int(xs.max() - xs.min() + 1),
                    int(ys.max() - ys.min() + 1)
                ]))
    return ids, info


def convert_split(root: str, split: str) -> int:
    categories = ade20k_categories()
    isthing = np.array([c['isthing'] == 1 for c in categories])
    from mmdet.datasets.ade20k import ADE20KPanopticDataset
    by_name = {c['name']: c['id'] for c in categories}
    thing_cat_ids = np.array(
        [-1] +
        [by_name[n] for n in ADE20KPanopticDataset.METAINFO['thing_classes']])

    folder = SPLIT_FOLDERS[split]
    image_dir = osp.join(root, 'images', folder)
    if not osp.isdir(image_dir):
        raise FileNotFoundError(f'{image_dir}: ADE20K images not found')
    out_dir = osp.join(root, f'ade20k_panoptic_{split}')
    os.makedirs(out_dir, exist_ok=True)
    names = sorted(n for n in os.listdir(image_dir) if n.endswith('.jpg'))
    images, annotations = [], []
    progress = ProgressBar(len(names))
    for name in names:
        stem = osp.splitext(name)[0]
        sem_path = osp.join(root, 'annotations', folder, f'{stem}.png')
        ins_path = osp.join(root, 'annotations_instance', folder,
                            f'{stem}.png')
        semantic = cv2.imread(sem_path, cv2.IMREAD_UNCHANGED)
        instance = cv2.imread(ins_path, cv2.IMREAD_COLOR)
        for path, data in ((sem_path, semantic), (ins_path, instance)):
            if data is None:
                raise FileNotFoundError(f'{path}: missing or unreadable')
        try:
            ids, info = convert_image(semantic, instance[..., ::-1],
                                      thing_cat_ids, isthing)
        except ValueError as err:
            raise ValueError(f'{ins_path}: {err}') from None
        ok, png = cv2.imencode('.png', id2rgb(ids)[..., ::-1])
        atomic_write(png.tobytes(), osp.join(out_dir, f'{stem}.png'))
        h, w = semantic.shape
        images.append(dict(id=stem, file_name=name, height=h, width=w))
        annotations.append(
            dict(image_id=stem, file_name=f'{stem}.png', segments_info=info))
        progress.update()
    atomic_write(
        json.dumps(
            dict(
                images=images, annotations=annotations,
                categories=categories)),
        osp.join(root, f'ade20k_panoptic_{split}.json'))
    return len(names)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('root', help='the ADEChallengeData2016 folder')
    parser.add_argument(
        '--splits',
        nargs='+',
        default=['train', 'val'],
        choices=['train', 'val'])
    args = parser.parse_args()
    try:
        for split in args.splits:
            count = convert_split(args.root, split)
            print(f'\n{split}: {count} images converted')
    except (ValueError, FileNotFoundError) as err:
        raise SystemExit(f'error: {err}')


if __name__ == '__main__':
    main()
