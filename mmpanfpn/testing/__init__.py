"""Support for the tests and the benchmarks: peak memory, small models, the
panopticapi-equivalent reference evaluator, and loading a script of the
checkout."""
from .memory import PeakMemory
from .models import randomise_weights, shrink_panoptic_fpn
from .tools import checkout_env, load_tool

__all__ = [
    'PeakMemory', 'randomise_weights', 'shrink_panoptic_fpn', 'checkout_env',
    'load_tool'
]
