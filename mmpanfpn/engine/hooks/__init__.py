from .class_check_hook import PanopticClassCheckHook
from .finite_loss_hook import FiniteLossHook, NonFiniteLossError

__all__ = ['FiniteLossHook', 'NonFiniteLossError', 'PanopticClassCheckHook']
