from .panoptic_visualizer import (PanopticLocalVisualizer, panoptic_colors,
                                  thing_outlines)

__all__ = ['PanopticLocalVisualizer', 'panoptic_colors', 'thing_outlines']
