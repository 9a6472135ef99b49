"""Time CocoPanopticMetric.process per image against the evaluators it
replaces.

Writes N synthetic 640x480 images (``make_synthetic_panoptic``), makes an
imperfect prediction for each (the GT shifted by a few pixels, plus extra
low-scoring detections, as a model gives for AP), then prints milliseconds
per image for:

- ours, all four metrics (PQ, bbox, segm, mIoU) from one read of the GT PNG;
- ours, PQ only;
- mmdet's ``CocoPanopticMetric.process``, if it runs. It cannot without
  panopticapi, so its cost is reproduced: write the predicted PNG, read the
  GT and predicted PNGs back (cv2), and panopticapi's three ``np.unique``
  passes (its Python loop over segment pairs is left out: a lower bound);
- the three evaluators mmdet + mmseg would chain for the same keys: the test
  pipeline's GT load for the semantic map (``LoadPanopticAnnotations``), the
  reproduced panoptic path, mmdet's ``CocoMetric.process`` and mmseg's
  ``IoUMetric.process`` (both real).

    python benchmarks/bench_metric.py --num-images 20
"""
import argparse
import os
import os.path as osp
import tempfile
import time

import cv2
import numpy as np
import torch
from mmdet.evaluation.metrics import CocoMetric
from mmdet.structures import DetDataSample
from mmengine.structures import InstanceData, PixelData
from mmseg.evaluation.metrics import IoUMetric

from mmpanfpn.datasets import CocoPanopticDataset, LoadPanopticAnnotations
from mmpanfpn.datasets.panoptic_format import (id2rgb, read_panoptic_png,
                                               rgb2id)
from mmpanfpn.datasets.synthetic import make_synthetic_panoptic
from mmpanfpn.evaluation import CocoPanopticMetric

HEIGHT, WIDTH = 480, 640
# panopticapi's pair encoding
OFFSET = 256 * 256 * 256


def box_of(mask: np.ndarray) -> list:
    ys, xs = np.nonzero(mask)
    return [xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]


def make_prediction(info: dict, meta: dict, num_dets: int,
                    rng: np.random.RandomState) -> DetDataSample:
    """The GT shifted by a few pixels, with ``num_dets`` detections."""
    num_things = len(meta['thing_classes'])
    gt_ids = read_panoptic_png(info['seg_map_path'])
    shift = tuple(rng.randint(-4, 5, size=2))
    shifted = np.roll(gt_ids, shift, axis=(0, 1))
    pan = np.zeros_like(gt_ids)
    sem = np.full(gt_ids.shape, 255, np.int64)
    segments, masks, labels = [], [], []
    for seg in info['segments_info']:
        mask = shifted == seg['id']
        if seg['iscrowd'] or not mask.any():
            continue
        pan[mask] = len(segments) + 1
        segments.append(dict(id=len(segments) + 1, category=seg['category'],
                             isthing=seg['category'] < num_things,
                             score=1.0, area=int(mask.sum())))
        if seg['category'] < num_things:
            masks.append(mask)
            labels.append(seg['category'])
        else:
            sem[mask] = seg['category']
    # extra, worse detections: shifted copies with low scores
    while masks and len(masks) < num_dets:
        k = rng.randint(len(masks))
        masks.append(np.roll(masks[k], rng.randint(5, 30), axis=1))
        labels.append(rng.randint(num_things))
    scores = np.sort(rng.rand(len(masks)))[::-1].copy()
    sample = DetDataSample(metainfo=dict(
        img_id=info['img_id'], img_path=info['img_path'],
        seg_map_path=info['seg_map_path'], ori_shape=gt_ids.shape,
        segments_info=info['segments_info']))
    sample.pred_panoptic_seg = PixelData(
        sem_seg=torch.from_numpy(pan)[None],
        metainfo=dict(segments_info=segments))
    sample.pred_instances = InstanceData(
        bboxes=torch.tensor([box_of(m) for m in masks],
                            dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(labels, dtype=torch.int64),
        scores=torch.from_numpy(scores).float(),
        masks=torch.from_numpy(np.stack(masks) if masks else np.zeros(
            (0, ) + gt_ids.shape, bool)))
    sample.pred_sem_seg = PixelData(sem_seg=torch.from_numpy(sem)[None])
    return sample


def time_per_image(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return 1000 * (time.perf_counter() - start) / len(items)


def mmdet_panoptic_reproduced(sample: dict, out_dir: str) -> None:
    """mmdet's per-image panoptic cost: PNG write, two PNG reads and
    panopticapi's ``np.unique`` passes."""
    pan = sample['pred_panoptic_seg']['sem_seg'][0].numpy()
    path = osp.join(out_dir, f'{sample["img_id"]}.png')
    cv2.imwrite(path, id2rgb(pan)[..., ::-1])
    pred_ids = rgb2id(cv2.imread(path)[..., ::-1])
    gt_ids = rgb2id(cv2.imread(sample['seg_map_path'])[..., ::-1])
    np.unique(gt_ids, return_counts=True)
    np.unique(pred_ids, return_counts=True)
    np.unique(gt_ids.astype(np.uint64) * OFFSET + pred_ids.astype(np.uint64),
              return_counts=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=20)
    parser.add_argument('--num-dets', type=int, default=50,
                        help='detections per image (AP keeps low scores)')
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        root = make_synthetic_panoptic(tmp, num_train=0,
                                       num_val=args.num_images,
                                       size=(HEIGHT, WIDTH), seed=args.seed)
        ann_file = osp.join(root, 'annotations', 'panoptic_val.json')
        seg_prefix = osp.join(root, 'annotations', 'panoptic_val/')
        dataset = CocoPanopticDataset(
            ann_file=ann_file, data_root=root,
            data_prefix=dict(img='val/', seg='annotations/panoptic_val/'),
            test_mode=True, pipeline=[])
        meta = dataset.metainfo
        rng = np.random.RandomState(args.seed)
        infos = [dataset.get_data_info(i) for i in range(len(dataset))]
        samples = [make_prediction(info, meta, args.num_dets, rng).to_dict()
                   for info in infos]
        segments = np.mean([len(s['pred_panoptic_seg']['segments_info'])
                            for s in samples])
        dets = np.mean([len(s['pred_instances']['labels'])
                        for s in samples])

        def ours(metric):
            metric = CocoPanopticMetric(ann_file=ann_file,
                                        seg_prefix=seg_prefix, metric=metric)
            metric.dataset_meta = meta
            return lambda sample: metric.process({}, [sample])

        results = {}
        results['ours: PQ+bbox+segm+mIoU'] = time_per_image(
            ours(['pq', 'bbox', 'segm', 'miou']), samples)
        results['ours: PQ only'] = time_per_image(ours('pq'), samples)

        from mmdet.evaluation.metrics import coco_panoptic_metric
        if coco_panoptic_metric.panopticapi is None:
            mmdet_note = ('mmdet CocoPanopticMetric cannot run: panopticapi '
                          'is not installed; its PNG write + read path is '
                          'reproduced with cv2.imwrite/imread + np.unique '
                          '(a lower bound)')
        else:
            mmdet_note = ('panopticapi is installed, but the reproduced '
                          'path is timed all the same, for comparable runs')
        out_dir = osp.join(tmp, 'mmdet_pngs')
        os.makedirs(out_dir)
        results['mmdet PQ (reproduced)'] = time_per_image(
            lambda s: mmdet_panoptic_reproduced(s, out_dir), samples)

        # the chain of three evaluators, for the same set of keys
        load_sem = LoadPanopticAnnotations(
            with_bbox=False, with_label=False, with_mask=False,
            with_seg=True)
        coco_metric = CocoMetric(metric=['bbox', 'segm'])
        iou_metric = IoUMetric(iou_metrics=['mIoU'], prefix='sem_seg')
        iou_metric.dataset_meta = meta

        def three_evaluators(item):
            info, sample = item
            gt = load_sem(dict(info, ori_shape=(HEIGHT, WIDTH)))
            mmdet_panoptic_reproduced(sample, out_dir)
            coco_metric.process({}, [dict(sample, instances=[])])
            iou_metric.process({}, [dict(
                sample, pred_sem_seg=dict(
                    data=sample['pred_sem_seg']['sem_seg']),
                gt_sem_seg=dict(data=torch.from_numpy(
                    gt['gt_seg_map'].astype(np.int64))[None]))])

        results['mmdet+mmseg, 3 evaluators'] = time_per_image(
            three_evaluators, list(zip(infos, samples)))

    print(f'{args.num_images} synthetic {WIDTH}x{HEIGHT} images, '
          f'{segments:.1f} predicted segments and {dets:.1f} detections '
          'per image')
    print(mmdet_note)
    reference = results['ours: PQ+bbox+segm+mIoU']
    width = max(len(name) for name in results)
    for name, ms in results.items():
        print(f'{name:<{width}}  {ms:8.2f} ms/image  '
              f'{ms / reference:5.2f}x ours (all)')
    print(f'ours PQ only / mmdet PQ (reproduced): '
          f'{results["ours: PQ only"] / results["mmdet PQ (reproduced)"]:.2f}')


if __name__ == '__main__':
    main()
