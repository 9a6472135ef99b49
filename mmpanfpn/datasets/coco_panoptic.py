"""COCO-format panoptic dataset (COCO, Cityscapes, ADE20K, custom folders).

Class order is whatever the annotation file says: thing and stuff categories
may be interleaved. Internally labels are contiguous with things first, ``0 ..
T-1`` (things in file order), then stuff ``T .. T+S-1``, which is the layout
mmdet's PanopticFPN checkpoints use; ``metainfo['label2cat']`` maps them back
to the dataset's category ids.
"""
import os.path as osp
from typing import Dict, List, Optional, Tuple

from mmdet.datasets import BaseDetDataset
from mmengine.logging import print_log

from mmpanfpn.registry import DATASETS
from .coco_panoptic_json import read_panoptic_json


def build_label_space(categories: List[dict], metainfo: Optional[dict],
                      ann_file: str) -> dict:
    """Contiguous labels (things first) from ``categories``' ``isthing``.

    When ``metainfo`` names classes (``thing_classes``/``stuff_classes``, or
    only ``classes``) they must be exactly the file's, with the same
    thing/stuff split; their order then defines the labels (so a checkpoint
    trained with another order stays usable). Any mismatch is an error here,
    not a PQ of 0 after training.

    Returns:
        dict: ``classes``, ``thing_classes``, ``stuff_classes`` (tuples of
        names in label order) and ``label2cat`` (label -> category id).
    """
    by_name = {c['name']: c for c in categories}
    file_things = [c['name'] for c in categories if c['isthing']]
    file_stuff = [c['name'] for c in categories if not c['isthing']]
    metainfo = metainfo or {}
    things = metainfo.get('thing_classes')
    stuff = metainfo.get('stuff_classes')
    classes = metainfo.get('classes')
    if things is None and stuff is None and classes is not None:
        unknown = [n for n in classes if n not in by_name]
        if unknown:
            raise ValueError(
                f'{ann_file}: metainfo "classes" names {unknown} which are '
                'not in the file\'s "categories"')
        things = [n for n in classes if by_name[n]['isthing']]
        stuff = [n for n in classes if not by_name[n]['isthing']]
    things = list(file_things if things is None else things)
    stuff = list(file_stuff if stuff is None else stuff)

    for field, given, expected in (('thing_classes', things, file_things),
                                   ('stuff_classes', stuff, file_stuff)):
        if sorted(given) != sorted(expected) or len(set(given)) != len(given):
            missing = sorted(set(expected) - set(given))
            extra = sorted(set(given) - set(expected))
            raise ValueError(
                f'{ann_file}: metainfo "{field}" does not match the file\'s '
                f'categories (isthing={int(field == "thing_classes")}): '
                f'missing {missing}, not in file or wrong kind {extra}' +
                (', duplicates' if len(set(given)) != len(given) else ''))
    if classes is not None and sorted(classes) != sorted(things + stuff):
        raise ValueError(
            f'{ann_file}: metainfo "classes" does not hold the same names as '
            '"thing_classes" + "stuff_classes" / the file\'s categories')
    names = things + stuff
    return dict(
        classes=tuple(names),
        thing_classes=tuple(things),
        stuff_classes=tuple(stuff),
        label2cat=tuple(by_name[n]['id'] for n in names))


@DATASETS.register_module()
class CocoPanopticDataset(BaseDetDataset):
    """A dataset in the COCO panoptic format.

    Each image gives ``img_path``, ``seg_map_path`` (its panoptic PNG, from
    the annotation's ``file_name``), ``segments_info`` (``id``,
    ``category`` (label), ``category_id``, ``iscrowd`` and ``isthing``, the
    category's kind as in the file) and ``instances`` (the non-crowd things,
    for the detector). Labels are documented in the module
    docstring. Crowd segments are not instances; their pixels keep their
    class in the semantic map, as COCO does.

    Args:
        ann_file (str): The ``panoptic_*.json`` file.
        metainfo (dict, optional): ``classes`` / ``thing_classes`` /
            ``stuff_classes`` to check against (and order) the file's
            categories; when absent they are read from the file.
        data_prefix (dict): ``img`` (images folder) and ``seg`` (panoptic
            PNG folder).
        filter_cfg (dict, optional): ``filter_empty_gt`` (drop training
            images without thing instances; default False, since stuff-only
            images teach the semantic branch) and ``min_size``.
        **kwargs: see :class:`mmdet.datasets.BaseDetDataset`.
    """

    METAINFO = dict(
        classes=None, thing_classes=None, stuff_classes=None, palette=None)

    def __init__(self,
                 ann_file: str = '',
                 metainfo: Optional[dict] = None,
                 data_prefix: dict = dict(img='', seg=''),
                 **kwargs) -> None:
        super().__init__(
            ann_file=ann_file,
            metainfo=metainfo,
            data_prefix=data_prefix,
            **kwargs)

    def load_data_list(self) -> List[dict]:
        ann = read_panoptic_json(
            self.ann_file,
            required=('images', 'annotations', 'categories'),
            image_fields=('id', 'file_name', 'height', 'width'))
        categories = list(ann.categories.values())
        label_space = build_label_space(categories, self._metainfo,
                                        self.ann_file)
        self._metainfo.update(label_space)
        if self._metainfo.get('palette') is None:
            self._metainfo['palette'] = [
                tuple(ann.categories[c].get('color',
                                            generated_palette(i + 1, i)[0]))
                for i, c in enumerate(label_space['label2cat'])
            ]
        cat2label = {c: i for i, c in enumerate(label_space['label2cat'])}
        # the annotations keep the file's order: i indexes "annotations"
        data_list = [
            self._parse(ann.images[image_id], annotation,
                        f'{self.ann_file}: annotations[{i}]', ann.categories,
                        cat2label)
            for i, (image_id, annotation) in enumerate(ann.annotations.items())
        ]
        if not data_list:
            raise ValueError(f'{self.ann_file}: no annotated images')
        return data_list

    def _parse(self, img: dict, ann: dict, where: str,
               categories: Dict[int, dict], cat2label: Dict[int, int]) -> dict:
        instances, segments_info = [], []
        for j, seg in enumerate(ann['segments_info']):
            category_id = seg['category_id']
            label = cat2label[category_id]
            iscrowd = bool(seg.get('iscrowd', 0))
            isthing = bool(categories[category_id]['isthing'])
            segments_info.append(
                dict(
                    id=seg['id'],
                    category=label,
                    category_id=category_id,
                    iscrowd=iscrowd,
                    isthing=isthing))
            if isthing and not iscrowd:
                bbox = seg.get('bbox')
                if bbox is None or len(bbox) != 4:
                    raise ValueError(f'{where}.segments_info[{j}]: thing '
                                     'segment needs a "bbox" [x, y, w, h]')
                x, y, w, h = bbox
                if w < 1 or h < 1:
                    continue  # degenerate box, as mmdet skips it
                instances.append(
                    dict(
                        bbox=[x, y, x + w, y + h],
                        bbox_label=label,
                        ignore_flag=0,
                        segment_id=seg['id']))
        seg_prefix = self.data_prefix.get('seg') or ''
        return dict(
            img_path=osp.join(
                self.data_prefix.get('img') or '', img['file_name']),
            img_id=img['id'],
            # from the annotation's own file_name, never by renaming the jpg
            seg_map_path=osp.join(seg_prefix, ann['file_name'])
            if seg_prefix else None,
            height=img['height'],
            width=img['width'],
            instances=instances,
            segments_info=segments_info)

    def filter_data(self) -> List[dict]:
        """Drop images smaller than ``min_size`` and, only when
        ``filter_empty_gt`` is set, training images without instances."""
        if self.test_mode or not self.filter_cfg:
            return self.data_list
        filter_empty_gt = self.filter_cfg.get('filter_empty_gt', False)
        min_size = self.filter_cfg.get('min_size', 0)
        kept = [
            info for info in self.data_list
            if min(info['width'], info['height']) >= min_size
            and not (filter_empty_gt and not info['instances'])
        ]
        if not kept:
            raise ValueError(
                f'{self.ann_file}: no image left after filtering with '
                f'filter_cfg={dict(self.filter_cfg)} ({len(self.data_list)} '
                'before)')
        if len(kept) < len(self.data_list):
            print_log(
                f'{self.ann_file}: filter_cfg kept {len(kept)} of '
                f'{len(self.data_list)} images',
                logger='current')
        return kept

    def get_cat_ids(self, idx: int) -> List[int]:
        return [i['bbox_label'] for i in self.get_data_info(idx)['instances']]


def generated_palette(num_classes: int,
                      start: int = 0) -> List[Tuple[int, int, int]]:
    """Fixed, well-spread RGB colours for classes without any.

    Returns:
        list[tuple]: the colours of classes ``start`` to ``num_classes - 1``.
    """
    return [((i * 67 + 31) % 256, (i * 139 + 83) % 256, (i * 211 + 151) % 256)
            for i in range(start, num_classes)]
