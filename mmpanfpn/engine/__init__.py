from .atomic_io import AtomicLocalBackend, atomic_write
from .checkpoint_check import check_checkpoint_fits, shape_mismatches
from .hooks import (AtomicCheckpointHook, FiniteLossHook, IterSeedHook,
                    NonFiniteLossError)
from .resume import check_resume_checkpoint, find_resume_checkpoint
from .safe_load import (checkpoint_safe_globals,
                        register_checkpoint_safe_globals)

__all__ = [
    'AtomicLocalBackend', 'atomic_write', 'check_checkpoint_fits',
    'shape_mismatches', 'AtomicCheckpointHook', 'FiniteLossHook',
    'IterSeedHook', 'check_resume_checkpoint', 'find_resume_checkpoint',
    'NonFiniteLossError', 'checkpoint_safe_globals',
    'register_checkpoint_safe_globals'
]
