"""Registries of the ``mmpanfpn`` scope.

Every registry is a child of MMDetection's registry of the same kind, so a
config in the ``mmpanfpn`` scope resolves, in this order, our own modules, then
mmdet's (plain names such as ``'ResNet'`` or ``'mmdet.FPN'``), then mmengine's;
other scopes (``'mmseg.FPNHead'``) are found through the shared mmengine root.
From other scopes, ``'mmpanfpn.FPNHead'`` finds ours: each registry is also
listed among the root registry's children (see :func:`_child`).
"""
# The list of registries follows mmdet/registry.py
# (https://github.com/open-mmlab/mmdetection, Apache-2.0, Copyright (c)
# OpenMMLab).
from mmdet import registry as mmdet_registry
from mmengine.registry import Registry

_SCOPE = 'mmpanfpn'


def _child(parent: Registry, *locations: str) -> Registry:
    registry = Registry(
        parent.name, parent=parent, scope=_SCOPE, locations=list(locations))
    # MMEngine resolves a 'scope.Name' key from another scope through the
    # root registry's direct children only; ours hang under mmdet's, so
    # without this an mmseg config's type='mmpanfpn.FPNHead' is not found.
    # The lookup from our own scope and the parent chain are unchanged.
    root = registry._get_root_registry()
    root._children.setdefault(_SCOPE, registry)
    return registry


RUNNERS = _child(mmdet_registry.RUNNERS, 'mmpanfpn.engine')
RUNNER_CONSTRUCTORS = _child(mmdet_registry.RUNNER_CONSTRUCTORS,
                             'mmpanfpn.engine')
LOOPS = _child(mmdet_registry.LOOPS, 'mmpanfpn.engine')
HOOKS = _child(mmdet_registry.HOOKS, 'mmpanfpn.engine')
# the packages of the datasets and the metric import their torch / mmdet
# modules on first use; the registries name those modules
_DATASET_MODULES = ('mmpanfpn.datasets.coco_panoptic',
                    'mmpanfpn.datasets.transforms')
DATASETS = _child(mmdet_registry.DATASETS, *_DATASET_MODULES)
DATA_SAMPLERS = _child(mmdet_registry.DATA_SAMPLERS, *_DATASET_MODULES)
TRANSFORMS = _child(mmdet_registry.TRANSFORMS, *_DATASET_MODULES)
MODELS = _child(mmdet_registry.MODELS, 'mmpanfpn.models')
MODEL_WRAPPERS = _child(mmdet_registry.MODEL_WRAPPERS, 'mmpanfpn.models')
WEIGHT_INITIALIZERS = _child(mmdet_registry.WEIGHT_INITIALIZERS,
                             'mmpanfpn.models')
OPTIMIZERS = _child(mmdet_registry.OPTIMIZERS, 'mmpanfpn.engine')
OPTIM_WRAPPERS = _child(mmdet_registry.OPTIM_WRAPPERS, 'mmpanfpn.engine')
OPTIM_WRAPPER_CONSTRUCTORS = _child(mmdet_registry.OPTIM_WRAPPER_CONSTRUCTORS,
                                    'mmpanfpn.engine')
PARAM_SCHEDULERS = _child(mmdet_registry.PARAM_SCHEDULERS, 'mmpanfpn.engine')
METRICS = _child(mmdet_registry.METRICS, 'mmpanfpn.evaluation.metrics')
EVALUATOR = _child(mmdet_registry.EVALUATOR, 'mmpanfpn.evaluation.metrics')
TASK_UTILS = _child(mmdet_registry.TASK_UTILS, 'mmpanfpn.models')
VISUALIZERS = _child(mmdet_registry.VISUALIZERS, 'mmpanfpn.visualization')
VISBACKENDS = _child(mmdet_registry.VISBACKENDS, 'mmpanfpn.visualization')
LOG_PROCESSORS = _child(mmdet_registry.LOG_PROCESSORS, 'mmpanfpn.engine')
