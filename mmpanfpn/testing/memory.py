"""Peak memory of a block of code, for the tests and the benchmarks."""
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
