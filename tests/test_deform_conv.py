"""DCNv2 on the CPU by grid_sample: mmcv's definition on hand-made cases,
mmcv's kernel's values and gradients on generated ones, and the layer the
Panoptic FCN configs build."""
import pytest
import torch
import torch.nn.functional as F
from mmcv.ops import ModulatedDeformConv2dPack, modulated_deform_conv2d
from mmengine.config import Config
from mmengine.registry import DefaultScope

from mmpanfpn.ops.deform_conv import DCNv2, modulated_deform_conv2d_sampled


def random_case(seed, stride=1, padding=1, dilation=1, spread=2.0):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn((2, 5, 9, 11), generator=gen)
    weight = torch.randn((4, 5, 3, 3), generator=gen)
    bias = torch.randn((4, ), generator=gen)
    out_h = (9 + 2 * padding - dilation * 2 - 1) // stride + 1
    out_w = (11 + 2 * padding - dilation * 2 - 1) // stride + 1
    # offsets of several pixels: many taps fall outside the map
    offset = torch.randn((2, 18, out_h, out_w), generator=gen) * spread
    mask = torch.rand((2, 9, out_h, out_w), generator=gen)
    return x, offset, mask, weight, bias, (stride, padding, dilation)


def test_zero_offsets_are_a_convolution_times_the_mask():
    x, _, _, weight, bias, _ = random_case(0)
    offset = torch.zeros((2, 18, 9, 11))
    mask = torch.full((2, 9, 9, 11), 0.5)
    out = modulated_deform_conv2d_sampled(x, offset, mask, weight, bias, 1, 1)
    expected = 0.5 * F.conv2d(x, weight, padding=1) + bias[:, None, None]
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


def test_a_row_offset_of_one_reads_one_row_lower():
    """Offset channel 2k shifts tap k by rows (channel 2k + 1 by columns): +1.

    everywhere makes tap (ky, kx) of output (i, j) read x[i + ky, j + kx - 1]
    (zero outside): a plain convolution of x padded by 0 rows on top, 2 at
    the bottom and 1 column each side.
    """
    x, _, _, weight, _, _ = random_case(1)
    offset = torch.zeros((2, 18, 9, 11))
    offset[:, 0::2] = 1
    mask = torch.ones((2, 9, 9, 11))
    out = modulated_deform_conv2d_sampled(x, offset, mask, weight, None, 1, 1)
    expected = F.conv2d(F.pad(x, (1, 1, 0, 2)), weight)
    torch.testing.assert_close(out, expected, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize('seed, stride, padding, dilation, spread',
                         [(0, 1, 1, 1, 2.0), (1, 2, 1, 1, 2.0),
                          (2, 1, 2, 2, 3.0), (3, 1, 0, 1, 0.3),
                          (4, 2, 2, 1, 6.0)])
def test_values_and_gradients_equal_mmcv_kernel(seed, stride, padding,
                                                dilation, spread):
    """Gradients at generic positions (at a whole pixel bilinear sampling has
    no derivative by the offset, and each kernel takes one side)."""
    x, offset, mask, weight, bias, conv = random_case(seed, stride, padding,
                                                      dilation, spread)
    results = []
    for fn in (modulated_deform_conv2d_sampled, modulated_deform_conv2d):
        inputs = [
            t.clone().requires_grad_() for t in (x, offset, mask, weight, bias)
        ]
        extra = (1, 1) if fn is modulated_deform_conv2d else ()
        out = fn(*inputs, *conv, *extra)
        out.backward(torch.ones_like(out))
        results.append([out] + [t.grad for t in inputs])
    for ours, mmcv in zip(*results):
        torch.testing.assert_close(ours, mmcv, atol=1e-4, rtol=1e-4)


def test_taps_on_whole_pixels_and_the_edges_equal_mmcv_kernel():
    x, offset, mask, weight, bias, conv = random_case(5, spread=3.0)
    offset = offset.round()  # every tap on a pixel, many past the edges
    offset[0, 0] = -1.0  # row -1 and the row count: zero, not clamped
    offset[1, 0] = 9.0
    with torch.no_grad():
        torch.testing.assert_close(
            modulated_deform_conv2d_sampled(x, offset, mask, weight, bias,
                                            *conv),
            modulated_deform_conv2d(x, offset, mask, weight, bias, *conv, 1,
                                    1),
            atol=1e-5,
            rtol=1e-5)


@pytest.mark.parametrize('size', [(10, 13), (1, 7), (5, 1), (1, 1)])
def test_layer_is_mmcvs_with_the_same_parameters(size):
    """Also on maps one pixel high or wide (P7 of a small image)."""
    torch.manual_seed(0)
    ref = ModulatedDeformConv2dPack(6, 4, 3, padding=1)
    torch.nn.init.normal_(ref.conv_offset.weight, std=0.3)
    torch.nn.init.normal_(ref.conv_offset.bias, std=0.7)
    layer = DCNv2(6, 4, 3, padding=1)
    layer.load_state_dict(ref.state_dict())
    x = torch.randn((1, 6, *size))
    with torch.no_grad():
        torch.testing.assert_close(layer(x), ref(x), atol=1e-5, rtol=1e-5)


def test_panoptic_fcn_configs_build_it_in_the_mmpanfpn_scope():
    from mmpanfpn.registry import MODELS
    from mmpanfpn.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    cfg = Config.fromfile(
        'configs/panoptic_fcn/panoptic-fcn_r50_fpn_1x_coco.py')
    with DefaultScope.overwrite_default_scope('mmpanfpn'):
        head = MODELS.build(
            dict(
                cfg.model.pos_head,
                num_things_classes=80,
                num_stuff_classes=53))
    assert type(head.convs[0].conv) is DCNv2
