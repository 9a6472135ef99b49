"""Python API: build a model from a config (+ checkpoint) and run it.

Thin wrappers over mmdet's ``init_detector``/``inference_detector`` (which
already handle configs, checkpoints, ``dataset_meta`` and test pipelines), with
our registry scope set up first.
"""
import warnings
from typing import Optional, Sequence, Union

import numpy as np
import torch.nn as nn
from mmengine.config import Config

from mmpanfpn.utils import register_all_modules

ImagesType = Union[str, np.ndarray, Sequence[str], Sequence[np.ndarray]]


def init_model(config: Union[str, Config],
               checkpoint: Optional[str] = None,
               device: str = 'cpu',
               cfg_options: Optional[dict] = None) -> nn.Module:
    """Build a model from a config file and optionally load a checkpoint.

    Args:
        config (str | Config): Config file path or object.
        checkpoint (str, optional): Checkpoint path (mmdet zoo checkpoints
            of PanopticFPN load as they are).
        device (str): 'cpu' or 'cuda:N'. Defaults to 'cpu'.
        cfg_options (dict, optional): Overrides merged into the config.

    Returns:
        nn.Module: The model in eval mode, with ``cfg`` and ``dataset_meta``.
    """
    from mmdet.apis import init_detector
    register_all_modules(init_default_scope=False)
    if isinstance(config, str):
        config = Config.fromfile(config)
    config.setdefault('default_scope', 'mmpanfpn')
    model = init_detector(config, None, device=device, cfg_options=cfg_options)
    if checkpoint is not None:
        from mmengine.runner import load_checkpoint

        from mmpanfpn.engine import check_checkpoint_fits
        check_checkpoint_fits(model, checkpoint)
        meta = load_checkpoint(
            model, checkpoint, map_location='cpu').get('meta', {})
        model.dataset_meta = meta.get('dataset_meta', model.dataset_meta)
        model.to(device)
    meta = model.dataset_meta or {}
    if 'label2cat' not in meta:
        # mmdet falls back to COCO's class names; ask the dataset instead
        meta = _dataset_meta(model.cfg) or meta
        model.dataset_meta = meta
    return model


def _dataset_meta(cfg: Config) -> Optional[dict]:
    """Class names and ids read from the config's test annotation file."""
    from mmengine.registry import init_default_scope

    from mmpanfpn.registry import DATASETS
    dataset_cfg = cfg.get('test_dataloader', {}).get('dataset')
    if dataset_cfg is None:
        return None
    dataset_cfg = dataset_cfg.copy()
    dataset_cfg.pipeline = []
    init_default_scope(cfg.get('default_scope', 'mmpanfpn'))
    try:
        return DATASETS.build(dataset_cfg).metainfo
    except (FileNotFoundError, ValueError) as err:
        warnings.warn(f'class names not found ({err}); pass a checkpoint '
                      'that holds dataset_meta')
        return None


def inference_model(model: nn.Module, imgs: ImagesType):
    """Run a model on image paths or (H, W, 3) BGR arrays.

    Returns:
        DetDataSample or list: one per image, with ``pred_panoptic_seg``
        (segment-id map + ``segments_info``), ``pred_instances`` and
        ``pred_sem_seg``.
    """
    from mmdet.apis import inference_detector
    return inference_detector(model, imgs)
