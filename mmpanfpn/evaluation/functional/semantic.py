"""Semantic-segmentation pixel histograms of one image, for mIoU."""
import numpy as np

# the label spaces a semantic head's predictions can be scored in
SEMANTIC_LABEL_SPACES = ('stuff_other', 'all')


def semantic_areas(pred_labels: np.ndarray, gt_labels: np.ndarray,
                   isthing: np.ndarray, label_space: str) -> np.ndarray:
    """Semantic pixel histograms of one image.

    The rows are those of mmseg's ``IoUMetric.intersect_and_union``
    (intersection, union, prediction, GT), over the pixels whose GT is not
    ignored, and equal to it (see the tests); one ``np.bincount`` of
    (GT, prediction) pairs does it, where ``intersect_and_union`` pays a
    boolean-mask gather and three ``histc`` passes.

    Args:
        pred_labels (np.ndarray): (H, W) predicted dataset labels; a value
            outside ``[0, C)`` (e.g. 255 for 'other') is no class.
        gt_labels (np.ndarray): (H, W) GT labels, negative for ignored.
        isthing (np.ndarray): (C, ) bool, which labels are things.
        label_space (str): ``'all'``: the C classes; ``'stuff_other'``: the
            S stuff classes (in label order) and one 'things' class that
            takes every GT thing pixel and every predicted non-stuff value,
            for a head that predicts stuff and 'other'.

    Returns:
        np.ndarray: (4, C) or (4, S + 1) int64.
    """
    if label_space not in SEMANTIC_LABEL_SPACES:
        raise ValueError(f'label_space must be one of '
                         f'{SEMANTIC_LABEL_SPACES}, got {label_space!r}')
    num_classes = len(isthing)
    pred_labels = np.asarray(pred_labels).astype(np.int64, copy=False)
    gt_labels = np.asarray(gt_labels).astype(np.int64, copy=False)
    # row C: ignored GT; column C: predictions outside the classes
    pred_col = np.where((pred_labels >= 0) & (pred_labels < num_classes),
                        pred_labels, num_classes)
    gt_row = np.where(gt_labels >= 0, gt_labels, num_classes)
    size = num_classes + 1
    confusion = np.bincount(
        (gt_row * size + pred_col).ravel(),
        minlength=size * size).reshape(size, size)
    confusion = confusion[:num_classes]  # ignored GT pixels drop out
    if label_space == 'all':
        return _rows(confusion[:, :num_classes], confusion[:, num_classes])
    # stuff + 'things': merge every thing label (and 'no class') into one
    num_stuff = int((~isthing).sum())
    reduced = np.full(size, num_stuff, np.int64)
    reduced[:num_classes][~isthing] = np.arange(num_stuff)
    merge = np.zeros((size, num_stuff + 1), np.int64)
    merge[np.arange(size), reduced] = 1
    stuff_other = merge[:num_classes].T @ confusion @ merge
    return _rows(stuff_other, np.zeros(num_stuff + 1, np.int64))


def _rows(square: np.ndarray, last_column: np.ndarray) -> np.ndarray:
    """Intersection, union, prediction and GT areas of a confusion matrix.

    Args:
        square (np.ndarray): (K, K) GT x predicted class.
        last_column (np.ndarray): (K, ) GT pixels predicted as no class.
    """
    intersect = np.diag(square)
    pred_area = square.sum(axis=0)
    gt_area = square.sum(axis=1) + last_column
    return np.stack(
        [intersect, pred_area + gt_area - intersect, pred_area, gt_area])
