"""The tools on two ranks (CPU, gloo), ``--show-dir``, progress bars and a
TensorBoard visualizer chosen by config.

One training run of the tiny config with ``torch.distributed.run`` (2
processes, 2 iterations) makes a checkpoint shared by the module; it is
evaluated by ``tools/test.py`` in one process (with ``--show-dir``, whose
pictures the show-dir test checks) and on two ranks, and the metrics must be
the same numbers exactly.
"""
import glob
import json
import os
import os.path as osp
import socket
import subprocess
import sys
import types

import mmcv
import numpy as np
import pytest
import torch

from mmpanfpn.testing import load_tool

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(ROOT, 'configs', 'panoptic_fpn',
                'panoptic-fpn_tiny_synthetic.py')
TRAIN = osp.join(ROOT, 'tools', 'train.py')
TEST = osp.join(ROOT, 'tools', 'test.py')
ITERS = 2
# a gloo group that waits for a rank that died must not hang the suite
TIMEOUT_S = 600

METRIC_KEYS = {
    *(f'coco_panoptic/{m}{g}' for m in ('PQ', 'SQ', 'RQ')
      for g in ('', '_th', '_st')),
    *(f'coco/{kind}_mAP{s}' for kind in ('bbox', 'segm')
      for s in ('', '_50', '_75', '_s', '_m', '_l')),
    'sem_seg/aAcc',
    'sem_seg/mIoU',
    'sem_seg/mAcc',
}


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def data_options(root) -> list:
    ann = f'{root}/annotations/panoptic_val.json'
    seg = f'{root}/annotations/panoptic_val/'
    return [
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'test_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={ann}',
        f'val_evaluator.seg_prefix={seg}',
        f'test_evaluator.ann_file={ann}',
        f'test_evaluator.seg_prefix={seg}',
    ]


def two_ranks(script: str) -> list:
    return [
        sys.executable, '-m', 'torch.distributed.run', '--nproc_per_node', '2',
        '--master_port',
        str(free_port()), script
    ]


def run(cmd: list) -> subprocess.CompletedProcess:
    env = dict(os.environ, OMP_NUM_THREADS='1')
    proc = subprocess.run(
        cmd,
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env,
        timeout=TIMEOUT_S)
    assert proc.returncode == 0, (proc.stdout[-3000:] + proc.stderr[-5000:])
    return proc


def run_dir(work_dir) -> str:
    """The runner's timestamped log folder (one run per work dir here)."""
    found = [
        d for d in glob.glob(osp.join(str(work_dir), '*'))
        if osp.isdir(d) and osp.basename(d)[:8].isdigit()
    ]
    assert len(found) == 1, found
    return found[0]


def read_test_metrics(work_dir) -> dict:
    """What LoggerHook.after_test_epoch dumped to ``<ts>/<ts>.json``, without
    the timings."""
    folder = run_dir(work_dir)
    path = osp.join(folder, osp.basename(folder) + '.json')
    with open(path) as f:
        lines = [json.loads(line) for line in f if line.strip()]
    assert len(lines) == 1, lines
    return {
        k: v
        for k, v in lines[0].items() if k not in ('time', 'data_time')
    }


def val_image_names(root) -> list:
    with open(osp.join(root, 'annotations', 'panoptic_val.json')) as f:
        return [(img['file_name'], img['height'], img['width'])
                for img in json.load(f)['images']]


@pytest.fixture(scope='module')
def trained(synthetic_root, tmp_path_factory):
    """The tiny config trained for 2 iterations by 2 processes."""
    work_dir = tmp_path_factory.mktemp('dist_train')
    proc = run(
        two_ranks(TRAIN) + [
            TINY, '--launcher', 'pytorch', '--work-dir',
            str(work_dir), '--cfg-options', *data_options(synthetic_root),
            'train_dataloader.batch_size=2', f'train_cfg.max_iters={ITERS}',
            'train_cfg.val_begin=1000',
            f'default_hooks.checkpoint.interval={ITERS}',
            'default_hooks.logger.interval=1'
        ])
    return work_dir, proc


@pytest.fixture(scope='module')
def single_process_test(synthetic_root, trained, tmp_path_factory):
    """tools/test.py in one process, drawing into ``show/`` (the drawing hook
    changes no prediction)."""
    work_dir = tmp_path_factory.mktemp('test_single')
    run([
        sys.executable, TEST, TINY,
        osp.join(str(trained[0]), f'iter_{ITERS}.pth'), '--work-dir',
        str(work_dir), '--show-dir', 'show', '--out',
        osp.join(str(work_dir), 'predictions.pkl'), '--cfg-options',
        *data_options(synthetic_root)
    ])
    return work_dir


def test_out_dumps_every_prediction(synthetic_root, single_process_test):
    """``tools/test.py --out F.pkl`` (mmdet's flag): one record per val image
    with the three outputs of the one pass; a non-pickle name is refused before
    anything runs."""
    import pickle
    with open(osp.join(str(single_process_test), 'predictions.pkl'),
              'rb') as f:
        records = pickle.load(f)
    names = sorted(osp.basename(r['img_path']) for r in records)
    assert names == sorted(n for n, _, _ in val_image_names(synthetic_root))
    for record in records:
        assert {'pred_panoptic_seg', 'pred_instances', 'pred_sem_seg'
                } <= set(record)
        assert record['pred_panoptic_seg']['sem_seg'].shape == (1, 64, 64)
    proc = subprocess.run(
        [sys.executable, TEST, TINY, 'missing.pth', '--out', 'preds.json'],
        capture_output=True,
        text=True,
        cwd=ROOT)
    assert proc.returncode != 0
    assert 'preds.json: the dump file must end with .pkl' in proc.stderr


def test_two_rank_training(trained):
    work_dir, proc = trained
    ckpt = torch.load(
        osp.join(work_dir, f'iter_{ITERS}.pth'),
        map_location='cpu',
        weights_only=False)
    assert ckpt['meta']['iter'] == ITERS
    assert open(osp.join(
        work_dir, 'last_checkpoint')).read().endswith(f'iter_{ITERS}.pth')
    folder = run_dir(work_dir)
    with open(osp.join(folder, osp.basename(folder) + '.log')) as f:
        log = f.read()
    # mmengine's runtime environment block names the launcher and the
    # world size ('GPU number', also on CPU)
    assert 'Distributed launcher: pytorch' in log
    assert 'Distributed training: True' in log
    assert 'GPU number: 2' in log
    assert f'Iter(train) [{ITERS}/{ITERS}]' in log


def test_two_rank_test_equals_single_process(synthetic_root, trained,
                                             single_process_test, tmp_path):
    single = read_test_metrics(single_process_test)
    assert set(single) == METRIC_KEYS
    assert single['sem_seg/aAcc'] > 0  # real predictions were scored

    work_dir = tmp_path / 'test_two_ranks'
    run(
        two_ranks(TEST) + [
            TINY,
            osp.join(str(trained[0]), f'iter_{ITERS}.pth'), '--launcher',
            'pytorch', '--work-dir',
            str(work_dir), '--show-dir', 'show', '--cfg-options',
            *data_options(synthetic_root)
        ])
    folder = run_dir(work_dir)
    with open(osp.join(folder, osp.basename(folder) + '.log')) as f:
        assert 'GPU number: 2' in f.read()
    # bit-identical: the metric sums the per-image records in img_id order
    assert read_test_metrics(work_dir) == single
    # every rank draws its own images (mmdet's visualizer: rank 0's only),
    # the same pictures as one process draws
    names = sorted(n for n, _, _ in val_image_names(synthetic_root))
    show = osp.join(folder, 'show')
    assert sorted(os.listdir(show)) == names
    single_show = osp.join(run_dir(single_process_test), 'show')
    for name in names:
        assert np.array_equal(
            mmcv.imread(osp.join(show, name)),
            mmcv.imread(osp.join(single_show, name))), name


@pytest.mark.parametrize('launcher', ['slurm', 'mpi'])
def test_slurm_and_mpi_launchers_on_cpu(synthetic_root, trained,
                                        single_process_test, tmp_path,
                                        launcher):
    """tools/test.py started as srun / mpirun would start it (their environment
    variables, two processes): the same metrics as one process.

    MMEngine's own slurm/mpi set-up calls torch.cuda.set_device.
    """
    port = str(free_port())
    procs = []
    for rank in range(2):
        if launcher == 'slurm':
            env = dict(
                SLURM_PROCID=str(rank),
                SLURM_NTASKS='2',
                SLURM_LOCALID=str(rank),
                SLURM_NODELIST='localhost')
        else:
            env = dict(
                OMPI_COMM_WORLD_RANK=str(rank),
                OMPI_COMM_WORLD_SIZE='2',
                OMPI_COMM_WORLD_LOCAL_RANK=str(rank))
        env = dict(
            os.environ,
            OMP_NUM_THREADS='1',
            MASTER_ADDR='127.0.0.1',
            MASTER_PORT=port,
            **env)
        procs.append(
            subprocess.Popen([
                sys.executable, TEST, TINY,
                osp.join(str(trained[0]), f'iter_{ITERS}.pth'), '--launcher',
                launcher, '--work-dir',
                str(tmp_path / 'work'), '--cfg-options',
                *data_options(synthetic_root)
            ],
                             cwd=ROOT,
                             env=env,
                             stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE,
                             text=True))
    for proc in procs:
        out, err = proc.communicate(timeout=TIMEOUT_S)
        assert proc.returncode == 0, out[-3000:] + err[-5000:]
    folder = run_dir(tmp_path / 'work')
    with open(osp.join(folder, osp.basename(folder) + '.log')) as f:
        log = f.read()
    assert f'Distributed launcher: {launcher}' in log
    assert 'GPU number: 2' in log
    assert read_test_metrics(tmp_path /
                             'work') == read_test_metrics(single_process_test)


def test_launcher_environment_errors_name_the_variables(monkeypatch):
    from mmpanfpn.utils import tool_config

    for name in ('SLURM_PROCID', 'SLURM_NTASKS', 'OMPI_COMM_WORLD_RANK'):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    for launcher, names in (('slurm', 'SLURM_PROCID, SLURM_NTASKS'),
                            ('mpi', 'OMPI_COMM_WORLD_RANK')):
        cfg = tool_config.prepare_config(TINY, launcher=launcher)
        with pytest.raises(KeyError, match=names):
            tool_config.init_cpu_distributed(cfg)


def test_show_dir_draws_gt_and_prediction_side_by_side(synthetic_root,
                                                       single_process_test):
    # DetVisualizationHook: <work_dir>/<timestamp>/<show-dir>/<image name>
    show_dir = osp.join(run_dir(single_process_test), 'show')
    images = val_image_names(synthetic_root)
    assert sorted(os.listdir(show_dir)) == sorted(n for n, _, _ in images)
    pred_differs = []
    for name, height, width in images:
        # each panel enlarged to 512 pixels on its long side
        scale = 512 / max(height, width)
        height, width = round(height * scale), round(width * scale)
        source = mmcv.imresize(
            mmcv.imread(osp.join(synthetic_root, 'val', name)),
            (width, height))
        drawn = mmcv.imread(osp.join(show_dir, name))
        assert drawn.shape == (height, 2 * width, 3), name
        gt, pred = drawn[:, :width], drawn[:, width:]
        for panel in (gt, pred):
            assert panel.std() > 5, name  # not blank
        # the GT panel is the image with segment colours blended on (every
        # synthetic image is annotated); the predicted panel is the image,
        # coloured where segments were predicted
        diff = np.abs(gt.astype(int) - source.astype(int)).mean()
        assert diff > 10, (name, diff)
        pred_differs.append(
            np.abs(pred.astype(int) - source.astype(int)).mean() > 10)
    assert any(pred_differs)


def test_cpu_distributed_config(monkeypatch):
    """Without CUDA: gloo, and DDP without device ids (the runner's default
    ``device_ids=[LOCAL_RANK]`` is refused for a CPU module); nothing changes
    for a single process."""
    from mmpanfpn.utils import tool_config

    monkeypatch.setattr(torch.cuda, 'is_available', lambda: False)
    cfg = tool_config.prepare_config(TINY, launcher='pytorch')
    assert cfg.env_cfg.dist_cfg.backend == 'gloo'
    assert cfg.model_wrapper_cfg == dict(
        type='MMDistributedDataParallel',
        broadcast_buffers=False,
        find_unused_parameters=False,
        device_ids=None)
    cfg = tool_config.prepare_config(
        TINY, {'model_wrapper_cfg': dict(type='MMFullyShardedDataParallel')},
        launcher='pytorch')
    assert 'device_ids' not in cfg.model_wrapper_cfg  # not a DDP
    cfg = tool_config.prepare_config(TINY, launcher='none')
    assert 'model_wrapper_cfg' not in cfg
    assert not tool_config.init_cpu_distributed(cfg)


def test_offline_loops_show_mmengine_progress_bars(synthetic_root, tmp_path,
                                                   monkeypatch):
    """Dataset generation, conversion and offline PQ evaluation advance an
    mmengine ProgressBar once per image."""
    import io

    import mmengine.utils

    from mmpanfpn.datasets.synthetic import make_synthetic_panoptic
    from mmpanfpn.evaluation import evaluate_panoptic_files

    bars = []

    class RecordingBar(mmengine.utils.ProgressBar):
        # the tools import ProgressBar from mmengine.utils when they run
        def __init__(self, task_num=0, *args, **kwargs):
            kwargs['file'] = io.StringIO()
            super().__init__(task_num, *args, **kwargs)
            bars.append(self)

    monkeypatch.setattr(mmengine.utils, 'ProgressBar', RecordingBar)

    def finished():
        done = [(bar.task_num, bar.completed) for bar in bars]
        bars.clear()
        return done

    make_synthetic_panoptic(
        str(tmp_path / 'gen'), num_train=20, num_val=0, size=(32, 32), seed=1)
    assert finished() == [(20, 20)]

    ann = osp.join(synthetic_root, 'annotations', 'panoptic_val.json')
    seg = osp.join(synthetic_root, 'annotations', 'panoptic_val')
    load_tool('tools/dataset_converters/panoptic2semantic.py').convert(
        ann, seg, str(tmp_path / 'sem'))
    assert finished() == [(8, 8)]

    for nproc in (1, 2):
        result = evaluate_panoptic_files(ann, seg, ann, seg, nproc=nproc)
        assert result.num_images == 8
        assert finished() == [(8, 8)]


class _FakeSummaryWriter:
    """Stands in for torch.utils.tensorboard.SummaryWriter (tensorboard is not
    a dependency)."""
    calls = []

    def __init__(self, log_dir, *args, **kwargs):
        self.calls.append(('init', log_dir))

    def add_image(self, tag, image, step, dataformats):
        self.calls.append(('image', tag, image.shape, step, dataformats))

    def add_scalar(self, tag, value, step):
        self.calls.append(('scalar', tag, value, step))

    def close(self):
        pass


@pytest.mark.parametrize(
    'options',
    [
        # the whole list, as a config file would write it
        {
            'visualizer.vis_backends':
            [dict(type='LocalVisBackend'),
             dict(type='TensorboardVisBackend')]
        },
        # or, from the command line, the one backend swapped
        {
            'visualizer.vis_backends.0.type': 'TensorboardVisBackend'
        },
    ])
def test_tensorboard_backend_by_config(options, tmp_path, monkeypatch):
    from mmdet.structures import DetDataSample
    from mmengine.registry import DefaultScope
    from mmengine.structures import PixelData

    from mmpanfpn.registry import VISUALIZERS
    from mmpanfpn.utils.tool_config import prepare_config

    fake = types.ModuleType('torch.utils.tensorboard')
    fake.SummaryWriter = _FakeSummaryWriter
    monkeypatch.setitem(sys.modules, 'torch.utils.tensorboard', fake)
    _FakeSummaryWriter.calls = []

    cfg = prepare_config(TINY, dict(options), str(tmp_path))
    vis_cfg = cfg.visualizer.copy()
    # the runner adds these; a fresh name keeps instances of other tests
    vis_cfg.update(name=f'tb-{tmp_path.name}', save_dir=str(tmp_path))
    with DefaultScope.overwrite_default_scope(cfg.default_scope):
        vis = VISUALIZERS.build(vis_cfg)
    assert 'TensorboardVisBackend' in [
        type(b).__name__ for b in vis._vis_backends.values()
    ]

    vis.dataset_meta = dict(
        classes=('car', 'road'), palette=[(200, 0, 0), (0, 0, 200)])
    sample = DetDataSample()
    sample.pred_panoptic_seg = PixelData(
        sem_seg=torch.tensor([[[3, 3, 8, 8], [3, 3, 8, 0], [8, 8, 8, 0]]]),
        metainfo=dict(segments_info=[
            dict(id=3, category=0, isthing=True),
            dict(id=8, category=1, isthing=False)
        ]))
    vis.add_datasample(
        'val_img', np.full((3, 4, 3), 100, np.uint8), sample, step=5)
    vis.add_scalars({'loss': 1.5}, step=5)
    calls = _FakeSummaryWriter.calls
    # mmengine's Visualizer puts the backends under <save_dir>/vis_data
    assert calls[0] == ('init', osp.join(str(tmp_path), 'vis_data'))
    # the 3x4 picture is enlarged to 512 px on its long side (x128), as
    # every picture the visualizer draws
    assert ('image', 'val_img', (384, 512, 3), 5, 'HWC') in calls
    assert ('scalar', 'loss', 1.5, 5) in calls
