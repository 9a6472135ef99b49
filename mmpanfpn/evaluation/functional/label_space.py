"""The dataset's label space as the panoptic metric reads it.

The dataset builds the label space once
(:func:`~mmpanfpn.datasets.coco_panoptic.build_label_space`) and carries it in
``dataset_meta``: ``classes`` (names by contiguous label), ``thing_classes``
and ``label2cat`` (label -> category id). No order is assumed here: thing
labels are those named in ``thing_classes``.
"""
from typing import Dict, List, Optional

import numpy as np


class LabelSpace:
    """Conversions between labels, category ids and thing indices.

    Args:
        meta (dict): ``dataset_meta`` with ``classes``, ``thing_classes``
            and ``label2cat``.
        file_categories (dict, optional): ``{category_id: category}`` of the
            GT file, which must agree (ids and ``isthing``).
        ann_file (str, optional): That file, named in errors.
    """

    def __init__(self,
                 meta: dict,
                 file_categories: Optional[Dict[int, dict]] = None,
                 ann_file: Optional[str] = None):
        for key in ('classes', 'thing_classes', 'label2cat'):
            if meta.get(key) is None or not len(meta[key]):
                raise ValueError(
                    f'dataset_meta needs "{key}" (CocoPanopticDataset sets '
                    'classes, thing_classes, stuff_classes and label2cat)')
        self.classes = tuple(meta['classes'])
        things = set(meta['thing_classes'])
        if not things <= set(self.classes):
            raise ValueError(
                'dataset_meta "thing_classes" names classes not in '
                f'"classes": {sorted(things - set(self.classes))}')
        self.label2cat = tuple(meta['label2cat'])
        if len(self.label2cat) != len(self.classes):
            raise ValueError(f'dataset_meta "label2cat" has '
                             f'{len(self.label2cat)} ids for '
                             f'{len(self.classes)} classes')
        self.cat2label = {c: i for i, c in enumerate(self.label2cat)}
        self.num_classes = len(self.classes)
        self.isthing = np.array([n in things for n in self.classes])
        if file_categories is not None:
            for name, cat_id, isthing in zip(self.classes, self.label2cat,
                                             self.isthing):
                cat = file_categories.get(cat_id)
                if cat is None or bool(cat['isthing']) != isthing:
                    raise ValueError(
                        f'class "{name}" (category {cat_id}, '
                        f'{"thing" if isthing else "stuff"}) does not match '
                        f'the categories of {ann_file}')
        self.categories = {
            cat_id: dict(id=cat_id, name=name, isthing=int(isthing))
            for name, cat_id, isthing in zip(self.classes, self.label2cat,
                                             self.isthing)
        }
        thing_labels = np.flatnonzero(self.isthing)
        self.thing_classes = tuple(self.classes[i] for i in thing_labels)
        self.stuff_classes = tuple(self.classes[i]
                                   for i in np.flatnonzero(~self.isthing))
        self.thing_cat_ids = tuple(self.label2cat[i] for i in thing_labels)
        # label -> index among the things (-1 for stuff)
        self._thing_index = np.full(self.num_classes, -1, np.int64)
        self._thing_index[thing_labels] = np.arange(len(thing_labels))

    @property
    def category_list(self) -> List[dict]:
        return list(self.categories.values())

    def category_id(self, label, img_id, what: str) -> int:
        """The category id of a label; ``what`` names it in the error."""
        label = int(label)
        if not 0 <= label < self.num_classes:
            raise ValueError(f'image {img_id!r}: {what} has label {label}, '
                             f'not one of the {self.num_classes} classes')
        return self.label2cat[label]

    def thing_index(self, labels: np.ndarray, img_id) -> np.ndarray:
        """The index among the thing classes of every (thing) label."""
        bad = (labels < 0) | (labels >= self.num_classes)
        bad[~bad] = self._thing_index[labels[~bad]] < 0
        if bad.any():
            raise ValueError(f'image {img_id!r}: pred_instances label '
                             f'{int(labels[bad][0])} is not a thing class')
        return self._thing_index[labels]

    def dataset_segment(self, seg: dict, img_id) -> dict:
        """A data sample's GT segment (label ``category`` or ``category_id``)
        as a COCO one."""
        if 'id' not in seg:
            raise ValueError(f'image {img_id!r}: GT segments_info entry '
                             f'without "id": {seg}')
        if 'category_id' in seg:
            cat_id = seg['category_id']
            if cat_id not in self.categories:
                raise ValueError(f'image {img_id!r}: GT segment {seg["id"]} '
                                 f'has unknown category_id {cat_id}')
        elif 'category' in seg:
            cat_id = self.category_id(seg['category'], img_id,
                                      f'GT segment {seg["id"]}')
        else:
            raise ValueError(f'image {img_id!r}: GT segment {seg["id"]} has '
                             'no "category_id" or "category"')
        return dict(
            id=seg['id'],
            category_id=cat_id,
            iscrowd=int(seg.get('iscrowd', 0)))
