from .channels_last_hook import ChannelsLastHook, set_channels_last
from .checkpoint_hook import AtomicCheckpointHook
from .class_check_hook import PanopticClassCheckHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError
from .iter_seed_hook import IterSeedHook, iteration_seed
from .seg_visualization_hook import SegVisualizationHook

__all__ = [
    'AtomicCheckpointHook', 'ChannelsLastHook', 'set_channels_last',
    'FiniteLossHook', 'IterSeedHook', 'NonFiniteLossError',
    'PanopticClassCheckHook', 'SegVisualizationHook', 'iteration_seed'
]
