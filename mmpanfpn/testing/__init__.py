"""Helpers shared by the tests and the benchmark tools."""
import torch


class PeakMemory:
    """Peak memory of a block over the memory in use before it: ``bytes`` and
    ``mib`` once the block is done.

    CUDA: ``torch.cuda.max_memory_allocated``. CPU (Linux): the growth of
    the process's peak resident set, ``VmHWM`` (reset to the current
    resident set on entry by writing 5 to ``/proc/self/clear_refs``).
    """

    def __init__(self, device) -> None:
        self.cuda = str(device).startswith('cuda')

    @staticmethod
    def _status_kib(field: str) -> int:
        with open('/proc/self/status') as f:
            for line in f:
                if line.startswith(field + ':'):
                    return int(line.split()[1])
        raise KeyError(field)

    def __enter__(self):
        if self.cuda:
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
            self.before = torch.cuda.memory_allocated()
        else:
            self.before = self._status_kib('VmRSS') * 1024
            with open('/proc/self/clear_refs', 'w') as f:
                f.write('5')
        return self

    def __exit__(self, *exc):
        if self.cuda:
            torch.cuda.synchronize()
            peak = torch.cuda.max_memory_allocated()
        else:
            peak = self._status_kib('VmHWM') * 1024
        self.bytes = max(peak - self.before, 0)
        self.mib = self.bytes / 2**20


def randomise_weights(model: torch.nn.Module,
                      seed: int = 0,
                      box_logit_std: float = 0.05,
                      seg_logit_std: float = 0.3) -> None:
    """Give a Panoptic FPN non-trivial random weights, in place: norm
    statistics and affines off their defaults, and box / semantic classifiers
    that spread the scores (so that instances pass the thresholds and no two
    box scores tie).

    Args:
        model (torch.nn.Module): ours or mmdet's ``PanopticFPN``.
        seed (int): Seed of the draws. Defaults to 0.
        box_logit_std (float): Std of ``roi_head.bbox_head.fc_cls``'s
            weights. Defaults to 0.05 (box scores about 0.1 to 0.7 on small
            models; 0.005 suits R50's larger features).
        seg_logit_std (float): Std of ``semantic_head.conv_logits``'s
            weights. Defaults to 0.3.
    """
    gen = torch.Generator().manual_seed(seed)

    def uniform(t, low, high):
        t.copy_(torch.rand(t.shape, generator=gen) * (high - low) + low)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                uniform(module.running_mean, -0.2, 0.2)
                uniform(module.running_var, 0.5, 2.0)
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
                uniform(module.weight, 0.5, 1.5)
                uniform(module.bias, -0.2, 0.2)
        for layer, std in [(model.roi_head.bbox_head.fc_cls, box_logit_std),
                           (model.semantic_head.conv_logits, seg_logit_std)]:
            layer.weight.copy_(
                torch.randn(layer.weight.shape, generator=gen) * std)
            uniform(layer.bias, -0.5, 0.5)
