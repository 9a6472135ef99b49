from .atomic_io import AtomicLocalBackend, atomic_write
from .hooks import FiniteLossHook, NonFiniteLossError
from .safe_load import checkpoint_safe_globals, register_checkpoint_safe_globals

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'FiniteLossHook',
    'NonFiniteLossError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals'
]
