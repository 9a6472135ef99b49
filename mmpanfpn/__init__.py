"""mmpanfpn: Panoptic FPN and Semantic FPN for the OpenMMLab ecosystem."""
from .utils.dependencies import check_dependencies
from .version import __version__, version_info

check_dependencies()

# torch >= 2.6 loads checkpoints with ``weights_only=True``; allow-list the
# few types MMEngine checkpoints hold so that ``--resume`` keeps working.
from .engine.safe_load import register_checkpoint_safe_globals  # noqa: E402

register_checkpoint_safe_globals()

# Checkpoints and results are written to a temp file, then renamed.
from .engine.atomic_io import register_atomic_local_backend  # noqa: E402

register_atomic_local_backend()

__all__ = ['__version__', 'version_info']
