from .fpn_head import FPNHead
from .panoptic_fcn import PanopticFCN
from .panoptic_fcn_heads import (PanopticFCNEncoder, PanopticFCNKernelHead,
                                 PanopticFCNPositionHead)
from .panoptic_fpn import PanopticFPN
from .panoptic_fpn_head import PanopticFPNHead
from .panoptic_fusion_head import (HeuristicFusionHead,
                                   combine_semantic_and_instances)
from .roi_extractors import SingleRoIExtractor
from .semantic_fpn import SemanticFPN, SemanticFPNCore

__all__ = [
    'SemanticFPNCore', 'SemanticFPN', 'PanopticFPNHead', 'HeuristicFusionHead',
    'combine_semantic_and_instances', 'PanopticFPN', 'FPNHead',
    'SingleRoIExtractor', 'PanopticFCN', 'PanopticFCNEncoder',
    'PanopticFCNPositionHead', 'PanopticFCNKernelHead'
]
