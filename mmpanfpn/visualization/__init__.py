from .panoptic_visualizer import (PanopticLocalVisualizer, panoptic_colors,
                                  semantic_segments, thing_outlines,
                                  upscale_for_display)

__all__ = [
    'PanopticLocalVisualizer', 'panoptic_colors', 'semantic_segments',
    'thing_outlines', 'upscale_for_display'
]
