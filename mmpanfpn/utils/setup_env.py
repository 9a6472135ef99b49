import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Register the modules of mmpanfpn, mmdet and mmseg into the registries.

    Args:
        init_default_scope (bool): Whether to set ``mmpanfpn`` as the default
            scope, so that configs without ``default_scope`` resolve our
            modules first. Defaults to True.
    """
    import mmdet.utils
    import mmseg.utils

    # mmdet/mmseg populate their own scopes; ours are children of mmdet's.
    mmdet.utils.register_all_modules(init_default_scope=False)
    mmseg.utils.register_all_modules(init_default_scope=False)

    import mmpanfpn.datasets  # noqa: F401
    import mmpanfpn.engine  # noqa: F401
    import mmpanfpn.evaluation  # noqa: F401
    import mmpanfpn.models  # noqa: F401
    import mmpanfpn.visualization  # noqa: F401

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
