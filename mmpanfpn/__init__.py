"""mmpanfpn: Panoptic FPN and Semantic FPN for the OpenMMLab ecosystem.

Importing it changes nothing in the process: what a training or test process
needs installed (the dependency check, the checkpoint allow-list, atomic
local writes) is installed by :func:`mmpanfpn.utils.register_all_modules`,
which the tools call first.
"""
from .version import __version__, version_info

__all__ = ['__version__', 'version_info']
