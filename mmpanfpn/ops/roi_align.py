"""RoIAlign whose CPU results equal mmcv's bit for bit, on every core.

mmcv's CPU ``roi_align_forward`` and ``roi_align_backward`` are serial
scalar loops over RoIs and channels; in Panoptic FPN on a CPU they are the
largest costs after the convolutions (inference: the box head's 1000
proposals and the mask head's detections; training: the backward).
``mmpanfpn._ext`` (``csrc/roi_align_cpu.cpp``, built by ``pip install``)
computes the same numbers with mmcv's arithmetic, vectorised over channels and
shared out among the intra-op threads. ``tests/test_roi_align.py`` checks the
equality on generated RoIs of every size, at borders and out of the map.

:class:`RoIAlign` is ``mmcv.ops.RoIAlign`` taking that path on the CPU
(average pooling, float32/float64), forward and backward: the backward
kernel likewise adds mmcv's terms to every input element in mmcv's order,
with channel blocks on different threads. CUDA, max pooling, half precision
and builds without the extension go to mmcv.
"""
import torch
from mmcv.ops import RoIAlign as MMCVRoIAlign
from torch import Tensor
from torch.autograd.function import once_differentiable

try:
    from mmpanfpn import _ext  # noqa: F401  (registers torch.ops.mmpanfpn)
    HAS_CPU_KERNEL, _EXT_ERROR = True, None
except (ImportError, OSError) as err:
    # built without ops (MMPANFPN_WITH_OPS=0, no torch at build time), or
    # built against another torch: mmcv's kernel is used
    HAS_CPU_KERNEL, _EXT_ERROR = False, err


def _require_kernel() -> None:
    if not HAS_CPU_KERNEL:
        raise RuntimeError(
            f'mmpanfpn._ext (mmpanfpn\'s C++ ops) cannot be loaded: '
            f'{_EXT_ERROR}; rebuild it against the installed torch with '
            '`pip install --no-build-isolation -e .`')


def roi_align_cpu(features: Tensor, rois: Tensor, output_size,
                  spatial_scale: float, sampling_ratio: int,
                  aligned: bool) -> Tensor:
    """Average RoIAlign of ``features`` (N, C, H, W) over ``rois`` (n, 5),
    equal to ``mmcv.ops.roi_align(..., pool_mode='avg')`` on the CPU."""
    _require_kernel()
    pooled_h, pooled_w = output_size
    return torch.ops.mmpanfpn.roi_align_forward(features,
                                                rois.to(features.dtype),
                                                pooled_h, pooled_w,
                                                float(spatial_scale),
                                                int(sampling_ratio),
                                                bool(aligned))


def roi_align_cpu_backward(grad_output: Tensor, rois: Tensor, input_shape,
                           spatial_scale: float, sampling_ratio: int,
                           aligned: bool) -> Tensor:
    """Gradient of :func:`roi_align_cpu` with respect to the features, equal to
    mmcv's CPU ``roi_align_backward`` (average mode) bit for bit:

    the same terms added to every element in the same order.
    """
    _require_kernel()
    batch, channels, height, width = input_shape
    return torch.ops.mmpanfpn.roi_align_backward(grad_output, rois, batch,
                                                 channels, height, width,
                                                 grad_output.size(2),
                                                 grad_output.size(3),
                                                 float(spatial_scale),
                                                 int(sampling_ratio),
                                                 bool(aligned))


class _CPURoIAlignFunction(torch.autograd.Function):
    """Average RoIAlign on mmpanfpn's CPU kernels, forward and backward."""

    @staticmethod
    def forward(ctx, input, rois, output_size, spatial_scale, sampling_ratio,
                aligned):
        ctx.args = (input.size(), spatial_scale, sampling_ratio, aligned)
        ctx.save_for_backward(rois)
        return roi_align_cpu(input, rois, output_size, spatial_scale,
                             sampling_ratio, aligned)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_output):
        rois, = ctx.saved_tensors
        grad_input = roi_align_cpu_backward(grad_output, rois, *ctx.args)
        return grad_input, None, None, None, None, None


class RoIAlign(MMCVRoIAlign):
    """``mmcv.ops.RoIAlign`` with :func:`roi_align_cpu` and
    :func:`roi_align_cpu_backward` on the CPU.

    Same arguments, attributes and results; the RoI extractors of the
    ``mmpanfpn`` scope build it for ``roi_layer=dict(type='RoIAlign')``.
    """

    def forward(self, input: Tensor, rois: Tensor) -> Tensor:
        if (HAS_CPU_KERNEL and input.device.type == 'cpu'
                and self.pool_mode == 'avg' and not self.use_torchvision
                and input.dtype in (torch.float32, torch.float64)):
            return _CPURoIAlignFunction.apply(input, rois, self.output_size,
                                              self.spatial_scale,
                                              self.sampling_ratio,
                                              self.aligned)
        return super().forward(input, rois)
