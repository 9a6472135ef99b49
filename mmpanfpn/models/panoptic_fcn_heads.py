"""The heads of Panoptic FCN (Li et al., CVPR 2021): the feature encoder on the
semantic-FPN core, the position head and the kernel head.

Coordinate channels (CoordConv) are appended as ``[row, column]``, each from
-1 to 1: the order of the official code (``torch.meshgrid`` in ``ij`` order),
which is the reverse of mmdet's ``generate_coordinate`` (``[x, y]``); the
official weights therefore load without permuting input channels.
"""
from typing import Sequence, Tuple, Union

import torch
import torch.nn as nn
from mmcv.cnn import ConvModule
from mmdet.models.utils import generate_coordinate
from mmdet.utils import OptConfigType, OptMultiConfig
from mmengine.model import BaseModule, ModuleList
from torch import Tensor

# registers DCNv2 in the mmpanfpn scope: mmcv's layer with a faster CPU path
from mmpanfpn.ops import deform_conv  # noqa: F401
from mmpanfpn.registry import MODELS
from .semantic_fpn import SemanticFPNCore

GN32 = dict(type='GN', num_groups=32, requires_grad=True)


def append_coordinates(x: Tensor) -> Tensor:
    """``x`` with two more channels: the row, then the column coordinate of
    every pixel, both in [-1, 1].

    Args:
        x (Tensor): (N, C, H, W).

    Returns:
        Tensor: (N, C + 2, H, W).
    """
    coords = generate_coordinate(x.shape, x.device).to(x.dtype)
    return torch.cat([x, coords.flip(1)], dim=1)  # [x, y] -> [row, col]


def conv_tower(in_channels: int, channels: int, num_convs: int,
               conv_cfg: OptConfigType, norm_cfg: OptConfigType) -> ModuleList:
    """``num_convs`` x [3x3 conv (plain or per ``conv_cfg``, e.g. DCNv2), norm,
    ReLU]; a bias only without norm."""
    return ModuleList(
        ConvModule(
            in_channels if i == 0 else channels,
            channels,
            3,
            padding=1,
            conv_cfg=conv_cfg,
            norm_cfg=norm_cfg,
            act_cfg=dict(type='ReLU')) for i in range(num_convs))


@MODELS.register_module()
class PanopticFCNEncoder(BaseModule):
    """The feature encoder: the semantic-FPN core (P2-P5 to 1/4 scale, summed;
    attribute ``semantic_fpn``), coordinates, then ``num_convs`` 3x3 convs with
    ReLU (the last one too) to ``channels`` (attribute ``convs``).

    Args:
        in_channels (int | Sequence[int]): FPN channels. Defaults to 256.
        semantic_channels (int): Channels of the semantic-FPN core.
            Defaults to 256.
        start_level (int): First FPN level of the core. Defaults to 0.
        end_level (int): Level after its last. Defaults to 4 (P2..P5).
        channels (int): C_e, the encoded features' channels (and the
            dynamic kernels' length). Defaults to 64; the "*" variant 256.
        num_convs (int): Defaults to 3.
        with_coord (bool): Append coordinates before the convs. Defaults to
            True.
        conv_cfg (dict, optional): Conv of the encoder convs; None plain,
            ``dict(type='DCNv2')`` for the "*" variant. Defaults to None.
        norm_cfg (dict, optional): Norm of the encoder convs. Defaults to
            None (the official encoder has none).
        semantic_norm_cfg (dict, optional): Norm of the core. Defaults to
            GroupNorm(32).
        upsample_once (bool): The core sums P3-P5 before their last 2x
            upsample (see :class:`SemanticFPNCore`; the official code sums
            after it: equal up to float rounding). Defaults to True.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: Union[int, Sequence[int]] = 256,
                 semantic_channels: int = 256,
                 start_level: int = 0,
                 end_level: int = 4,
                 channels: int = 64,
                 num_convs: int = 3,
                 with_coord: bool = True,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = None,
                 semantic_norm_cfg: OptConfigType = GN32,
                 upsample_once: bool = True,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.semantic_fpn = SemanticFPNCore(
            in_channels,
            semantic_channels,
            start_level=start_level,
            end_level=end_level,
            norm_cfg=semantic_norm_cfg,
            upsample_once=upsample_once)
        self.with_coord = with_coord
        self.channels = channels
        self.convs = conv_tower(semantic_channels + 2 * with_coord, channels,
                                num_convs, conv_cfg, norm_cfg)

    def forward(self, feats: Sequence[Tensor]) -> Tensor:
        """
        Args:
            feats (Sequence[Tensor]): FPN levels from P2 on.

        Returns:
            Tensor: (N, channels, H/4, W/4) non-negative features.
        """
        x = self.semantic_fpn(feats)
        if self.with_coord:
            x = append_coordinates(x)
        for conv in self.convs:
            x = conv(x)
        return x


@MODELS.register_module()
class PanopticFCNPositionHead(BaseModule):
    """The position head, shared over the head levels: a conv tower (``convs``;
    deformable by default, as the official ``DEFORM True``), then 3x3 convs to
    thing-centre logits (``thing_out``) and stuff-region logits (``stuff_out``,
    channel 0 the merged things, then the stuff classes).

    Both output biases start at ``bias_value`` (-2.19, a prior of 0.1);
    the official code found that bias 0 can diverge.

    Args:
        num_things_classes (int): Defaults to 80.
        num_stuff_classes (int): Stuff classes, without the merged things
            channel. Defaults to 53.
        in_channels (int): Defaults to 256.
        feat_channels (int): Defaults to 256.
        num_convs (int): Defaults to 3.
        conv_cfg (dict, optional): Tower convs. Defaults to DCNv2; None
            for plain convs.
        norm_cfg (dict, optional): Defaults to GroupNorm(32).
        bias_value (float): Defaults to -2.19.
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 num_things_classes: int = 80,
                 num_stuff_classes: int = 53,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_convs: int = 3,
                 conv_cfg: OptConfigType = dict(type='DCNv2', deform_groups=1),
                 norm_cfg: OptConfigType = GN32,
                 bias_value: float = -2.19,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.convs = conv_tower(in_channels, feat_channels, num_convs,
                                conv_cfg, norm_cfg)
        self.thing_out = nn.Conv2d(
            feat_channels, num_things_classes, 3, padding=1)
        self.stuff_out = nn.Conv2d(
            feat_channels, num_stuff_classes + 1, 3, padding=1)
        for layer in (self.thing_out, self.stuff_out):
            nn.init.normal_(layer.weight, std=0.01)
            nn.init.constant_(layer.bias, bias_value)

    def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
        """
        Args:
            x (Tensor): (N, in_channels, h, w) one level.

        Returns:
            tuple[Tensor, Tensor]: (N, T, h, w) centre logits and
            (N, S + 1, h, w) region logits.
        """
        for conv in self.convs:
            x = conv(x)
        return self.thing_out(x), self.stuff_out(x)


@MODELS.register_module()
class PanopticFCNKernelHead(BaseModule):
    """The kernel head, shared over the head levels: coordinates, a conv tower
    (``convs``), then a 3x3 conv without activation (``out_conv``) to one
    kernel feature per cell.

    Args:
        in_channels (int): Defaults to 256.
        feat_channels (int): Tower and output channels. Defaults to 256.
        num_convs (int): Defaults to 3.
        with_coord (bool): Defaults to True.
        conv_cfg (dict, optional): Defaults to None (plain convs).
        norm_cfg (dict, optional): Defaults to GroupNorm(32).
        init_cfg (dict or list[dict], optional): Initialization config.
    """

    def __init__(self,
                 in_channels: int = 256,
                 feat_channels: int = 256,
                 num_convs: int = 3,
                 with_coord: bool = True,
                 conv_cfg: OptConfigType = None,
                 norm_cfg: OptConfigType = GN32,
                 init_cfg: OptMultiConfig = None) -> None:
        super().__init__(init_cfg=init_cfg)
        self.with_coord = with_coord
        self.feat_channels = feat_channels
        self.convs = conv_tower(in_channels + 2 * with_coord, feat_channels,
                                num_convs, conv_cfg, norm_cfg)
        self.out_conv = nn.Conv2d(feat_channels, feat_channels, 3, padding=1)
        nn.init.normal_(self.out_conv.weight, std=0.01)
        nn.init.constant_(self.out_conv.bias, 0)

    def forward(self, x: Tensor) -> Tensor:
        """
        Args:
            x (Tensor): (N, in_channels, h, w) one level.

        Returns:
            Tensor: (N, feat_channels, h, w) kernel features.
        """
        if self.with_coord:
            x = append_coordinates(x)
        for conv in self.convs:
            x = conv(x)
        return self.out_conv(x)
