"""Validation and test in the channels-last memory format."""
import torch
from mmengine.hooks import Hook
from mmengine.model import is_model_wrapper

from mmpanfpn.registry import HOOKS


def _channels_last_input(module, args):
    """Forward pre-hook: the backbone's input in channels-last order."""
    image, *rest = args
    if isinstance(image, torch.Tensor) and image.dim() == 4:
        image = image.contiguous(memory_format=torch.channels_last)
    return (image, *rest)


def set_channels_last(model: torch.nn.Module, enable: bool = True) -> None:
    """Put a detector or segmentor (anything with a ``backbone``) in the
    channels-last (NHWC) memory format, or back to the default one.

    The 4-D parameters change order and the backbone converts its input, so
    every convolution after it sees NHWC tensors. On CPU, oneDNN's
    convolutions are faster on them (``docs/benchmarks.md``); the outputs
    equal the default format's up to float rounding (other convolution
    kernels sum in another order).

    Args:
        model (nn.Module): The model, or a model wrapper (its ``module``).
        enable (bool): Channels last, or back. Defaults to True.
    """
    if is_model_wrapper(model):
        model = model.module
    backbone = getattr(model, 'backbone', None)
    if not isinstance(backbone, torch.nn.Module):
        raise TypeError(f'{type(model).__name__} has no backbone module: '
                        'channels last converts the backbone\'s input')
    handle = getattr(model, '_channels_last_handle', None)
    if handle is not None:
        handle.remove()
        model._channels_last_handle = None
    model.to(memory_format=torch.channels_last if enable else torch.
             contiguous_format)
    if enable:
        model._channels_last_handle = backbone.register_forward_pre_hook(
            _channels_last_input)


@HOOKS.register_module()
class ChannelsLastHook(Hook):
    """Validate and test in the channels-last memory format (see
    :func:`set_channels_last`); training stays in the default one.

    Add it with ``custom_hooks = [dict(type='mmpanfpn.ChannelsLastHook')]``
    or ``tools/test.py --channels-last``.

    Args:
        val (bool): Also validation during training. Defaults to True.
    """

    def __init__(self, val: bool = True) -> None:
        self.val = val

    def before_val(self, runner) -> None:
        if self.val:
            set_channels_last(runner.model, True)

    def after_val(self, runner) -> None:
        if self.val:
            set_channels_last(runner.model, False)

    def before_test(self, runner) -> None:
        set_channels_last(runner.model, True)

    def after_test(self, runner) -> None:
        set_channels_last(runner.model, False)
