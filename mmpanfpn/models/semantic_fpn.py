"""The semantic-FPN core: the dense branch of Panoptic FPN (Kirillov et al.,
2019, Fig. 3), shared by the panoptic semantic head and mmseg's FPNHead.

Every pyramid level is brought to the scale of level 0 (P2, 1/4 of the input)
by repeated [3x3 conv, norm, ReLU, 2x bilinear upsample] stages, and the
levels are summed::

    P5 (1/32) -> conv, up -> conv, up -> conv, up --\\
    P4 (1/16) -> conv, up -> conv, up -------------- +--> (N, C, H/4, W/4)
    P3 (1/8)  -> conv, up -------------------------- |
    P2 (1/4)  -> conv ------------------------------/
"""
from typing import Sequence, Union

import torch.nn.functional as F
from mmdet.models.layers import ConvUpsample
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule, ModuleList
from torch import Tensor

from mmpanfpn.registry import MODELS


@MODELS.register_module(name=['SemanticFPNCore', 'SemanticFPN'])
class SemanticFPNCore(BaseModule):
    """Merge FPN levels ``[start_level, end_level)`` into one map at the scale
    of level 0.

    Level ``i`` gets ``i`` conv + 2x-upsample stages (level 0 one conv and no
    upsample), so the levels meet at level 0's scale whatever
    ``start_level`` is. The stages are mmdet's ``ConvUpsample`` under the
    attribute ``conv_upsample_layers``, so the parameters are named as in
    mmdet's ``PanopticFPNHead`` (``conv_upsample_layers.{i}.conv.{j}.conv``,
    ``...{j}.gn``) and its checkpoints load unchanged.

    Args:
        in_channels (int | Sequence[int]): Channels of the input levels, one
            number for all or one per used level. Defaults to 256.
        channels (int): Channels of every stage and of the output.
            Defaults to 128.
        start_level (int): First pyramid level used (0 is P2).
            Defaults to 0.
        end_level (int): Level after the last one used. Defaults to 4
            (P2..P5).
        conv_cfg (:obj:`ConfigDict` or dict, optional): Conv layer config.
            Defaults to None (``nn.Conv2d``).
        norm_cfg (:obj:`ConfigDict` or dict, optional): Norm layer config.
            Defaults to GroupNorm with 32 groups, as in the paper.
        act_cfg (:obj:`ConfigDict` or dict, optional): Activation config.
            Defaults to ReLU.
        upsample_once (bool): Sum the levels that end with a 2x upsample
            before it and upsample the sum once. Bilinear upsampling is
            linear, so the map is the same up to float rounding, without
            upsampling every level to level 0's size. Defaults to False:
            mmdet's order of operations, bit for bit.
        init_cfg (:obj:`ConfigDict` or dict or list, optional):
            Initialization config. Defaults to None (``ConvModule``'s own
            Kaiming init).
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]] = 256,
                 channels: int = 128,
                 start_level: int = 0,
                 end_level: int = 4,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = dict(
                     type='GN', num_groups=32, requires_grad=True),
                 act_cfg: OptConfigType = dict(type='ReLU'),
                 upsample_once: bool = False,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        if not 0 <= start_level < end_level:
            raise ValueError('need 0 <= start_level < end_level, got '
                             f'start_level={start_level}, '
                             f'end_level={end_level}')
        num_levels = end_level - start_level
        if isinstance(in_channels, int):
            in_channels = [in_channels] * num_levels
        if len(in_channels) != num_levels:
            raise ValueError(f'{len(in_channels)} in_channels given for '
                             f'{num_levels} levels')
        self.in_channels = list(in_channels)
        self.channels = channels
        self.start_level = start_level
        self.end_level = end_level
        self.upsample_once = upsample_once

        self.conv_upsample_layers = ModuleList()
        for level, level_channels in zip(
                range(start_level, end_level), self.in_channels):
            self.conv_upsample_layers.append(
                ConvUpsample(
                    level_channels,
                    channels,
                    num_layers=max(level, 1),
                    num_upsample=level,
                    conv_cfg=conv_cfg,
                    norm_cfg=norm_cfg,
                    act_cfg=act_cfg))

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """Fuse the pyramid.

        Args:
            feats (Sequence[Tensor]): The pyramid from level 0 on, level
                ``i`` of shape (N, C_i, H / 2^(i+2), W / 2^(i+2)) for an
                (N, 3, H, W) input; levels past ``end_level`` are ignored.

        Returns:
            Tensor: The fused features, (N, channels, H0, W0) where (H0, W0)
            is the size of the first used level once upsampled (level 0's
            size, H/4 x W/4, when ``start_level`` is 0).
        """
        if len(feats) < self.end_level:
            raise ValueError(f'{len(feats)} feature levels given, '
                             f'end_level is {self.end_level}')
        levels = list(
            zip(
                range(self.start_level, self.end_level),
                self.conv_upsample_layers))
        if self.upsample_once and self._meet_before_last_upsample(feats):
            # the levels that end with a 2x upsample, summed (in order)
            # before it
            base, coarse = None, None
            for level, layer in levels:
                if level == 0:
                    base = layer(feats[0])
                    continue
                out = _but_last_upsample(layer, feats[level])
                coarse = out if coarse is None else coarse + out
            fused = _upsample(coarse)
            return fused if base is None else base + fused
        fused = None
        for level, layer in levels:
            out = layer(feats[level])
            if fused is None:
                fused = out
                continue
            # Inputs whose size is not a multiple of 32 give levels that
            # upsample to a pixel or two more than the finest one: resize
            # those (no-op otherwise, as in mmseg's FPNHead).
            if out.shape[-2:] != fused.shape[-2:]:
                out = F.interpolate(
                    out,
                    size=fused.shape[-2:],
                    mode='bilinear',
                    align_corners=False)
            # level by level, in order: the same sums as mmdet's stack +
            # sum (bit for bit, tested), with two maps alive instead of
            # 2 x levels
            fused = fused + out
        return fused

    def _meet_before_last_upsample(self, feats: Sequence[Tensor]) -> bool:
        """Whether the levels from 1 on meet at one size before their last.

        2x upsample (level ``l`` has ``l - 1`` upsamples before it), and level
        0, if used, is twice that size: true when the input size is a
        multiple of 32.
        """
        sizes = {
            tuple(n * 2**(level - 1) for n in feats[level].shape[-2:])
            for level in range(max(self.start_level, 1), self.end_level)
        }
        if len(sizes) != 1:
            return False
        (size, ) = sizes
        return self.start_level > 0 or tuple(feats[0].shape[-2:]) == tuple(
            2 * n for n in size)


def _upsample(x: Tensor) -> Tensor:
    """2x bilinear upsampling, as mmdet's ``ConvUpsample``."""
    return F.interpolate(
        x, scale_factor=2, mode='bilinear', align_corners=False)


def _but_last_upsample(layer: ConvUpsample, x: Tensor) -> Tensor:
    """``layer(x)`` (mmdet's ``ConvUpsample``: conv, then 2x upsample while
    upsamples are left) without its last upsample, for a layer that ends with
    one."""
    remaining = layer.num_upsample
    for conv in layer.conv:
        x = conv(x)
        if remaining > 0:
            remaining -= 1
            if remaining:
                x = _upsample(x)
    return x


# the core's other name, importable and in configs alike
SemanticFPN = SemanticFPNCore
