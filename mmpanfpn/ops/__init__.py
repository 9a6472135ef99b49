from .roi_align import HAS_CPU_KERNEL, RoIAlign, roi_align_cpu

__all__ = ['RoIAlign', 'roi_align_cpu', 'HAS_CPU_KERNEL']
