"""Pictures of panoptic segmentations on MMEngine's visualizer.

Each segment gets a colour (stuff: its class colour; things: the class colour
shifted per instance, so touching instances stay apart), things get a white
outline, and a legend lists the classes present. Ground truth and prediction
are drawn side by side when both are present. Small images are enlarged first
(a 128-pixel image would otherwise be a quarter legend). Semantic label maps
are drawn the same way, one segment per class. Images go to the configured vis
backends (local folder, TensorBoard, ...).
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.visualization import Visualizer

from mmpanfpn.registry import VISUALIZERS
from ..datasets.coco_panoptic import generated_palette
from ..datasets.panoptic_format import read_panoptic_png, segment_index


def panoptic_colors(id_map: np.ndarray, segments: Sequence[dict],
                    palette: Sequence[Sequence[int]]) -> np.ndarray:
    """An (H, W, 3) uint8 RGB picture of a segment-id map (void black)."""
    lut_ids = np.array([0] + [s['id'] for s in segments], np.int64)
    colors = np.zeros((len(lut_ids), 3), np.float32)
    for k, seg in enumerate(segments, start=1):
        color = np.array(palette[seg['category']], np.float32)
        if seg.get('isthing', False) or seg.get('iscrowd', False):
            # a per-instance shift that keeps the class hue recognisable
            rng = np.random.RandomState(seg['id'] % (2**31))
            color = np.clip(color + rng.randint(-60, 61, 3), 0, 255)
        colors[k] = color
    # ids without a segment: void
    index = segment_index(id_map, lut_ids, unlisted='first')
    return colors[index].astype(np.uint8)


def upscale_for_display(image: np.ndarray, label_map: np.ndarray,
                        min_long_side: int) -> Tuple[np.ndarray, np.ndarray]:
    """Enlarge an image and its label map until the long side has at least
    ``min_long_side`` pixels (unchanged when it already has).

    The image is resampled bilinearly; the label map by nearest neighbour,
    so that it keeps its ids (a 2x3 map enlarged to 4x6 repeats every label
    in a 2x2 block).

    Args:
        image (np.ndarray): (H, W, 3) uint8.
        label_map (np.ndarray): (H, W) ids or labels, any integer type.
        min_long_side (int): Pixels wanted on the long side; 0 keeps the
            size.

    Returns:
        tuple[np.ndarray, np.ndarray]: the (H', W', 3) image and the (H', W')
        label map, of the input dtypes.
    """
    h, w = label_map.shape
    if max(h, w) >= min_long_side:
        return image, label_map
    scale = min_long_side / max(h, w)
    new_h, new_w = max(1, round(h * scale)), max(1, round(w * scale))
    rows = np.arange(new_h) * h // new_h
    cols = np.arange(new_w) * w // new_w
    image = mmcv.imresize(image, (new_w, new_h), interpolation='bilinear')
    return image, label_map[rows[:, None], cols]


def semantic_segments(
        label_map: np.ndarray,
        ignore_index: int = 255) -> Tuple[np.ndarray, List[dict]]:
    """A semantic label map as a segment-id map with one stuff segment per
    class present (id = label + 1; ``ignore_index`` becomes void, 0).

    Args:
        label_map (np.ndarray): (H, W) class labels.
        ignore_index (int): Label of unlabeled pixels. Defaults to 255.

    Returns:
        tuple[np.ndarray, list[dict]]: the (H, W) int64 id map and the
        segments (``id``, ``category``, ``isthing=False``).
    """
    label_map = np.asarray(label_map, np.int64)
    id_map = np.where(label_map == ignore_index, 0, label_map + 1)
    labels = np.unique(label_map[label_map != ignore_index])
    segments = [
        dict(id=int(label) + 1, category=int(label), isthing=False)
        for label in labels
    ]
    return id_map, segments


def thing_outlines(id_map: np.ndarray, segments: Sequence[dict]) -> np.ndarray:
    """A boolean (H, W) mask of the boundary pixels of thing segments."""
    thing_ids = [
        s['id'] for s in segments
        if s.get('isthing', False) or s.get('iscrowd')
    ]
    if not thing_ids:
        return np.zeros(id_map.shape, bool)
    padded = np.pad(id_map, 1, mode='edge')
    boundary = ((padded[1:-1, 1:-1] != padded[:-2, 1:-1]) |
                (padded[1:-1, 1:-1] != padded[2:, 1:-1]) |
                (padded[1:-1, 1:-1] != padded[1:-1, :-2]) |
                (padded[1:-1, 1:-1] != padded[1:-1, 2:]))
    return boundary & np.isin(id_map, thing_ids)


Palette = Tuple[int, int, int]


@VISUALIZERS.register_module()
class PanopticLocalVisualizer(Visualizer):
    """Draws GT and predicted panoptic segmentations (see module docstring).

    ``add_datasample`` has the signature of mmdet's ``DetLocalVisualizer``,
    so mmdet's ``DetVisualizationHook`` (and ``tools/test.py --show-dir``)
    drive it unchanged.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        alpha (float): Opacity of the segment colours. Defaults to 0.6.
        min_long_side (int): Smaller pictures are enlarged to this many
            pixels on the long side (see :func:`upscale_for_display`); 0
            keeps the image size. Defaults to 512.
        **kwargs: ``vis_backends``, ``save_dir`` as in
            :class:`mmengine.visualization.Visualizer`.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 alpha: float = 0.6,
                 min_long_side: int = 512,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.alpha = alpha
        self.min_long_side = min_long_side

    # MMEngine sets the meta (class names, palette) on rank 0 only; every
    # rank draws its own share of ``tools/test.py --show-dir`` pictures, so
    # every rank keeps it
    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta

    def _palette(self, segments: Sequence[dict] = ()) -> List[Palette]:
        """The meta's palette, extended with generated colours to every class
        name and every label of ``segments`` (never indexed past its end)."""
        meta = self.dataset_meta or {}
        palette = [tuple(int(c) for c in p) for p in meta.get('palette') or ()]
        wanted = max([len(meta.get('classes') or ())] +
                     [s['category'] + 1 for s in segments])
        palette += generated_palette(wanted, len(palette))
        return palette

    def draw_panoptic(self, image: np.ndarray, id_map: np.ndarray,
                      segments: Sequence[dict]) -> np.ndarray:
        """Blend a panoptic segmentation onto an RGB image.

        Args:
            image (np.ndarray): (H, W, 3) RGB uint8.
            id_map (np.ndarray): (H, W) segment ids, 0 = void.
            segments (list[dict]): ``id``, ``category`` (contiguous label)
                and ``isthing`` of each segment.

        Returns:
            np.ndarray: the (H, W, 3) RGB picture, with a class legend,
            enlarged to ``min_long_side`` when smaller.
        """
        palette = self._palette(segments)
        if id_map.shape != image.shape[:2]:
            image = mmcv.imresize(image, id_map.shape[::-1])
        image, id_map = upscale_for_display(image, id_map, self.min_long_side)
        colors = panoptic_colors(id_map, segments, palette)
        labeled = (id_map > 0)[..., None]
        blend = np.where(labeled,
                         image * (1 - self.alpha) + colors * self.alpha,
                         image).astype(np.uint8)
        blend[thing_outlines(id_map, segments)] = 255
        return self._draw_legend(blend, segments, palette)

    def draw_semantic(self,
                      image: np.ndarray,
                      label_map: np.ndarray,
                      ignore_index: int = 255) -> np.ndarray:
        """Blend a semantic segmentation onto an RGB image, as
        :meth:`draw_panoptic` does with one segment per class.

        Args:
            image (np.ndarray): (H, W, 3) RGB uint8.
            label_map (np.ndarray): (H, W) class labels.
            ignore_index (int): Label left undrawn. Defaults to 255.

        Returns:
            np.ndarray: the RGB picture, with a class legend.
        """
        return self.draw_panoptic(image,
                                  *semantic_segments(label_map, ignore_index))

    def _draw_legend(self, image: np.ndarray, segments: Sequence[dict],
                     palette: Sequence[Tuple[int, int, int]]) -> np.ndarray:
        """A colour swatch and the name of every class present, top left
        (OpenCV drawing: it works on every rank, unlike MMEngine's rank-0-only
        ``draw_*``)."""
        classes = (self.dataset_meta or {}).get('classes')
        labels = sorted({s['category'] for s in segments})
        if not classes or not labels:
            return image
        image = image.copy()
        h, w = image.shape[:2]
        box = max(6, min(h, w) // 20)
        step = box + 4
        font, scale = cv2.FONT_HERSHEY_SIMPLEX, box / 22
        for row, label in enumerate(labels):
            y = 2 + row * step
            if y + step > h:
                break
            cv2.rectangle(image, (2, y), (2 + box, y + box),
                          tuple(int(c) for c in palette[label]), -1)
            cv2.rectangle(image, (2, y), (2 + box, y + box), (255, 255, 255),
                          1)
            text = str(classes[label] if label < len(classes) else label)
            (tw, _), _ = cv2.getTextSize(text, font, scale, 1)
            x0, x1 = 5 + box, min(w, 9 + box + tw)
            if x1 > x0:  # darken behind the text
                image[y:y + box + 1, x0:x1] //= 2
            cv2.putText(image, text, (x0 + 2, y + box - 1), font, scale,
                        (255, 255, 255), 1, cv2.LINE_AA)
        return image

    @staticmethod
    def gt_segments(data_sample) -> Optional[Tuple[np.ndarray, List[dict]]]:
        """GT id map and segments from a sample's ``seg_map_path`` meta."""
        meta = data_sample.metainfo
        if meta.get('seg_map_path') is None or 'segments_info' not in meta:
            return None
        return read_panoptic_png(meta['seg_map_path']), meta['segments_info']

    @staticmethod
    def pred_segments(data_sample) -> Optional[Tuple[np.ndarray, List[dict]]]:
        if 'pred_panoptic_seg' not in data_sample:
            return None
        pan = data_sample.pred_panoptic_seg
        id_map = pan.sem_seg[0].cpu().numpy()
        return id_map, pan.metainfo.get('segments_info', [])

    def add_datasample(self,
                       name: str,
                       image: np.ndarray,
                       data_sample=None,
                       draw_gt: bool = True,
                       draw_pred: bool = True,
                       show: bool = False,
                       wait_time: float = 0,
                       out_file: Optional[str] = None,
                       pred_score_thr: float = 0.3,
                       step: int = 0) -> None:
        """Draw GT | prediction side by side; save, show or log it.

        With ``out_file`` (``tools/test.py --show-dir``) every rank writes
        the pictures of its own images; showing and the vis backends are
        rank 0's, as in MMEngine.

        Args:
            name (str): Image identifier for the vis backends.
            image (np.ndarray): (H, W, 3) RGB image.
            data_sample: A ``DetDataSample`` with ``pred_panoptic_seg``
                and/or GT (``seg_map_path`` + ``segments_info`` metainfo).
            out_file (str, optional): Write the picture here (BGR file)
                instead of sending it to the vis backends.
            pred_score_thr (float): Unused (the fusion already applied its
                score threshold); kept for mmdet's hook.
        """
        image = np.ascontiguousarray(image.clip(0, 255).astype(np.uint8))
        panels = []
        if data_sample is not None:
            gt = self.gt_segments(data_sample) if draw_gt else None
            pred = self.pred_segments(data_sample) if draw_pred else None
            for found in (gt, pred):
                if found is not None:
                    panels.append(self.draw_panoptic(image, *found))
        if not panels:
            panels = [image]
        height = max(p.shape[0] for p in panels)
        panels = [
            np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)))
            for p in panels
        ]
        drawn = np.concatenate(panels, axis=1)
        self.set_image(drawn)
        if show:
            self.show(drawn, win_name=name, wait_time=wait_time)
        if out_file is not None:
            mmcv.imwrite(drawn[..., ::-1], out_file)
        else:
            self.add_image(name, drawn, step)
