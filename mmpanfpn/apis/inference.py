"""Python API: build any model of the suite from its config and run it.

What the config builds decides the path, by the model's base class:

- an mmdet detector with a panoptic output (Panoptic FPN, or any detector
  whose heads state ``num_things_classes`` and ``num_stuff_classes``) goes
  through mmdet's ``init_detector`` / ``inference_detector`` and gives a
  ``DetDataSample`` with ``pred_panoptic_seg``;
- an mmseg segmentor (Semantic FPN) goes through mmseg's ``init_model`` /
  ``inference_model`` and gives a ``SegDataSample`` with ``pred_sem_seg``.

Anything else is refused with the model type named. Class names come from
the checkpoint, the config's dataset or the model's class counts
(:mod:`mmpanfpn.apis.dataset_meta`).
"""
import copy
import re
import warnings
from pathlib import Path
from typing import Optional, Sequence, Union

import numpy as np
import torch.nn as nn
from mmengine.config import Config
from mmengine.registry import MODELS

from mmpanfpn.utils import register_all_modules, resolve_config
from .dataset_meta import panoptic_class_counts, resolve_dataset_meta

ImagesType = Union[str, np.ndarray, Sequence[str], Sequence[np.ndarray]]

# What mmdet's and mmseg's init functions warn about class names and palettes
# when given no checkpoint; resolve_dataset_meta settles both, with one
# warning of its own.
_LIBRARY_META_WARNINGS = (r'.*(COCO classes|class names|palette does not '
                          r'exist)')


def _model_type_name(cfg: Config) -> str:
    model_type = cfg.model.get('type')
    return getattr(model_type, '__name__', str(model_type))


def model_kind(cfg: Config, source: str = 'config') -> str:
    """``'panoptic'`` for an mmdet detector, ``'semantic'`` for an mmseg
    segmentor, from the class the config's ``model.type`` names.

    Raises:
        ValueError: the type is not registered, or is neither kind; the
            message names ``source`` and the model type.
    """
    from mmdet.models.detectors import BaseDetector
    from mmseg.models.segmentors import BaseSegmentor

    model_type = cfg.model.get('type')
    if isinstance(model_type, type):
        model_class = model_type
    else:
        scope = cfg.get('default_scope', 'mmpanfpn')
        with MODELS.switch_scope_and_registry(scope) as registry:
            model_class = registry.get(model_type)
        if model_class is None:
            raise ValueError(f'{source}: model type {model_type!r} is not '
                             f'registered in the {scope!r} scope')
    if issubclass(model_class, BaseSegmentor):
        return 'semantic'
    if issubclass(model_class, BaseDetector):
        return 'panoptic'
    raise ValueError(
        f'{source}: model type {_model_type_name(cfg)!r} '
        f'({model_class.__module__}.{model_class.__qualname__}) is neither a '
        'panoptic detector (mmdet) nor a segmentor (mmseg); mmpanfpn.apis '
        'runs only these')


def init_model(config: Union[str, Path, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None,
               channels_last: bool = False) -> nn.Module:
    """Build a model from a config file and optionally load a checkpoint.

    Args:
        config (str | Path | Config): Config file path, ``mmpanfpn::``
            name of a packaged config, or config object.
        checkpoint (str, optional): Checkpoint path (mmdet's PanopticFPN and
            mmseg's sem_fpn zoo checkpoints load as they are).
        device (str): 'cpu' or 'cuda:N'. Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config.
        channels_last (bool): Run in the channels-last memory format
            (faster on CPU; outputs equal up to float rounding), see
            :func:`mmpanfpn.engine.hooks.set_channels_last`. Defaults to
            False.

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` and ``dataset_meta``
        (``classes`` and ``palette`` for every class it predicts).

    Raises:
        ValueError: the config builds neither kind of model, or the
            checkpoint's tensors do not fit the model.
    """
    from mmengine.model import revert_sync_batchnorm
    from mmengine.runner import load_checkpoint

    from mmpanfpn.engine import check_checkpoint_fits
    register_all_modules(init_default_scope=False)
    if isinstance(config, (str, Path)):
        source = str(config)
        config = Config.fromfile(resolve_config(source))
    else:
        source = config.filename or 'config'
        config = copy.deepcopy(config)
    if cfg_options:
        config.merge_from_dict(cfg_options)
    kind = model_kind(config, source)
    # (both libraries also reset the warning filters, hence a record)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter('always')
        if kind == 'semantic':
            from mmseg.apis import init_model as init_segmentor
            model = revert_sync_batchnorm(init_segmentor(config, None, 'cpu'))
        else:
            from mmdet.apis import init_detector
            config.setdefault('default_scope', 'mmpanfpn')
            model = init_detector(config, None, device='cpu')
            if panoptic_class_counts(model) is None:
                raise ValueError(
                    f'{source}: model type {_model_type_name(config)!r} is '
                    'an mmdet detector without a panoptic output (no '
                    'num_things_classes / num_stuff_classes); use '
                    'mmdet.apis for it')
    for warning in caught:
        if not re.match(_LIBRARY_META_WARNINGS, str(warning.message)):
            warnings.warn_explicit(warning.message, warning.category,
                                   warning.filename, warning.lineno)
    checkpoint_meta = None
    if checkpoint is not None:
        check_checkpoint_fits(model, checkpoint)
        checkpoint_meta = load_checkpoint(
            model, checkpoint, map_location='cpu').get('meta', {})
    model.dataset_meta = resolve_dataset_meta(model, config, checkpoint_meta,
                                              source)
    model.to(device)
    if channels_last:
        from mmpanfpn.engine.hooks import set_channels_last
        set_channels_last(model)
    return model


def inference_model(model: nn.Module, imgs: ImagesType):
    """Run a model from :func:`init_model` on image paths or (H, W, 3) BGR
    arrays.

    Returns:
        One result per image (a list for a list of images): a panoptic
        detector's ``DetDataSample`` with ``pred_panoptic_seg`` (segment-id
        map + ``segments_info``), ``pred_instances`` and ``pred_sem_seg``;
        a segmentor's ``SegDataSample`` with ``pred_sem_seg`` (labels) and
        ``seg_logits``.
    """
    from mmengine.registry import DefaultScope
    from mmseg.models.segmentors import BaseSegmentor

    # the test pipeline's transforms are named in the config's scope,
    # whatever scope the caller is in
    is_segmentor = isinstance(model, BaseSegmentor)
    scope = model.cfg.get('default_scope',
                          'mmseg' if is_segmentor else 'mmpanfpn')
    with DefaultScope.overwrite_default_scope(scope):
        if not is_segmentor:
            from mmdet.apis import inference_detector
            return inference_detector(model, imgs)
        from mmseg.apis import inference_model as inference_segmentor

        # mmseg edits the config's test pipeline in place (it drops
        # LoadAnnotations, and loads arrays from then on): give it a copy
        cfg = model.cfg
        model.cfg = copy.deepcopy(cfg)
        try:
            return inference_segmentor(model, imgs)
        finally:
            model.cfg = cfg
