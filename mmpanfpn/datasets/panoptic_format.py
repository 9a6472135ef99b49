"""The COCO panoptic format: RGB-encoded segment ids in PNG files.

A panoptic PNG stores each pixel's segment id as ``id = R + 256 G + 256^2 B``;
id 0 is void. This module replaces what ``panopticapi.utils`` provides.
"""
import cv2
import numpy as np
from mmengine.fileio import get

VOID_ID = 0


def rgb2id(color: np.ndarray) -> np.ndarray:
    """Segment ids of an (H, W, 3) RGB panoptic image, as int64 (H, W)."""
    if color.ndim != 3 or color.shape[-1] != 3:
        raise ValueError(f'expected an (H, W, 3) RGB array, got {color.shape}')
    if color.dtype == np.uint8:
        # R + 256 G + 256^2 B is the little-endian uint32 of bytes (R, G,
        # B, 0): one copy into 4 bytes per pixel, no arithmetic
        rgb0 = np.zeros(color.shape[:2] + (4, ), np.uint8)
        rgb0[..., :3] = color
        return rgb0.view('<u4')[..., 0].astype(np.int64)
    color = color.astype(np.int64)
    return color[..., 0] + 256 * color[..., 1] + 256 * 256 * color[..., 2]


def _bgr2id(img: np.ndarray) -> np.ndarray:
    """The ids of an OpenCV (BGR) uint8 image as uint32 (H, W), without
    flipping it: OpenCV reorders the bytes to (R, G, B, A) and the ids are the
    little-endian uint32 of those bytes, alpha masked out."""
    rgba = cv2.cvtColor(img, cv2.COLOR_BGR2RGBA)
    ids = rgba.view('<u4')[..., 0]
    ids &= 0xFFFFFF
    return ids


def id2rgb(id_map: np.ndarray) -> np.ndarray:
    """Inverse of :func:`rgb2id`: an (H, W, 3) uint8 RGB image."""
    id_map = np.asarray(id_map, dtype=np.int64)
    if id_map.size and (id_map.min() < 0 or id_map.max() >= 256**3):
        raise ValueError('segment ids must lie in [0, 256^3) to be stored '
                         'in a panoptic PNG')
    return np.stack([id_map % 256, id_map // 256 % 256, id_map // 65536],
                    axis=-1).astype(np.uint8)


def read_panoptic_png(path: str,
                      backend_args: dict = None,
                      dtype=np.int64) -> np.ndarray:
    """Read a panoptic PNG into an (H, W) segment-id map.

    Args:
        path (str): The PNG file.
        backend_args (dict, optional): mmengine file backend arguments.
        dtype: Of the map: int64 (default) or any integer type that holds
            24 bits; ``np.uint32`` is the decoder's own, with no copy.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a readable RGB image.
    """
    try:
        data = get(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{path}: panoptic PNG not found') from None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'{path}: not a readable PNG image')
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return _bgr2id(img).astype(dtype, copy=False)
    return rgb2id(img[..., ::-1]).astype(dtype, copy=False)
