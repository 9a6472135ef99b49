"""The COCO panoptic annotation file: one reader and validator.

The dataset (training and test sets), the metric (its ``ann_file``) and the
offline evaluator (``tools/eval_panoptic.py``, both its files) read their
JSON here, so that a file is judged by one set of rules and every error has
one form: ``{path}: {field}: {what is wrong}``, e.g.
``panoptic_val.json: annotations[3].segments_info[0]: missing field
"category_id"``.

A file holds up to three lists, each checked when present and, when
``required``, demanded:

- ``categories``: ``{'id', 'name', 'isthing'}`` with unique ids and names and
  ``isthing`` 0 or 1 (the only "is a thing" flag: the category's kind,
  whatever ``iscrowd`` says);
- ``images``: ``{'id', ...}`` (the dataset asks for ``file_name``,
  ``height`` and ``width`` too) with unique ids;
- ``annotations``: ``{'image_id', 'file_name', 'segments_info'}``, at most
  one per image, of a listed image when ``images`` is there; each segment
  ``{'id', 'category_id', ...}`` with ids unique in the image and, when
  ``categories`` is there, a listed category.

It needs the standard library only, so that the offline evaluator runs
without torch.
"""
import json
import os.path as osp
from typing import Dict, NamedTuple, Optional, Sequence

# the lists a COCO panoptic file may hold, in the order they are checked
LISTS = ('categories', 'images', 'annotations')


class PanopticJson(NamedTuple):
    """A checked COCO panoptic file; a list the file does not hold is None.

    Attributes:
        path (str): The file, as named in errors.
        categories (dict, optional): ``{category_id: category}``, file order.
        images (dict, optional): ``{image_id: image}``, file order.
        annotations (dict, optional): ``{image_id: annotation}``, file order.
    """
    path: str
    categories: Optional[Dict[int, dict]]
    images: Optional[Dict[object, dict]]
    annotations: Optional[Dict[object, dict]]


def load_json(path: str, what: str = 'annotation file') -> dict:
    """Load a JSON object, with errors that name the file.

    Raises:
        FileNotFoundError: ``path`` is not a file.
        ValueError: the file is not JSON, or not a JSON object.
    """
    if not osp.isfile(path):
        raise FileNotFoundError(f'{path}: {what} not found')
    try:
        with open(path, 'r', encoding='utf-8') as f:
            content = json.load(f)
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise ValueError(f'{path}: {what} is not valid JSON ({err})') from None
    if not isinstance(content, dict):
        raise ValueError(f'{path}: {what} must hold a JSON object, '
                         f'got {type(content).__name__}')
    return content


def require_keys(record: dict, keys: Sequence[str], where: str) -> None:
    """Raise ``ValueError`` naming ``where`` and the first missing key."""
    if not isinstance(record, dict):
        raise ValueError(f'{where}: expected an object, got '
                         f'{type(record).__name__}')
    for key in keys:
        if key not in record:
            raise ValueError(f'{where}: missing field "{key}"')


def _require_list(content: dict, key: str, path: str) -> list:
    value = content[key]
    if not isinstance(value, list):
        raise ValueError(f'{path}: field "{key}" must be a list, got '
                         f'{type(value).__name__}')
    return value


def check_categories(categories: list, path: str) -> Dict[int, dict]:
    """Validate a ``categories`` list; return ``{category_id: category}``."""
    if not isinstance(categories, list) or not categories:
        raise ValueError(f'{path}: field "categories" must be a non-empty '
                         'list')
    by_id: Dict[int, dict] = {}
    names = set()
    for i, cat in enumerate(categories):
        require_keys(cat, ('id', 'name', 'isthing'),
                     f'{path}: categories[{i}]')
        if cat['id'] in by_id:
            raise ValueError(f'{path}: categories[{i}] repeats category id '
                             f'{cat["id"]}')
        if cat['name'] in names:
            raise ValueError(f'{path}: categories[{i}] repeats category name '
                             f'"{cat["name"]}"')
        if cat['isthing'] not in (0, 1, True, False):
            raise ValueError(f'{path}: categories[{i}] field "isthing" must '
                             f'be 0 or 1, got {cat["isthing"]!r}')
        by_id[cat['id']] = cat
        names.add(cat['name'])
    return by_id


def check_images(images: list, path: str,
                 fields: Sequence[str]) -> Dict[object, dict]:
    """Validate an ``images`` list; return ``{image_id: image}``."""
    by_id: Dict[object, dict] = {}
    for i, img in enumerate(images):
        require_keys(img, fields, f'{path}: images[{i}]')
        if img['id'] in by_id:
            raise ValueError(f'{path}: images[{i}] repeats image id '
                             f'{img["id"]}')
        by_id[img['id']] = img
    return by_id


def check_segments(segments: list, categories: Optional[Dict[int, dict]],
                   where: str) -> None:
    """Validate one annotation's ``segments_info`` (``where`` names it)."""
    if not isinstance(segments, list):
        raise ValueError(f'{where}: field "segments_info" must be a list')
    seen = set()
    for k, seg in enumerate(segments):
        seg_where = f'{where}.segments_info[{k}]'
        require_keys(seg, ('id', 'category_id'), seg_where)
        if seg['id'] in seen:
            raise ValueError(f'{seg_where}: repeats segment id {seg["id"]}')
        seen.add(seg['id'])
        if categories is not None and seg['category_id'] not in categories:
            raise ValueError(f'{seg_where}: category_id {seg["category_id"]} '
                             'is not in "categories"')


def check_annotations(
        annotations: list, path: str, categories: Optional[Dict[int, dict]],
        images: Optional[Dict[object, dict]]) -> Dict[object, dict]:
    """Validate an ``annotations`` list; return ``{image_id:

    annotation}``.
    """
    by_image: Dict[object, dict] = {}
    for i, ann in enumerate(annotations):
        where = f'{path}: annotations[{i}]'
        require_keys(ann, ('image_id', 'file_name', 'segments_info'), where)
        image_id = ann['image_id']
        if images is not None and image_id not in images:
            raise ValueError(f'{where}: image_id {image_id!r} is not in '
                             '"images"')
        if image_id in by_image:
            raise ValueError(f'{where}: second annotation for image_id '
                             f'{image_id!r}')
        check_segments(ann['segments_info'], categories, where)
        by_image[image_id] = ann
    return by_image


def check_panoptic_json(
    content: dict,
    path: str,
    required: Sequence[str] = ('annotations', ),
    image_fields: Sequence[str] = ('id', )
) -> PanopticJson:
    """Validate the content of a COCO panoptic file (module docstring).

    Args:
        content (dict): The loaded JSON object.
        path (str): The file, named in every error.
        required (Sequence[str]): Lists of :data:`LISTS` the file must hold.
        image_fields (Sequence[str]): Fields every ``images`` entry must have.

    Returns:
        PanopticJson: the lists, indexed by id.

    Raises:
        ValueError: naming ``path``, the field and the id at fault.
    """
    for key in required:
        require_keys(content, (key, ), path)
    present = {
        key: _require_list(content, key, path)
        for key in LISTS if key in content
    }
    categories = (
        check_categories(present['categories'], path)
        if 'categories' in present else None)
    images = (
        check_images(present['images'], path, image_fields)
        if 'images' in present else None)
    annotations = (
        check_annotations(present['annotations'], path, categories, images)
        if 'annotations' in present else None)
    return PanopticJson(path, categories, images, annotations)


def read_panoptic_json(
    path: str,
    what: str = 'panoptic annotation file',
    required: Sequence[str] = ('annotations', ),
    image_fields: Sequence[str] = ('id', )
) -> PanopticJson:
    """Load and validate a COCO panoptic file (module docstring).

    Args:
        path (str): A local file.
        what (str): What the file is, for the not-found / not-JSON errors.
        required, image_fields: see :func:`check_panoptic_json`.

    Returns:
        PanopticJson: the lists, indexed by id.

    Raises:
        FileNotFoundError / ValueError: naming ``path`` (and the field).
    """
    return check_panoptic_json(
        load_json(path, what), path, required, image_fields)
