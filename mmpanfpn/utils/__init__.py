from .atomic_io import atomic_write
from .dependencies import check_dependencies
from .package_files import register_config_package, resolve_config
from .setup_env import register_all_modules, setup_process

__all__ = [
    'atomic_write', 'check_dependencies', 'register_all_modules',
    'register_config_package', 'resolve_config', 'setup_process'
]
