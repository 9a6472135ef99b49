"""Where a process that trains, tests or infers with mmpanfpn starts."""
import datetime
import importlib
import warnings

# the modules whose import registers ours into the mmpanfpn registries
REGISTERING_MODULES = ('mmpanfpn.datasets.coco_panoptic',
                       'mmpanfpn.datasets.transforms', 'mmpanfpn.engine',
                       'mmpanfpn.evaluation.metrics', 'mmpanfpn.models',
                       'mmpanfpn.visualization')


def setup_process() -> None:
    """Install what a training or test process needs, for the whole process (so
    never on ``import mmpanfpn``):

    - the dependency check: an unsupported or missing package is an
      ``ImportError`` that names the fix;
    - the checkpoint allow-list: torch >= 2.6 loads checkpoints with
      ``weights_only=True``; the few types MMEngine checkpoints hold are
      declared safe, so that ``--resume`` works;
    - atomic local writes: MMEngine's local file backend becomes
      :class:`~mmpanfpn.engine.atomic_io.AtomicLocalBackend` (checkpoints,
      logs and results are written to a temp file, then renamed).

    Calling it again changes nothing.
    """
    from .dependencies import check_dependencies
    check_dependencies()
    from mmpanfpn.engine.atomic_io import register_atomic_local_backend
    from mmpanfpn.engine.safe_load import register_checkpoint_safe_globals
    register_checkpoint_safe_globals()
    register_atomic_local_backend()


# Adapted from mmdet.utils.setup_env.register_all_modules
# (https://github.com/open-mmlab/mmdetection, Apache-2.0, Copyright (c)
# OpenMMLab).
def register_all_modules(init_default_scope: bool = True) -> None:
    """Register the modules of mmpanfpn, mmdet and mmseg into the registries,
    after :func:`setup_process`.

    Args:
        init_default_scope (bool): Whether to set ``mmpanfpn`` as the default
            scope, so that configs without ``default_scope`` resolve our
            modules first. Defaults to True.
    """
    setup_process()
    import mmdet.utils
    import mmseg.utils
    from mmengine import DefaultScope

    # mmdet/mmseg populate their own scopes; ours are children of mmdet's.
    mmdet.utils.register_all_modules(init_default_scope=False)
    mmseg.utils.register_all_modules(init_default_scope=False)
    for module in REGISTERING_MODULES:
        importlib.import_module(module)

    if init_default_scope:
        never_created = DefaultScope.get_current_instance() is None \
            or not DefaultScope.check_instance_created('mmpanfpn')
        if never_created:
            DefaultScope.get_instance('mmpanfpn', scope_name='mmpanfpn')
            return
        current_scope = DefaultScope.get_current_instance()
        if current_scope.scope_name != 'mmpanfpn':
            warnings.warn('The current default scope '
                          f'"{current_scope.scope_name}" is not "mmpanfpn", '
                          '`register_all_modules` will force the current'
                          'default scope to be "mmpanfpn". If this is not '
                          'expected, please set `init_default_scope=False`.')
            # avoid name conflict
            new_instance_name = f'mmpanfpn-{datetime.datetime.now()}'
            DefaultScope.get_instance(new_instance_name, scope_name='mmpanfpn')
