"""A run of the tiny Panoptic FPN config killed with SIGKILL, at a chosen point
or in the middle of a checkpoint save, then restarted with ``--resume``, ends
with exactly the weights (and optimizer state) of a run that was never
interrupted."""
import os
import os.path as osp
import signal
import subprocess
import sys
import time

import pytest
import torch

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))
TINY = osp.join(ROOT, 'configs', 'panoptic_fpn',
                'panoptic-fpn_tiny_synthetic.py')
KILLER = osp.join(ROOT, 'tests', 'helpers', 'train_killed_at_replace.py')
MAX_ITERS = 6


def _args(root, work_dir):
    return [
        TINY,
        '--work-dir',
        str(work_dir),
        '--cfg-options',
        f'train_dataloader.dataset.data_root={root}',
        f'val_dataloader.dataset.data_root={root}',
        f'val_evaluator.ann_file={root}/annotations/panoptic_val.json',
        f'val_evaluator.seg_prefix={root}/annotations/panoptic_val/',
        'train_dataloader.batch_size=2',
        f'train_cfg.max_iters={MAX_ITERS}',
        'train_cfg.val_begin=1000',
        # 24 images / batch 2: the data loader starts a new pass at iteration
        # 12 only; a sampler seed other than the run's checks nothing extra
        'default_hooks.checkpoint.interval=2',
        'default_hooks.checkpoint.max_keep_ckpts=1',
        'default_hooks.logger.interval=1',
        'randomness.seed=0',
        'randomness.deterministic=True',
    ]


def _train(root, work_dir, *extra, env=None, check=True):
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), *_args(root, work_dir), *extra
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          env=env)
    if check:
        assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def _state(work_dir):
    ckpt = torch.load(
        osp.join(work_dir, f'iter_{MAX_ITERS}.pth'),
        map_location='cpu',
        weights_only=True)
    return ckpt


def _assert_same_run(a, b):
    assert a['meta']['iter'] == b['meta']['iter'] == MAX_ITERS
    assert a['state_dict'].keys() == b['state_dict'].keys()
    for key, value in a['state_dict'].items():
        assert torch.equal(value, b['state_dict'][key]), key
    momenta_a = [
        s['momentum_buffer'] for s in a['optimizer']['state'].values()
    ]
    momenta_b = [
        s['momentum_buffer'] for s in b['optimizer']['state'].values()
    ]
    assert len(momenta_a) == len(momenta_b) > 0
    assert all(torch.equal(x, y) for x, y in zip(momenta_a, momenta_b))
    assert a['param_schedulers'] == b['param_schedulers']


@pytest.fixture(scope='module')
def uninterrupted(synthetic_root, tmp_path_factory):
    work_dir = tmp_path_factory.mktemp('uninterrupted')
    _train(synthetic_root, work_dir)
    return _state(work_dir)


def test_kill_during_saves_and_iterations_then_resume_is_exact(
        synthetic_root, tmp_path, uninterrupted):
    work_dir = tmp_path / 'killed'
    pointer = work_dir / 'last_checkpoint'

    # 1. killed while iter_2.pth is being written: nothing to resume from
    env = dict(os.environ, KILL_AT_REPLACE='iter_2.pth')
    proc = subprocess.run(
        [sys.executable, KILLER, *_args(synthetic_root, work_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert not (work_dir / 'iter_2.pth').exists() and not pointer.exists()

    # 2. --resume starts from scratch; killed while last_checkpoint is being
    # switched to iter_4: it still names iter_2, which is still there
    # although max_keep_ckpts=1
    env = dict(os.environ, KILL_AT_REPLACE='last_checkpoint@iter_4')
    proc = subprocess.run(
        [sys.executable, KILLER, *_args(synthetic_root, work_dir), '--resume'],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    assert pointer.read_text().endswith('iter_2.pth')
    assert (work_dir / 'iter_2.pth').exists()
    assert (work_dir / 'iter_4.pth').exists()

    # 3. resumed from iter_2, killed from outside in the middle of training
    # (as soon as iter_4.pth is renamed into place)
    proc = subprocess.Popen([
        sys.executable,
        osp.join(ROOT, 'tools', 'train.py'), *_args(synthetic_root, work_dir),
        '--resume'
    ],
                            stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE,
                            text=True,
                            cwd=ROOT)
    os.remove(work_dir / 'iter_4.pth')  # made again by this run
    deadline = time.time() + 300
    while not (work_dir / 'iter_4.pth').exists():
        assert proc.poll() is None, proc.stderr.read()[-3000:]
        assert time.time() < deadline
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    assert not (work_dir / f'iter_{MAX_ITERS}.pth').exists()

    # 4. resumed again (from iter_2 or iter_4, whichever the kill left),
    # runs to the end
    proc = _train(synthetic_root, work_dir, '--resume')
    assert 'Advance dataloader' in proc.stdout + proc.stderr
    _assert_same_run(uninterrupted, _state(work_dir))


def test_resume_ignores_an_empty_last_checkpoint(synthetic_root, tmp_path,
                                                 uninterrupted):
    """An empty ``last_checkpoint`` (what a kill during MMEngine's own
    ``open(..., 'w')`` leaves) does not make ``--resume`` start over: the
    newest ``iter_N.pth`` is used."""
    work_dir = tmp_path / 'empty_pointer'
    env = dict(os.environ, KILL_AT_REPLACE='iter_6.pth')
    proc = subprocess.run(
        [sys.executable, KILLER, *_args(synthetic_root, work_dir)],
        capture_output=True,
        text=True,
        cwd=ROOT,
        env=env)
    assert proc.returncode == -signal.SIGKILL, proc.stderr[-3000:]
    (work_dir / 'last_checkpoint').write_text('')
    proc = _train(synthetic_root, work_dir, '--resume')
    assert 'resuming from the newest checkpoint' in proc.stderr
    assert 'iter_4.pth' in proc.stderr
    _assert_same_run(uninterrupted, _state(work_dir))
