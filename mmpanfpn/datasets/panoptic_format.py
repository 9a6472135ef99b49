"""The COCO panoptic format: RGB-encoded segment ids in PNG files.

A panoptic PNG stores each pixel's segment id as ``id = R + 256 G + 256^2 B``;
id 0 is void. This module replaces what ``panopticapi.utils`` provides, and
holds the one look-up from segment ids to their place in a segment list
(:func:`segment_index`). It needs numpy and OpenCV only; MMEngine's file
backends (``s3://`` and others) are used when MMEngine is installed.
"""
from typing import List, Sequence

import cv2
import numpy as np

try:
    from mmengine.fileio import get as _get_bytes
except ImportError:  # numpy + OpenCV only (tools/eval_panoptic.py)
    _get_bytes = None

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
        if _get_bytes is None:
            with open(path, 'rb') as f:
                data = f.read()
        else:
            data = _get_bytes(path, backend_args=backend_args)
    except FileNotFoundError:
        raise FileNotFoundError(f'{path}: panoptic PNG not found') from None
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if img is None:
        raise ValueError(f'{path}: not a readable PNG image')
    if img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3:
        return _bgr2id(img).astype(dtype, copy=False)
    return rgb2id(img[..., ::-1]).astype(dtype, copy=False)


class UnlistedSegmentIds(ValueError):
    """Ids of an id map that its segment list does not hold.

    Attributes:
        ids (list[int]): All of them, sorted.
    """

    def __init__(self, ids: List[int]):
        super().__init__(f'segment ids {ids[:10]} are in the PNG but not in '
                         'segments_info')
        self.ids = ids


# odd 64-bit multipliers for the multiplicative hashing of segment ids
_HASH_MULTIPLIERS = np.random.default_rng(20190402).integers(
    0, 2**63, size=16, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
# hash tables above this size fall back to binary search
_MAX_HASH_BITS = 16
# below this many values, binary search is the cheaper look-up
_MIN_HASHED_VALUES = 16384


def _hash_of(slot_ids: np.ndarray):
    """A multiplier and a shift that send the listed ids to distinct buckets.

    ``(id * multiplier mod 2^64) >> shift`` of a table about twice the square
    of their number; None when no multiplier does or the table would be too
    large.
    """
    bits = max(4, int(len(slot_ids)**2 // 2).bit_length())
    if bits > _MAX_HASH_BITS:
        return None
    shift = np.uint64(64 - bits)
    buckets = (slot_ids.view(np.uint64)[None] *
               _HASH_MULTIPLIERS[:, None]) >> shift
    buckets.sort(axis=1)
    distinct = (np.diff(buckets, axis=1) != 0).all(axis=1)
    if not distinct.any():
        return None
    return _HASH_MULTIPLIERS[distinct.argmax()], shift, bits


def segment_index(id_map: np.ndarray,
                  slot_ids: Sequence[int],
                  unlisted: str = 'raise') -> np.ndarray:
    """The slot of every id: its index in ``slot_ids``.

    Many values are looked up in a hash table of the few listed ids, a few by
    binary search; both check every value against the id found, so no
    assumption on how large an id may be.

    Args:
        id_map (np.ndarray): Integer segment ids, any shape.
        slot_ids (Sequence[int]): The listed ids, distinct, e.g. ``[VOID_ID]
            + [s['id'] for s in segments_info]``.
        unlisted (str): What an id that is not listed gets: ``'raise'``
            :class:`UnlistedSegmentIds`, or ``'first'`` slot 0. Defaults to
            'raise'.

    Returns:
        np.ndarray: intp, the shape of ``id_map``.
    """
    values = np.ascontiguousarray(id_map, dtype=np.int64)
    slot_ids = np.asarray(slot_ids, dtype=np.int64)
    hashing = (
        _hash_of(slot_ids) if values.size >= _MIN_HASHED_VALUES else None)
    if hashing is not None:
        multiplier, shift, bits = hashing
        listed = ((slot_ids.view(np.uint64) * multiplier) >> shift).view(
            np.int64)
        # an empty bucket holds slot 0's id, which hashes elsewhere: no
        # value in that bucket equals it
        table_ids = np.full(1 << bits, slot_ids[0])
        table_ids[listed] = slot_ids
        table_slots = np.zeros(1 << bits, np.intp)
        table_slots[listed] = np.arange(len(slot_ids))
        buckets = ((values.view(np.uint64) * multiplier) >> shift).view(
            np.int64)
        found_ids = table_ids[buckets]
        slots = table_slots[buckets]
    else:
        order = np.argsort(slot_ids)
        sorted_ids = slot_ids[order]
        pos = np.searchsorted(sorted_ids, values)
        found_ids = np.take(sorted_ids, pos, mode='clip')
        slots = np.take(order, pos, mode='clip')
    if not np.array_equal(found_ids, values):
        if unlisted == 'first':
            slots[found_ids != values] = 0
        else:
            missing = np.unique(values[~np.isin(values, slot_ids)])
            raise UnlistedSegmentIds(missing.tolist())
    return slots
