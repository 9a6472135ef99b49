"""mmseg's visualization hook with ``tools/test.py --show-dir``: one picture
per test image, named after it, under ``<work_dir>/<timestamp>/<dir>``, as
mmdet's ``DetVisualizationHook`` writes them for the panoptic models."""
import os.path as osp
from typing import Optional, Sequence

import mmcv
import numpy as np
from mmengine.fileio import get
from mmengine.utils import mkdir_or_exist
from mmseg.engine.hooks import SegVisualizationHook as _MMSegHook
from mmseg.structures import SegDataSample

from mmpanfpn.registry import HOOKS


@HOOKS.register_module()
class SegVisualizationHook(_MMSegHook):
    """mmseg's ``SegVisualizationHook``, plus ``test_out_dir``.

    With ``draw=True`` and ``test_out_dir`` set, every test image is drawn,
    ground truth | prediction, into ``<work_dir>/<timestamp>/<test_out_dir>/
    <image file name>`` by :class:`PanopticLocalVisualizer`'s
    ``draw_semantic`` (the demo's semantic pictures: class legend, enlarged
    to ``min_long_side``), on every rank (mmseg's visualizer draws on rank
    0 only). Without ``test_out_dir`` it is mmseg's hook.

    Args:
        test_out_dir (str, optional): Folder of the test pictures, relative
            to the run's timestamped folder. Defaults to None.
        min_long_side (int): Smaller pictures are enlarged to this; 0 keeps
            the image size. Defaults to 512.
        **kwargs: mmseg's ``draw``, ``interval``, ``show``, ``wait_time``,
            ``backend_args``.
    """

    def __init__(self,
                 test_out_dir: Optional[str] = None,
                 min_long_side: int = 512,
                 **kwargs) -> None:
        super().__init__(**kwargs)
        self.test_out_dir = test_out_dir
        self.min_long_side = min_long_side
        self._drawer = None

    def before_test(self, runner) -> None:
        if self.test_out_dir is None:
            return
        from mmpanfpn.visualization import PanopticLocalVisualizer
        dataset = runner.test_dataloader.dataset
        # not the current instance: the runner's visualizer stays mmseg's
        self._drawer = PanopticLocalVisualizer(
            name=f'seg_show_{id(self)}', min_long_side=self.min_long_side)
        self._drawer.dataset_meta = dataset.metainfo
        self._ignore_index = getattr(dataset, 'ignore_index', 255)
        self._out_dir = osp.join(runner.work_dir, runner.timestamp,
                                 self.test_out_dir)
        mkdir_or_exist(self._out_dir)

    def after_test_iter(self, runner, batch_idx: int, data_batch: dict,
                        outputs: Sequence[SegDataSample]) -> None:
        if self.test_out_dir is None:
            super().after_test_iter(runner, batch_idx, data_batch, outputs)
            return
        if not self.draw:
            return
        for output in outputs:
            image = mmcv.imfrombytes(
                get(output.img_path, backend_args=self.backend_args),
                channel_order='rgb')
            panels = [
                self._drawer.draw_semantic(
                    image,
                    output.get(key).data[0].cpu().numpy(), self._ignore_index)
                for key in ('gt_sem_seg', 'pred_sem_seg') if key in output
            ]
            height = max(p.shape[0] for p in panels)
            picture = np.concatenate([
                np.pad(p, ((0, height - p.shape[0]), (0, 0), (0, 0)))
                for p in panels
            ], 1)
            mmcv.imwrite(
                picture[..., ::-1],
                osp.join(self._out_dir, osp.basename(output.img_path)))
