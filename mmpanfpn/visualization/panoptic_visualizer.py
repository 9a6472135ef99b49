"""Pictures of panoptic segmentations on MMEngine's visualizer.

Each segment gets a colour (stuff: its class colour; things: the class colour
shifted per instance, so touching instances stay apart), things get a white
outline, and a legend lists the classes present. Ground truth and prediction
are drawn side by side when both are present. Images go to the configured vis
backends (local folder, TensorBoard, ...).
"""
from typing import List, Optional, Sequence, Tuple

import cv2
import mmcv
import numpy as np
from mmengine.visualization import Visualizer

from mmpanfpn.registry import VISUALIZERS
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


@VISUALIZERS.register_module()
class PanopticLocalVisualizer(Visualizer):
    """Draws GT and predicted panoptic segmentations (see module docstring).

    ``add_datasample`` has the signature of mmdet's ``DetLocalVisualizer``,
    so mmdet's ``DetVisualizationHook`` (and ``tools/test.py --show-dir``)
    drive it unchanged.

    Args:
        name (str): Instance name. Defaults to 'visualizer'.
        alpha (float): Opacity of the segment colours. Defaults to 0.6.
        **kwargs: ``vis_backends``, ``save_dir`` as in
            :class:`mmengine.visualization.Visualizer`.
    """

    def __init__(self,
                 name: str = 'visualizer',
                 alpha: float = 0.6,
                 **kwargs) -> None:
        super().__init__(name=name, **kwargs)
        self.alpha = alpha

    # MMEngine sets the meta (class names, palette) on rank 0 only; every
    # rank draws its own share of ``tools/test.py --show-dir`` pictures, so
    # every rank keeps it
    @property
    def dataset_meta(self) -> Optional[dict]:
        return self._dataset_meta

    @dataset_meta.setter
    def dataset_meta(self, dataset_meta: dict) -> None:
        self._dataset_meta = dataset_meta

    def _palette(self) -> List[Tuple[int, int, int]]:
        meta = self.dataset_meta or {}
        classes = meta.get('classes') or ()
        palette = meta.get('palette')
        if palette is None or len(palette) < len(classes):
            palette = [((i * 67 + 31) % 256, (i * 139 + 83) % 256,
                        (i * 211 + 151) % 256) for i in range(len(classes))]
        return [tuple(int(c) for c in p) for p in palette]

    def draw_panoptic(self, image: np.ndarray, id_map: np.ndarray,
                      segments: Sequence[dict]) -> np.ndarray:
        """Blend a panoptic segmentation onto an RGB image.

        Args:
            image (np.ndarray): (H, W, 3) RGB uint8.
            id_map (np.ndarray): (H, W) segment ids, 0 = void.
            segments (list[dict]): ``id``, ``category`` (contiguous label)
                and ``isthing`` of each segment.

        Returns:
            np.ndarray: the (H, W, 3) RGB picture, with a class legend.
        """
        palette = self._palette()
        if id_map.shape != image.shape[:2]:
            image = mmcv.imresize(image, id_map.shape[::-1])
        colors = panoptic_colors(id_map, segments, palette)
        labeled = (id_map > 0)[..., None]
        blend = np.where(labeled,
                         image * (1 - self.alpha) + colors * self.alpha,
                         image).astype(np.uint8)
        blend[thing_outlines(id_map, segments)] = 255
        return self._draw_legend(blend, segments, palette)

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
            text = str(classes[label])
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
