"""Semantic FPN (Kirillov et al., 2019) as an MMSegmentation decode head.

The multi-level part is the shared semantic-FPN core
(:class:`~mmpanfpn.models.semantic_fpn.SemanticFPNCore`); this head adds
only what mmseg's decode-head contract needs: input selection, dropout and
the 1x1 classifier (``cls_seg``); losses and prediction come from
``BaseDecodeHead``.
"""
import re
from typing import List, Sequence

from mmengine.registry import DefaultScope
from mmseg.models.decode_heads.decode_head import BaseDecodeHead
from torch import Tensor

from mmpanfpn.registry import MODELS
from .semantic_fpn import SemanticFPNCore

# mmseg's FPNHead keeps level i's k-th conv at ``scale_heads.{i}.{2k}`` (a
# parameter-free Upsample sits between two convs); the core keeps it at
# ``conv_upsample_layers.{i}.conv.{k}``.
_MMSEG_CONV_KEY = re.compile(r'scale_heads\.(\d+)\.(\d+)\.(.+)')


@MODELS.register_module()
class FPNHead(BaseDecodeHead):
    """Semantic FPN decode head, a drop-in for mmseg's ``FPNHead``: same
    arguments, same logits, and mmseg checkpoints load unchanged.

    Input level ``i`` (stride ``feature_strides[i]``) goes through ``i``
    [3x3 conv, norm, ReLU, 2x bilinear upsample] stages (level 0 through one
    conv), the levels are summed at the finest scale, and a dropout + 1x1
    conv gives the class logits at that scale.

    Args:
        feature_strides (Sequence[int]): Strides of the selected input
            levels, finest first, each twice the previous one, e.g.
            ``(4, 8, 16, 32)``.
        **kwargs: The arguments of mmseg's ``BaseDecodeHead``:
            ``in_channels`` (one per level), ``in_index``, ``channels``,
            ``num_classes``, ``dropout_ratio``, ``conv_cfg``, ``norm_cfg``
            (``SyncBN`` in mmseg's configs, ``GN`` in the paper), ``act_cfg``,
            ``align_corners`` (False only, see below), ``loss_decode``,
            ``ignore_index``, ``sampler``, ``init_cfg``, ...
            ``input_transform`` is always ``'multiple_select'``.

    Raises:
        ValueError: If the strides do not double from level to level, or
            if ``align_corners=True``: the core upsamples with
            ``align_corners=False``, so its logits would silently differ
            from mmseg's.
    """

    def __init__(self, feature_strides: Sequence[int], **kwargs) -> None:
        # BaseDecodeHead builds the losses and the pixel sampler from mmseg's
        # registries by plain name; pin mmseg's scope so that a head built
        # from another scope (``_scope_='mmpanfpn'``) gets mmseg's
        # CrossEntropyLoss (which has the ``loss_name`` mmseg needs), not
        # mmdet's.
        with DefaultScope.overwrite_default_scope('mmseg'):
            super().__init__(input_transform='multiple_select', **kwargs)
        feature_strides = list(feature_strides)
        if len(feature_strides) != len(self.in_channels):
            raise ValueError(f'{len(feature_strides)} feature_strides for '
                             f'{len(self.in_channels)} in_channels')
        doubling = [
            feature_strides[0] * 2**i for i in range(len(feature_strides))
        ]
        if feature_strides != doubling:
            raise ValueError('feature_strides must double from level to '
                             f'level (e.g. {doubling}), got {feature_strides}')
        if self.align_corners:
            raise ValueError('align_corners=True is not supported: the '
                             'semantic-FPN core upsamples with '
                             'align_corners=False')
        self.feature_strides = feature_strides
        self.semantic_fpn = SemanticFPNCore(
            in_channels=self.in_channels,
            channels=self.channels,
            start_level=0,
            end_level=len(feature_strides),
            conv_cfg=self.conv_cfg,
            norm_cfg=self.norm_cfg,
            act_cfg=self.act_cfg)

    def forward(self, inputs: List[Tensor]) -> Tensor:
        """Class logits at the scale of the finest selected level.

        Args:
            inputs (list[Tensor]): Multi-level features (e.g. the FPN neck's
                output); those at ``in_index`` are used, level ``i`` of shape
                (N, in_channels[i], H / feature_strides[i], ...).

        Returns:
            Tensor: (N, out_channels, H / feature_strides[0],
            W / feature_strides[0]) logits.
        """
        return self.cls_seg(self.semantic_fpn(self._transform_inputs(inputs)))

    def _load_from_state_dict(self, state_dict: dict, prefix: str, *args,
                              **kwargs) -> None:
        """Rename mmseg ``FPNHead`` keys to the core's before loading; the
        children are loaded after this call, from the renamed keys."""
        for key in [k for k in state_dict if k.startswith(prefix)]:
            match = _MMSEG_CONV_KEY.fullmatch(key[len(prefix):])
            if match is not None:
                level, index, rest = match.groups()
                new_key = (f'{prefix}semantic_fpn.conv_upsample_layers.'
                           f'{level}.conv.{int(index) // 2}.{rest}')
                state_dict[new_key] = state_dict.pop(key)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)
