from .loading import LoadPanopticAnnotations

__all__ = ['LoadPanopticAnnotations']
