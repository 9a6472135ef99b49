import math
from typing import Optional

from mmengine.hooks import Hook

from mmpanfpn.registry import HOOKS


class NonFiniteLossError(FloatingPointError):
    """Training stopped on a NaN/Inf loss."""


@HOOKS.register_module()
class FiniteLossHook(Hook):
    """Stop training at the first NaN/Inf loss, naming the iteration and the
    loss terms that are not finite.

    It runs before ``CheckpointHook`` (higher priority), so the iteration that
    produced the bad loss never overwrites a checkpoint: the last one saved
    stays the one to resume from. mmdet's ``CheckInvalidLossHook`` only asserts
    on the total every ``interval`` iterations.
    """

    priority = 'ABOVE_NORMAL'

    def after_train_iter(self,
                         runner,
                         batch_idx: int,
                         data_batch: Optional[dict] = None,
                         outputs: Optional[dict] = None) -> None:
        if not outputs:
            return
        values = {
            name: float(value.detach() if hasattr(value, 'detach') else value)
            for name, value in outputs.items() if name.startswith('loss')
        }
        bad = {
            name: value
            for name, value in values.items() if not math.isfinite(value)
        }
        if bad:
            terms = ', '.join(f'{k}={v}' for k, v in sorted(bad.items()))
            message = (f'non-finite loss at iteration {runner.iter + 1} '
                       f'(epoch {runner.epoch + 1}): {terms}; training '
                       f'stopped, the last checkpoint in {runner.work_dir} '
                       'is kept (lower the learning rate or enable '
                       'optim_wrapper.clip_grad, then --resume)')
            runner.logger.error(message)
            raise NonFiniteLossError(message)
