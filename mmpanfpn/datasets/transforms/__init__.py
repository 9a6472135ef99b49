from .loading import LoadImageFromFile, LoadPanopticAnnotations

__all__ = ['LoadImageFromFile', 'LoadPanopticAnnotations']
