from .roi_align import (HAS_CPU_KERNEL, RoIAlign, roi_align_cpu,
                        roi_align_cpu_backward)

__all__ = [
    'RoIAlign', 'roi_align_cpu', 'roi_align_cpu_backward', 'HAS_CPU_KERNEL'
]
