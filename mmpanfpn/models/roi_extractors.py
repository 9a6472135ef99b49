"""mmdet's ``SingleRoIExtractor`` with mmpanfpn's RoI layers.

Registered as ``SingleRoIExtractor`` in the ``mmpanfpn`` scope, so that the box
and mask RoI extractors of every config built there (mmdet's
``dict(type='SingleRoIExtractor', roi_layer=dict(type='RoIAlign', ...))``
included) resolve ``roi_layer`` types in :mod:`mmpanfpn.ops` first:
``'RoIAlign'`` becomes :class:`mmpanfpn.ops.RoIAlign`, mmcv's layer with the
multi-core CPU inference kernel, whose outputs equal mmcv's bit for bit. Other
layer types, and layer classes given directly, are mmdet's behaviour.
"""
from mmdet.models.roi_heads.roi_extractors import \
    SingleRoIExtractor as _MMDetSingleRoIExtractor
from torch import nn

from mmpanfpn import ops
from mmpanfpn.registry import MODELS


@MODELS.register_module(name='SingleRoIExtractor')
class SingleRoIExtractor(_MMDetSingleRoIExtractor):
    """``SingleRoIExtractor`` whose ``roi_layer`` types are looked up in
    :mod:`mmpanfpn.ops` before ``mmcv.ops`` (module doc)."""

    def build_roi_layers(self, layer_cfg, featmap_strides) -> nn.ModuleList:
        layer_type = layer_cfg.get('type')
        if isinstance(layer_type, str) and hasattr(ops, layer_type):
            layer_cfg = dict(layer_cfg, type=getattr(ops, layer_type))
        return super().build_roi_layers(layer_cfg, featmap_strides)
