"""Modulated deformable convolution (DCNv2) on the CPU by ``grid_sample`` and a
1x1 convolution, for mmcv's ``DCNv2`` layer.

mmcv's CPU kernel builds its columns in one thread; here the bilinear sampling
of all kernel taps is one ``F.grid_sample`` call (vectorised, multi-threaded,
differentiable) and the product one 1x1 convolution. Same parameters, and the
values and gradients of mmcv's kernel up to float rounding
(``tests/test_deform_conv.py``).
"""
from typing import Tuple, Union

import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack, modulated_deform_conv2d
from torch import Tensor

from mmpanfpn.registry import MODELS

Pair = Union[int, Tuple[int, int]]


def _pair(value: Pair) -> Tuple[int, int]:
    return (value, value) if isinstance(value, int) else tuple(value)


def modulated_deform_conv2d_sampled(x: Tensor,
                                    offset: Tensor,
                                    mask: Tensor,
                                    weight: Tensor,
                                    bias: Tensor = None,
                                    stride: Pair = 1,
                                    padding: Pair = 0,
                                    dilation: Pair = 1) -> Tensor:
    """mmcv's ``modulated_deform_conv2d`` (one group, one deformable group).

    Tap ``k = ky * kw + kx`` of output pixel ``(i, j)`` reads the input at
    row ``i * sh - ph + ky * dh + offset[:, 2k]`` and column ``j * sw - pw +
    kx * dw + offset[:, 2k + 1]``, bilinearly with zeros outside the map (as
    mmcv's ``dmcn_im2col_bilinear``: ``grid_sample`` with ``align_corners``
    and zero padding), times ``mask[:, k]``; the taps of all input channels
    are then multiplied by the weight.

    Args:
        x (Tensor): (N, C, H, W).
        offset (Tensor): (N, 2 * kh * kw, Ho, Wo), row then column shift of
            each tap.
        mask (Tensor): (N, kh * kw, Ho, Wo) modulation.
        weight (Tensor): (Co, C, kh, kw).
        bias (Tensor, optional): (Co, ).
        stride, padding, dilation (int | tuple[int, int]): As a conv's.

    Returns:
        Tensor: (N, Co, Ho, Wo).
    """
    (sh, sw), (ph, pw), (dh, dw) = map(_pair, (stride, padding, dilation))
    num, channels, height, width = x.shape
    out_channels, _, kh, kw = weight.shape
    out_h, out_w = offset.shape[-2:]
    taps = kh * kw
    dtype = x.dtype
    rows = (torch.arange(out_h, dtype=dtype) * sh -
            ph)[None, :, None] + (torch.arange(kh, dtype=dtype) *
                                  dh).repeat_interleave(kw)[:, None, None]
    cols = (torch.arange(out_w, dtype=dtype) * sw - pw)[None, None, :] + (
        torch.arange(kw, dtype=dtype) * dw).repeat(kh)[:, None, None]
    offset = offset.view(num, taps, 2, out_h, out_w)
    y = rows + offset[:, :, 0]  # (N, taps, Ho, Wo)
    x_ = cols + offset[:, :, 1]
    # normalised for align_corners=True: -1 / 1 at the first / last pixel
    grid = torch.stack(
        [x_ * (2 / max(width - 1, 1)) - 1, y * (2 / max(height - 1, 1)) - 1],
        -1)
    sampled = F.grid_sample(
        x,
        grid.view(num, taps * out_h, out_w, 2),
        mode='bilinear',
        padding_mode='zeros',
        align_corners=True)  # (N, C, taps * Ho, Wo)
    sampled = sampled.view(num, channels, taps, out_h * out_w) * mask.view(
        num, 1, taps, out_h * out_w)
    # the product as a 1x1 convolution over the channel x tap columns
    return F.conv2d(
        sampled.view(num, channels * taps, out_h, out_w),
        weight.reshape(out_channels, channels * taps, 1, 1), bias)


@MODELS.register_module(name='DCNv2')
class DCNv2(ModulatedDeformConv2dPack):
    """mmcv's ``DCNv2`` layer (``ModulatedDeformConv2dPack``: the same
    parameters, so checkpoints load unchanged) whose CPU forward is
    :func:`modulated_deform_conv2d_sampled`; other devices, more than one
    group or deformable group, and maps one pixel high or wide run mmcv's
    kernel."""

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv_offset(x)
        o1, o2, mask = torch.chunk(out, 3, dim=1)
        offset = torch.cat((o1, o2), dim=1)
        mask = torch.sigmoid(mask)
        # (a map one pixel high or wide has no align_corners grid)
        if x.device.type != 'cpu' or self.groups != 1 \
                or self.deform_groups != 1 or min(x.shape[-2:]) < 2:
            return modulated_deform_conv2d(x, offset, mask, self.weight,
                                           self.bias, self.stride,
                                           self.padding, self.dilation,
                                           self.groups, self.deform_groups)
        return modulated_deform_conv2d_sampled(x, offset, mask, self.weight,
                                               self.bias, self.stride,
                                               self.padding, self.dilation)
