"""benchmarks/bench_panoptic_fcn.py runs end to end on the tiny configs: the
stage table, the targets' lines, batched outputs equal to single-image ones and
a training step.

Timings are not asserted (a noisy machine); the output equality is.
"""
import os.path as osp
import subprocess
import sys

from mmpanfpn.testing import checkout_env

ROOT = osp.dirname(osp.dirname(osp.abspath(__file__)))


def test_bench_panoptic_fcn_on_the_tiny_configs():
    fcn = osp.join(ROOT, 'configs', 'panoptic_fcn',
                   'panoptic-fcn_tiny_synthetic.py')
    fpn = osp.join(ROOT, 'configs', 'panoptic_fpn',
                   'panoptic-fpn_tiny_synthetic.py')
    proc = subprocess.run([
        sys.executable,
        osp.join(ROOT, 'benchmarks', 'bench_panoptic_fcn.py'), '--configs',
        fcn, fcn, fpn, '--skip-dcn', '--shape', '64', '96', '--rounds', '1',
        '--warmup', '0', '--batch', '2', '--train-iters', '1'
    ],
                          capture_output=True,
                          text=True,
                          cwd=ROOT,
                          env=checkout_env(),
                          timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = proc.stdout
    for row in ('backbone + FPN', 'encoder', 'heads', 'kernels + fusion',
                'mask generation', 'panoptic assembly', 'post-processing',
                'end to end', 'peak memory', 'post-processing share',
                'Panoptic FPN / FCN no-DCN', 'throughput, batch of 2',
                'training step'):
        assert row in out, row
    assert 'batched outputs equal to single-image ones: True' in out
