"""mmpanfpn's CPU RoIAlign (mmpanfpn._ext) equals mmcv's, bit for bit.

The kernel is a re-implementation of mmcv's average RoIAlign for speed, so its
specification is mmcv's output: ``torch.equal`` on hand-made and on generated
RoIs of every kind (tiny, huge, zero-size, partly and wholly off the map, other
images of the batch), at the FPN scales, with adaptive and fixed sampling,
aligned or not, float32 and float64, NCHW and channels-last features.
"""
import pytest
import torch
from mmcv.ops import RoIAlign as MMCVRoIAlign
from mmcv.ops import roi_align as mmcv_roi_align

from mmpanfpn.ops import (HAS_CPU_KERNEL, RoIAlign, roi_align_cpu,
                          roi_align_cpu_backward)

pytestmark = pytest.mark.skipif(
    not HAS_CPU_KERNEL, reason='mmpanfpn built without its C++ ops')


def mmcv_avg(features, rois, size, scale, ratio, aligned):
    return mmcv_roi_align(features, rois, size, scale, ratio, 'avg', aligned)


def test_hand_made_bilinear_samples():
    # value at (y, x) is 10 * y + x
    features = (torch.arange(4.).view(4, 1) * 10 +
                torch.arange(4.).view(1, 4)).view(1, 1, 4, 4)
    # aligned: box [0.5, 2.5]^2 -> start 0, size 2; one 1x1 bin sampled
    # 2x2 times at 0.5 and 1.5: mean of 5.5, 6.5, 15.5, 16.5 = 11
    rois = torch.tensor([[0., 0.5, 0.5, 2.5, 2.5]])
    out = roi_align_cpu(features, rois, (1, 1), 1.0, 0, True)
    assert out.item() == pytest.approx(11.0)
    # 2x2 bins, one sample each at 0.5 / 1.5: the four values above
    out = roi_align_cpu(features, rois, (2, 2), 1.0, 1, True)
    assert out.flatten().tolist() == [5.5, 6.5, 15.5, 16.5]
    # two bins 3 wide from x = 2, sampled at x = 3.5 and 6.5, y = 0.5:
    # x = 3.5 is past the last column (3) but inside [-1, width]: it reads
    # column 3, (3 + 13) / 2 = 8; x = 6.5 is off the map: 0
    rois = torch.tensor([[0., 2.5, 0.5, 8.5, 1.5]])
    out = roi_align_cpu(features, rois, (1, 2), 1.0, 1, True)
    assert out.flatten().tolist() == [8.0, 0.0]
    for sizes in ((1, 1), (2, 2), (1, 2)):
        for roi in ([0., 0.5, 0.5, 2.5, 2.5], [0., 2.5, 0.5, 8.5, 1.5]):
            rois = torch.tensor([roi])
            assert torch.equal(
                roi_align_cpu(features, rois, sizes, 1.0, 1, True),
                mmcv_avg(features, rois, sizes, 1.0, 1, True))


def generated_rois(gen, num, height, width, stride, num_images):
    """Boxes in image pixels around a (height, width) map of ``stride``."""
    img_h, img_w = height * stride, width * stride
    kind = torch.randint(0, 5, (num, ), generator=gen)
    size = torch.rand(num, 2, generator=gen) * torch.tensor([img_w, img_h])
    size[kind == 0] *= 0.02  # tiny
    size[kind == 1] *= 1.5  # larger than the image
    size[kind == 2] = 0.  # zero area
    x1y1 = torch.rand(
        num, 2, generator=gen) * torch.tensor(
            [img_w, img_h]) * 1.4 - 0.2 * torch.tensor([img_w, img_h])
    x1y1[kind == 3] += torch.tensor([img_w, img_h]) * 2  # off the map
    batch = torch.randint(0, num_images, (num, 1), generator=gen).float()
    return torch.cat([batch, x1y1, x1y1 + size], dim=1)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_equals_mmcv_on_generated_rois(dtype):
    gen = torch.Generator().manual_seed(0)
    checked = 0
    for stride, (height, width) in ((4, (40, 56)), (8, (20, 28)),
                                    (16, (10, 14)), (32, (5, 7))):
        features = torch.randn(
            2, 24, height, width, generator=gen, dtype=dtype) * 10
        rois = generated_rois(gen, 60, height, width, stride, 2).to(dtype)
        for size in ((7, 7), (14, 14), (3, 5)):
            for ratio in (0, 2):
                for aligned in (True, False):
                    ours = roi_align_cpu(features, rois, size, 1 / stride,
                                         ratio, aligned)
                    theirs = mmcv_avg(features, rois, size, 1 / stride, ratio,
                                      aligned)
                    assert ours.shape == theirs.shape
                    assert torch.equal(ours,
                                       theirs), (stride, size, ratio, aligned)
                    checked += 1
    assert checked == 4 * 3 * 2 * 2


def test_fpn_sized_features_and_channels_last():
    """256 channels at an FPN level: the vectorised channel loop."""
    gen = torch.Generator().manual_seed(1)
    features = torch.randn(1, 256, 50, 76, generator=gen)
    rois = generated_rois(gen, 200, 50, 76, 16, 1)
    rois[:, 3:] = torch.maximum(rois[:, 3:], rois[:, 1:3])
    theirs = mmcv_avg(features, rois, (7, 7), 1 / 16, 0, True)
    assert torch.equal(
        roi_align_cpu(features, rois, (7, 7), 1 / 16, 0, True), theirs)
    last = features.contiguous(memory_format=torch.channels_last)
    assert torch.equal(
        roi_align_cpu(last, rois, (7, 7), 1 / 16, 0, True), theirs)


def test_no_rois_negative_size_and_bad_batch_index():
    features = torch.randn(1, 3, 8, 8)
    out = roi_align_cpu(features, torch.zeros(0, 5), (7, 7), 0.25, 0, True)
    assert out.shape == (0, 3, 7, 7)
    with pytest.raises(RuntimeError, match='ROIs in ROIAlign'):
        roi_align_cpu(features, torch.tensor([[0., 5., 5., 2., 9.]]), (7, 7),
                      1.0, 0, True)
    # mmcv would read past the features; here it is an error naming the RoI
    rois = torch.tensor([[0., 1., 1., 4., 4.], [1., 1., 1., 4., 4.]])
    with pytest.raises(
            RuntimeError,
            match='RoI 1 has batch index 1, the '
            'features have 1 image'):
        roi_align_cpu(features, rois, (7, 7), 1.0, 0, True)
    with pytest.raises(RuntimeError, match='RoI 1 has batch index 1'):
        roi_align_cpu_backward(
            torch.ones(2, 3, 7, 7), rois, (1, 3, 8, 8), 1.0, 0, True)


def test_layer_forward_and_gradient_equal_mmcv():
    gen = torch.Generator().manual_seed(2)
    base = torch.randn(2, 8, 16, 20, generator=gen)
    rois = generated_rois(gen, 30, 16, 20, 8, 2)
    rois[:, 3:] = torch.maximum(rois[:, 3:], rois[:, 1:3])
    grad = torch.randn(30, 8, 7, 7, generator=gen)
    results = []
    for layer in (RoIAlign((7, 7), 1 / 8, 0), MMCVRoIAlign((7, 7), 1 / 8, 0)):
        features = base.clone().requires_grad_(True)
        out = layer(features, rois)
        out.backward(grad)
        results.append((out.detach(), features.grad))
    assert torch.equal(results[0][0], results[1][0])
    assert torch.equal(results[0][1], results[1][1])
    assert results[0][1].abs().sum() > 0


def test_roi_extractor_of_the_scope_builds_it():
    from mmpanfpn.registry import MODELS
    extractor = MODELS.build(
        dict(
            type='SingleRoIExtractor',
            roi_layer=dict(type='RoIAlign', output_size=7, sampling_ratio=0),
            out_channels=8,
            featmap_strides=[4, 8]))
    assert all(type(layer) is RoIAlign for layer in extractor.roi_layers)
    gen = torch.Generator().manual_seed(3)
    feats = (torch.randn(1, 8, 32, 32, generator=gen),
             torch.randn(1, 8, 16, 16, generator=gen))
    rois = torch.tensor([[0., 4., 4., 20., 30.], [0., 0., 0., 128., 120.]])
    out = extractor(feats, rois)
    # sqrt(128 * 120) >= 112: the second box maps to the coarser level
    assert torch.equal(out[0:1], mmcv_avg(feats[0], rois[0:1], 7, 0.25, 0,
                                          True))
    assert torch.equal(out[1:2],
                       mmcv_avg(feats[1], rois[1:2], 7, 0.125, 0, True))


def test_benchmark_script_checks_equality_and_prints_ratios():
    import os.path as osp
    import subprocess
    import sys
    root = osp.dirname(osp.dirname(osp.abspath(__file__)))
    proc = subprocess.run([
        sys.executable,
        osp.join(root, 'benchmarks',
                 'bench_roi_align.py'), '--shape', '160', '224', '--channels',
        '16', '--proposals', '60', '--detections', '12', '--repeats', '1'
    ],
                          capture_output=True,
                          text=True,
                          cwd=root,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert ('outputs and gradients equal to mmcv\'s (torch.equal): yes'
            in proc.stdout)
    rows = [
        line for line in proc.stdout.splitlines()
        if line.startswith(('forward', 'backward'))
    ]
    assert len(rows) == 6 and all(row.endswith('x') for row in rows)


@pytest.mark.parametrize('dtype', [torch.float32, torch.float64])
def test_backward_equals_mmcv_on_generated_rois(dtype):
    """Overlapping RoIs add to the same elements: the sums must be mmcv's term
    by term, in its order."""
    gen = torch.Generator().manual_seed(4)
    checked = 0
    for stride, (height, width) in ((4, (24, 36)), (16, (6, 9))):
        shape = (2, 40, height, width)  # 40 channels: uneven thread blocks
        rois = generated_rois(gen, 50, height, width, stride, 2).to(dtype)
        rois[:, 3:] = torch.maximum(rois[:, 3:], rois[:, 1:3])
        for size in ((7, 7), (14, 14)):
            grad = torch.randn(50, 40, *size, generator=gen, dtype=dtype)
            for ratio in (0, 2):
                for aligned in (True, False):
                    ours = roi_align_cpu_backward(grad, rois, shape,
                                                  1 / stride, ratio, aligned)
                    features = torch.zeros(
                        shape, dtype=dtype, requires_grad=True)
                    mmcv_roi_align(features, rois, size, 1 / stride, ratio,
                                   'avg', aligned).backward(grad)
                    assert torch.equal(ours, features.grad), (stride, size,
                                                              ratio, aligned)
                    checked += 1
    assert checked == 2 * 2 * 2 * 2


def test_without_the_extension_mmcv_runs(tmp_path):
    """A build without mmpanfpn._ext (MMPANFPN_WITH_OPS=0, or a stale .so)
    imports fine and the layer is mmcv's; the kernel functions say why they
    cannot run."""
    import subprocess
    import sys
    script = tmp_path / 'no_ext.py'
    script.write_text('''
import sys
sys.modules['mmpanfpn._ext'] = None  # import fails as if never built
import torch
from mmcv.ops import roi_align
from mmpanfpn.ops import HAS_CPU_KERNEL, RoIAlign, roi_align_cpu
assert not HAS_CPU_KERNEL
features = torch.randn(1, 4, 16, 16, requires_grad=True)
rois = torch.tensor([[0., 1., 2., 30., 40.]])
out = RoIAlign((7, 7), 0.5, 0)(features, rois)
assert torch.equal(out, roi_align(features, rois, 7, 0.5, 0, 'avg', True))
out.sum().backward()
assert features.grad.abs().sum() > 0
try:
    roi_align_cpu(features, rois, (7, 7), 0.5, 0, True)
except RuntimeError as err:
    assert 'mmpanfpn._ext' in str(err) and 'pip install' in str(err)
    print('fallback ok')
''')
    proc = subprocess.run([sys.executable, str(script)],
                          capture_output=True,
                          text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert 'fallback ok' in proc.stdout
