"""mmpanfpn: Panoptic FPN and Semantic FPN for the OpenMMLab ecosystem.

Importing it changes nothing in the process but one additive registration:
``mmpanfpn`` joins mmengine's table of packages whose configs
``_base_ = 'mmpanfpn::<path>'`` resolves (no other entry and nothing else of
mmengine changes). What a training or test process needs installed (the
dependency check, the checkpoint allow-list, atomic local writes) is
installed by :func:`mmpanfpn.utils.register_all_modules`, which the tools
call first.
"""
from .utils.package_files import register_config_package
from .version import __version__, version_info

register_config_package()

__all__ = ['__version__', 'version_info']
