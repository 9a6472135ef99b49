"""benchmarks/bench_model.py runs end to end on the tiny config against mmdet's
PanopticFPN (mirrored sizes, same weights and input): the stage table, peak
memory, a training step and the output identity check.

Timings are not asserted (a noisy machine); the identity is.
"""
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_benchmark_vs_mmdet_on_the_tiny_config():
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'benchmarks', 'bench_model.py'),
        osp.join(ROOT, 'configs', 'panoptic_fpn',
                 'panoptic-fpn_tiny_synthetic.py'), '--vs-mmdet',
        '--mmdet-config', 'mirror', '--shape', '96', '128', '--num-images',
        '1', '--warmup', '0', '--score-thr', '0.3', '--train-step',
        '--train-batch', '1', '--train-iters', '1'
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for row in ('backbone + FPN', 'RPN', 'RoI (bbox + mask heads)',
                'semantic head', 'post-processing', 'end to end', 'images/s',
                'peak memory (inference)', 'training step'):
        assert row in out, row
    assert "panoptic outputs identical to mmdet's: 1/1 images" in out
    assert 'met      outputs identical' in out
