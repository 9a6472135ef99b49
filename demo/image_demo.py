"""Run a Panoptic FPN model on images; write pictures and panoptic files.

    python demo/image_demo.py IMG_OR_DIR CONFIG [--weights CKPT]
        [--out-dir outputs] [--device cpu] [--score-thr 0.6]
        [--cfg-options k=v ...]

For each image it writes ``<stem>_panoptic.jpg`` (a colour per segment,
thing outlines, class legend), ``<stem>.png`` (the COCO-format panoptic PNG)
and one ``panoptic.json`` for all images (segments with the dataset's
category ids when the model knows them).
"""
import argparse
import json
import os
import os.path as osp

import mmcv
from mmengine.config import DictAction

from mmpanfpn.apis import inference_model, init_model
from mmpanfpn.datasets import id2rgb
from mmpanfpn.engine import atomic_write
from mmpanfpn.registry import VISUALIZERS

IMAGE_EXTENSIONS = ('.jpg', '.jpeg', '.png', '.bmp', '.tif', '.tiff', '.webp')


def parse_args():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('inputs', help='an image file or a folder of images')
    parser.add_argument('config', help='model config file')
    parser.add_argument('--weights', help='checkpoint file')
    parser.add_argument('--out-dir', default='outputs')
    parser.add_argument('--device', default='cpu')
    parser.add_argument(
        '--score-thr',
        type=float,
        default=None,
        help='override test_cfg.panoptic.score_thr')
    parser.add_argument(
        '--cfg-options',
        nargs='+',
        action=DictAction,
        help='override settings of the config, key=value')
    return parser.parse_args()


def list_images(inputs: str):
    if osp.isdir(inputs):
        names = sorted(
            n for n in os.listdir(inputs)
            if n.lower().endswith(IMAGE_EXTENSIONS))
        if not names:
            raise SystemExit(f'{inputs}: no images in this folder')
        return [osp.join(inputs, n) for n in names]
    if not osp.isfile(inputs):
        raise SystemExit(f'{inputs}: no such image or folder')
    return [inputs]


def main():
    args = parse_args()
    images = list_images(args.inputs)
    cfg_options = dict(args.cfg_options or {})
    if args.score_thr is not None:
        cfg_options['model.test_cfg.panoptic.score_thr'] = args.score_thr
    model = init_model(args.config, args.weights, args.device, cfg_options)
    meta = model.dataset_meta or {}
    if 'classes' not in meta:
        raise SystemExit(f'{args.config}: the model has no class names '
                         '(no dataset_meta in the checkpoint or config)')
    label2cat = meta.get('label2cat') or list(range(len(meta['classes'])))

    visualizer = VISUALIZERS.build(
        dict(type='PanopticLocalVisualizer', name='image_demo'))
    visualizer.dataset_meta = meta
    os.makedirs(args.out_dir, exist_ok=True)
    annotations = []
    for path in images:
        image = mmcv.imread(path)
        if image is None:
            raise SystemExit(f'{path}: not a readable image')
        result = inference_model(model, image)
        stem = osp.splitext(osp.basename(path))[0]
        pan = result.pred_panoptic_seg
        id_map = pan.sem_seg[0].cpu().numpy()
        segments = pan.metainfo.get('segments_info', [])
        drawn = visualizer.draw_panoptic(mmcv.bgr2rgb(image), id_map, segments)
        mmcv.imwrite(drawn[..., ::-1],
                     osp.join(args.out_dir, f'{stem}_panoptic.jpg'))
        mmcv.imwrite(
            id2rgb(id_map)[..., ::-1], osp.join(args.out_dir, f'{stem}.png'))
        annotations.append(
            dict(
                file_name=f'{stem}.png',
                image=osp.basename(path),
                segments_info=[
                    dict(
                        id=int(s['id']),
                        category_id=int(label2cat[s['category']]),
                        category=meta['classes'][s['category']],
                        isthing=int(bool(s['isthing'])),
                        score=None
                        if s.get('score') is None else float(s['score']),
                        area=int(s['area'])) for s in segments
                ]))
        print(f'{path}: {len(segments)} segments')
    atomic_write(
        json.dumps(dict(annotations=annotations), indent=1),
        osp.join(args.out_dir, 'panoptic.json'))
    print(f'results written to {args.out_dir}')


if __name__ == '__main__':
    main()
