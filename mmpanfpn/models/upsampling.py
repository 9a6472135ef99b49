"""Bilinear upsampling by a power of two followed by a per-pixel decision (an
argmax over classes, a threshold), computed exactly but without upsampling the
cells whose decision the low-resolution values already settle."""
from typing import List, Tuple

import torch
import torch.nn.functional as F
from torch import Tensor


def leading_argmax(logits: Tensor) -> Tensor:
    """``logits.argmax(0)``: the first maximum, as ``argmax``, but ``max``'s
    kernel is several times faster over a leading dimension on CPU."""
    return logits.max(dim=0).indices


def _exact_kernel(values: Tensor, size: Tuple[int, int]) -> bool:
    """Whether PyTorch's CPU kernel upsamples ``values`` (.., h, w) to ``size``
    by a power-of-two factor each way, an output of more than 64 pixels each
    way, in float32: then every source coordinate and weight is exact and a
    slice of the input gives the slice of the output."""
    height, width = values.shape[-2:]
    return (values.device.type == 'cpu' and values.dtype == torch.float32
            and all(n > 0 and s % n == 0 and (s // n)
                    & (s // n - 1) == 0 and s > 64
                    for n, s in zip((height, width), size)))


def _cell_corners(values: Tensor) -> List[Tensor]:
    """The four corners of every cell of (..., h, w) values: cell (i, j) holds
    input pixels i..i+1, j..j+1, the last row / column repeated at the edges
    (ids are exact in float32)."""
    values = F.pad(values[None].float(), (0, 1, 0, 1), mode='replicate')[0]
    return [
        values[..., :-1, :-1], values[..., 1:, :-1], values[..., :-1, 1:],
        values[..., 1:, 1:]
    ]


def _cell_max(values: Tensor) -> Tensor:
    """The largest of every cell's four corners."""
    corners = _cell_corners(values)
    return torch.maximum(
        torch.maximum(corners[0], corners[1]),
        torch.maximum(corners[2], corners[3]))


def upsampled_argmax(logits: Tensor,
                     size: Tuple[int, int],
                     crop: Tuple[int, int],
                     band: int = 16) -> Tensor:
    """The classes of bilinearly upsampled logits, without upsampling most of
    them: exactly ``F.interpolate(logits[None], size, mode='bilinear',
    align_corners=False)[0, :, :crop[0], :crop[1]].argmax(0)``.

    An output pixel mixes, with non-negative weights, the (at most) four
    input pixels around it, a "cell"; in float32 the mix is off by less than
    ``1e-6 * max|logits|``, so ``tol = 1e-5 * max|logits|`` bounds it
    safely. Where the four have the same top class, each by more than
    ``tol``, the cell's output pixels have that class: it is read from the
    input. Elsewhere, a class whose largest value in the cell is more than
    ``tol`` below the best class-wise smallest value can be neither the
    largest nor tied, so each band of rows is upsampled only for the few
    classes that can win in it, by ``F.interpolate`` on a slice of the
    input with the same scale. With a power-of-two factor every source
    coordinate and weight is exact, so a slice, or a subset of the classes,
    gives the values of the whole bit for bit (CPU kernel, at least 4
    classes and 65 output pixels each way; checked in
    ``tests/test_speed_paths.py``). Other factors, devices, dtypes than
    float32, few classes or non-finite logits take the plain way.

    Args:
        logits (Tensor): (C, h, w) logits.
        size (tuple[int, int]): (H, W) the upsampled size.
        crop (tuple[int, int]): The top-left part of it wanted.
        band (int): Input rows per band. Defaults to 16.

    Returns:
        Tensor: (crop[0], crop[1]) int64 classes.
    """
    num_classes, height, width = logits.shape
    ratios = (size[0] // height, size[1] // width)
    exact = num_classes > 3 and _exact_kernel(logits, size)
    limit = logits.abs().max() if exact else None
    if not exact or not torch.isfinite(limit):
        upsampled = F.interpolate(
            logits[None], size=size, mode='bilinear', align_corners=False)
        return leading_argmax(upsampled[0, :, :crop[0], :crop[1]])
    tol = 1e-5 * limit

    best, top = logits.max(dim=0)
    runner_up = logits.scatter(0, top[None], float('-inf')).amax(dim=0)
    certain = -_cell_max(runner_up - best) > tol  # the smallest margin
    top_corner, *other_corners = _cell_corners(top)
    for other in other_corners:
        certain &= top_corner == other

    # the cell of every output row / column, as the bilinear kernel takes
    # it: floor((y + 0.5) / r - 0.5), clamped
    row_cell, col_cell = [(2 * torch.arange(c, device=logits.device) + 1 -
                           r).div(2 * r,
                                  rounding_mode='floor').clamp(0, n - 1)
                          for r, n, c in zip(ratios, (height, width), crop)]

    def per_pixel(cells: Tensor) -> Tensor:
        return cells.index_select(0, row_cell).index_select(1, col_cell)

    labels = per_pixel(top)
    uncertain = ~certain
    if not uncertain.any():
        return labels
    redo = per_pixel(uncertain)

    # a class can win in a cell only if its largest value there is within
    # tol of the best class-wise smallest value
    largest, smallest = _cell_max(logits), -_cell_max(-logits)
    candidate = largest >= smallest.amax(dim=0) - tol
    candidate &= uncertain
    del largest, smallest
    num_rows = int(row_cell[-1]) + 1
    ratio = ratios[0]
    for i0 in range(0, num_rows, band):
        i1 = min(i0 + band, num_rows)
        here = candidate[:, i0:i1].flatten(1).any(1)
        if not here.any():
            continue
        # at least 4 classes: fewer go to another CPU kernel (the extra
        # ones cannot win)
        here[(~here).nonzero()[:max(4 - int(here.sum()), 0), 0]] = True
        channels = here.nonzero()[:, 0]
        # the output rows of these cells, and the input rows around them:
        # one more each side, and at least 65 output rows (smaller outputs
        # go to another CPU kernel)
        y0, y1 = torch.searchsorted(row_cell,
                                    row_cell.new_tensor([i0, i1])).tolist()
        a0, a1 = max(i0 - 1, 0), min(i1 + 1, height)
        a0 = max(min(a0, a1 - -(-65 // ratio)), 0)
        a1 = min(max(a1, a0 + -(-65 // ratio)), height)
        part = F.interpolate(
            logits[:, a0:a1].index_select(0, channels)[None],
            size=(ratio * (a1 - a0), size[1]),
            mode='bilinear',
            align_corners=False)[0]
        winners = channels[leading_argmax(part[:, y0 - ratio * a0:y1 -
                                               ratio * a0, :crop[1]])]
        labels[y0:y1] = torch.where(redo[y0:y1], winners, labels[y0:y1])
    return labels


def upsampled_threshold(probs: Tensor,
                        size: Tuple[int, int],
                        crop: Tuple[int, int],
                        thr: float,
                        tile: int = 16,
                        chunk: int = 1024) -> Tuple[Tensor, Tensor]:
    """Binary masks of bilinearly upsampled maps and their boxes, without
    upsampling most of them: the masks are exactly ``F.interpolate(probs[None],
    size, mode='bilinear', align_corners=False)[0, :, :crop[0], :crop[1]] >
    thr``, the boxes what mmdet's ``mask2bbox`` gives for them.

    As in :func:`upsampled_argmax`, an output pixel mixes the four input
    pixels of its cell with non-negative weights, within ``tol = 1e-5 *
    max(|probs|, |thr|)``: a cell whose four corners all exceed ``thr + tol``
    is foreground, one whose corners are all below ``thr - tol`` background,
    read from the input. The output is cut into tiles of ``tile`` x ``tile``
    cells; a tile with an undecided cell is upsampled whole by
    ``F.interpolate`` on a slice of the input with the same scale, which
    gives the values of the whole bit for bit (power-of-two factor, CPU,
    float32, at least 4 channels, outputs of 65 pixels or more; the tiles of
    all maps are stacked as the channels of ``chunk`` at a time). Other
    factors, devices, dtypes, small inputs or non-finite values take the plain
    way.

    Args:
        probs (Tensor): (N, h, w) maps.
        size (tuple[int, int]): (H, W) the upsampled size.
        crop (tuple[int, int]): The top-left part of it wanted.
        thr (float): Foreground is above it.
        tile (int): Cells per tile side (raised to give outputs of 65
            pixels). Defaults to 16.
        chunk (int): Tiles upsampled at once. Defaults to 1024.

    Returns:
        tuple[Tensor, Tensor]: (N, crop[0], crop[1]) bool masks (on the
        exact path a view into a buffer a tile larger) and (N, 4) float32
        boxes ``x0, y0, x1, y1``.
    """
    num, height, width = probs.shape
    if num == 0:
        return (probs.new_zeros((0, *crop),
                                dtype=torch.bool), probs.new_zeros((0, 4)))
    ratio = size[0] // height if height else 0
    tile = max(tile, -(-65 // max(ratio, 1)))
    exact = (
        _exact_kernel(probs, size) and size[1] // width == ratio and ratio > 1
        and min(height, width) >= tile + 2)
    limit = torch.maximum(probs.abs().max(), probs.new_tensor(abs(thr))) \
        if exact else None
    if not exact or not torch.isfinite(limit):
        masks = F.interpolate(
            probs[None], size=size, mode='bilinear',
            align_corners=False)[0, :, :crop[0], :crop[1]] > thr
        return masks, mask_boxes(masks)
    tol = float(1e-5 * limit)

    def all_corners(values: Tensor) -> Tensor:
        # cell-wise AND of the four corners (edges repeated)
        rows = values.clone()
        rows[:, :-1] &= values[:, 1:]
        cells = rows.clone()
        cells[:, :, :-1] &= rows[:, :, 1:]
        return cells

    foreground = all_corners(probs > thr + tol)
    undecided = ~foreground & ~all_corners(probs < thr - tol)

    # Output pixel y lies in cell floor((y + 0.5) / r - 0.5) (clamped to
    # 0 .. h-1), the kernel's source row: with one copy of cell 0 in front
    # ("padded cells"), padded cell p covers the r pixels y + r - r // 2 in
    # [p r, p r + r), so tile (a, b) of the padded cell grid is an aligned
    # block of S x S such pixels, S = r * tile.
    shift, side = ratio - ratio // 2, ratio * tile
    rows, cols = [-(-(c + shift) // side) for c in crop]

    def padded(cells: Tensor) -> Tensor:
        out = cells.new_zeros((num, rows * tile, cols * tile))
        h, w = min(height, rows * tile - 1), min(width, cols * tile - 1)
        out[:, 1:h + 1, 1:w + 1] = cells[:, :h, :w]
        out[:, 0, 1:w + 1] = cells[:, 0, :w]
        out[:, :h + 1, 0] = out[:, :h + 1, 1]
        return out

    # each padded cell repeated r x r times (columns first: then whole rows
    # are copied), and the rows / columns with a foreground pixel inside the
    # crop (padded cells p < (crop + shift) / r reach into it)
    cells = padded(foreground)
    out = cells[..., None].expand(num, rows * tile, cols * tile,
                                  ratio).reshape(num, rows * tile, -1)
    out = out[:, :, None].expand(num, rows * tile, ratio,
                                 cols * side).reshape(num, rows * side, -1)
    reach = [-(-(c + shift) // ratio) for c in crop]
    hits = [
        cells[:, :, :reach[1]].any(2).repeat_interleave(ratio, 1).int(),
        cells[:, :reach[0]].any(1).repeat_interleave(ratio, 1).int()
    ]
    todo = padded(undecided).view(num, rows, tile, cols, tile).any(4).any(2)
    tiles = out.view(num, rows, side, cols, side).permute(0, 1, 3, 2, 4)

    # Tile a needs input rows a * tile - 1 .. a * tile + tile - 1: a slice
    # of tile + 2 rows from row a * tile - 1, moved inside the input at its
    # edges. Padded pixel q of the tile is output pixel q - shift, pixel
    # q - shift - r * y0 of the slice's upsampling; past the input's last
    # row the slice's upsampling ends (those pixels are outside the crop).
    length = ratio * (tile + 2)

    def placement(index: Tensor, size: int) -> Tuple[Tensor, Tensor]:
        start = (index * tile - 1).clamp(0, size - tile - 2)
        return start, index * side - shift - ratio * start

    span = torch.arange(tile + 2)
    index, tile_rows, tile_cols = todo.nonzero(as_tuple=True)
    y0, dy = placement(tile_rows, height)
    x0, dx = placement(tile_cols, width)
    # the tiles of one (dy, dx) take the same part of their upsampling
    key = dy * (length + side + shift) + dx
    for g in key.unique().tolist():
        members = (key == g).nonzero()[:, 0]
        oy, ox = int(dy[members[0]]), int(dx[members[0]])
        top, left = max(oy, 0), max(ox, 0)
        bottom, right = min(oy + side, length), min(ox + side, length)
        for start in range(0, len(members), chunk):
            k = members[start:start + chunk]
            n, a, b = index[k], tile_rows[k], tile_cols[k]
            patches = probs[n[:, None, None], (y0[k, None] + span)[:, :, None],
                            (x0[k, None] + span)[:, None, :]]
            if len(k) < 4:  # fewer channels go to another CPU kernel
                patches = torch.cat([patches, patches[:1].expand(3, -1, -1)])
            up = F.interpolate(
                patches[None],
                size=(length, length),
                mode='bilinear',
                align_corners=False)[0, :len(k)]
            found = up[:, top:bottom, left:right] > thr
            tiles[:, :, :, top - oy:bottom - oy,
                  left - ox:right - ox][n, a, b] = found
            # the rows / columns of the tile inside the crop
            inside = [
                (0 <= y) & (y < c)
                for y, c in zip((a[:, None] * side +
                                 torch.arange(top - oy, bottom - oy) - shift,
                                 b[:, None] * side +
                                 torch.arange(left - ox, right - ox) -
                                 shift), crop)
            ]
            hits[0].view(num, rows, side)[:, :, top - oy:bottom - oy] \
                .index_put_((n, a), (found & inside[1][:, None]).any(2).int(),
                            accumulate=True)
            hits[1].view(num, cols, side)[:, :, left - ox:right - ox] \
                .index_put_((n, b),
                            (found & inside[0][:, :, None]).any(1).int(),
                            accumulate=True)
    masks = out[:, shift:shift + crop[0], shift:shift + crop[1]]
    return masks, _boxes(
        *[hit[:, shift:shift + size] > 0 for hit, size in zip(hits, crop)])


def _boxes(row_hits: Tensor, col_hits: Tensor) -> Tensor:
    """(N, 4) ``x0, y0, x1, y1`` float32 boxes of masks from their (N, H) rows
    and (N, W) columns holding foreground, as mmdet's ``mask2bbox`` (``x1, y1``
    one past the last pixel; zeros for an empty mask)."""
    boxes = []
    for hits in (col_hits, row_hits):
        first = hits.byte().argmax(1)
        last = hits.shape[1] - hits.flip(1).byte().argmax(1)
        boxes.append((first, last))
    boxes = torch.stack([boxes[0][0], boxes[1][0], boxes[0][1], boxes[1][1]],
                        1).float()
    return boxes * (col_hits.any(1) & row_hits.any(1))[:, None]


def mask_boxes(masks: Tensor) -> Tensor:
    """(N, 4) float32 boxes of (N, H, W) bool masks, as mmdet's ``mask2bbox``
    gives them, without a loop over the masks."""
    return _boxes(masks.any(2), masks.any(1))
