from .dependencies import check_dependencies
from .setup_env import register_all_modules

__all__ = ['check_dependencies', 'register_all_modules']
