"""Class names and palette of a model built for inference.

In order: the checkpoint's ``meta`` (``dataset_meta``, or the ``CLASSES`` /
``PALETTE`` of older checkpoints), the config's test dataset (the names it
declares, else its annotation file), and, when neither gives names for every
class, generic names from the model's own class counts, with one warning: a
panoptic model with COCO's 80 things and 53 stuff classes gets COCO-panoptic's
133 names and palette; any other gets ``thing0``, ..., ``stuff0``, ... (a
segmentor ``class0``, ...) and a generated palette.
"""
import copy
import warnings
from typing import Optional, Tuple

import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import DATASETS

from mmpanfpn.datasets.coco_panoptic import generated_palette

COCO_PANOPTIC_COUNTS = (80, 53)


def panoptic_class_counts(model: nn.Module) -> Optional[Tuple[int, int]]:
    """``(things, stuff)`` of a panoptic model: the ``num_things_classes`` and
    ``num_stuff_classes`` of the model itself or, first found, of one of its
    heads (the semantic head, the fusion).

    None when no module states both.
    """
    for module in model.modules():
        things = getattr(module, 'num_things_classes', None)
        stuff = getattr(module, 'num_stuff_classes', None)
        if isinstance(things, int) and isinstance(stuff, int):
            return things, stuff
    return None


def num_model_classes(model: nn.Module) -> Optional[int]:
    """Output classes of a panoptic model (things + stuff) or a segmentor
    (``decode_head.num_classes``); None when the model states neither."""
    counts = panoptic_class_counts(model)
    if counts is not None:
        return sum(counts)
    decode_head = getattr(model, 'decode_head', None)
    return getattr(decode_head, 'num_classes', None)


def generic_dataset_meta(model: nn.Module) -> dict:
    """Names and palette from the model's class counts (module docstring).

    Returns:
        dict: ``classes`` and ``palette`` (one per class); for a panoptic
        model also ``thing_classes`` and ``stuff_classes``. Empty when the
        model states no class count.
    """
    counts = panoptic_class_counts(model)
    if counts == COCO_PANOPTIC_COUNTS:
        from mmdet.datasets import CocoPanopticDataset
        coco = CocoPanopticDataset.METAINFO
        things, stuff = coco['thing_classes'], coco['stuff_classes']
        return dict(
            classes=tuple(things) + tuple(stuff),
            thing_classes=tuple(things),
            stuff_classes=tuple(stuff),
            palette=[tuple(c) for c in coco['palette']])
    if counts is not None:
        things = tuple(f'thing{i}' for i in range(counts[0]))
        stuff = tuple(f'stuff{i}' for i in range(counts[1]))
        return dict(
            classes=things + stuff,
            thing_classes=things,
            stuff_classes=stuff,
            palette=generated_palette(sum(counts)))
    num_classes = num_model_classes(model)
    if num_classes is None:
        return {}
    return dict(
        classes=tuple(f'class{i}' for i in range(num_classes)),
        palette=generated_palette(num_classes))


def checkpoint_dataset_meta(checkpoint_meta: dict) -> Optional[dict]:
    """``dataset_meta`` of an MMEngine checkpoint's ``meta`` (keys lowered, as
    mmdet does), or the ``CLASSES``/``PALETTE`` of an older one."""
    if checkpoint_meta.get('dataset_meta'):
        return {
            k.lower(): v
            for k, v in checkpoint_meta['dataset_meta'].items()
        }
    if checkpoint_meta.get('CLASSES'):
        meta = dict(classes=tuple(checkpoint_meta['CLASSES']))
        if checkpoint_meta.get('PALETTE'):
            meta['palette'] = checkpoint_meta['PALETTE']
        return meta
    return None


def config_dataset_meta(cfg: Config) -> Tuple[Optional[dict], str]:
    """The metainfo of the config's test dataset: the class names it declares
    (no file read) or, when it declares none, those of its annotation file.

    Returns:
        tuple: the metainfo (None when it holds no ``classes``) and, then,
        why not.
    """
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset')
    if dataset_cfg is None:
        return None, 'the config has no test_dataloader.dataset'
    dataset_cfg = copy.deepcopy(dataset_cfg)
    dataset_cfg.pipeline = []
    scope = cfg.get('default_scope', 'mmpanfpn')
    with DATASETS.switch_scope_and_registry(scope) as registry:
        try:
            meta = registry.build(dict(dataset_cfg, lazy_init=True)).metainfo
            if meta.get('classes'):
                return meta, ''
            # the names are in the annotation file
            meta = registry.build(dataset_cfg).metainfo
        except (FileNotFoundError, ValueError, OSError) as err:
            return None, str(err)
    if not meta.get('classes'):
        return None, 'the test dataset names no classes'
    return meta, ''


def resolve_dataset_meta(model: nn.Module,
                         cfg: Config,
                         checkpoint_meta: Optional[dict] = None,
                         source: str = 'config') -> dict:
    """The model's ``dataset_meta``, from the first source that names every
    class the model predicts (module docstring).

    Args:
        model (nn.Module): The built model (its class counts).
        cfg (Config): Its config (the test dataset).
        checkpoint_meta (dict, optional): The loaded checkpoint's ``meta``.
        source (str): The config's name, for the warning.

    Returns:
        dict: at least ``classes`` and ``palette``, one per class, when the
        model states its class count.
    """
    wanted = num_model_classes(model)
    reasons = []
    found = checkpoint_dataset_meta(checkpoint_meta or {})
    if found is None:
        if checkpoint_meta is not None:
            reasons.append('the checkpoint holds no dataset_meta')
        found, reason = config_dataset_meta(cfg)
        if found is None:
            reasons.append(reason)
    if found is not None and wanted is not None and len(
            found['classes']) != wanted:
        reasons.append(f'{len(found["classes"])} class names found for a '
                       f'model of {wanted} classes')
        found = None
    if found is None:
        found = generic_dataset_meta(model)
        counts = panoptic_class_counts(model)
        kind = (f'{counts[0]} things + {counts[1]} stuff'
                if counts is not None else f'{wanted} classes')
        names = ("COCO-panoptic's"
                 if counts == COCO_PANOPTIC_COUNTS else 'generic')
        warnings.warn(f'{source}: class names not found ('
                      f'{"; ".join(reasons)}); using {names} names for the '
                      f"model's {kind}. A checkpoint with dataset_meta or "
                      'the annotation file gives the real ones.')
        return found
    found = dict(found)
    palette = found.get('palette')
    # mmdet's meta may say 'random' instead of listing colours
    palette = list(palette) if isinstance(palette, (list, tuple)) else []
    if len(palette) < len(found['classes']):
        palette += generated_palette(len(found['classes']), len(palette))
        found['palette'] = palette
    return found
