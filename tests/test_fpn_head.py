"""mmpanfpn's FPNHead: a drop-in for mmseg's FPNHead on the shared core.

Parity: the same small EncoderDecoder (ResNet-18 V1c, FPN, FPNHead, BN) is
built with mmseg's head and with ours; mmseg's state_dict, saved to a .pth,
loads into ours with ``strict=True`` and both give the same logits.
"""
import copy
import math

import pytest
import torch
from mmengine.config import ConfigDict
from mmengine.registry import DefaultScope
from mmengine.runner import load_checkpoint
from mmengine.structures import PixelData
from mmseg.models.decode_heads import FPNHead as MMSegFPNHead
from mmseg.registry import MODELS as MMSEG_MODELS
from mmseg.structures import SegDataSample

import mmpanfpn.models.fpn_head  # noqa: F401  registers FPNHead
from mmpanfpn.models.fpn_head import FPNHead
from mmpanfpn.registry import MODELS

BN = dict(type='BN', requires_grad=True)
NUM_CLASSES = 5
# a ConfigDict, as from a config file (mmseg reads test_cfg.mode)
SEGMENTOR = ConfigDict(
    type='EncoderDecoder',
    data_preprocessor=dict(
        type='SegDataPreProcessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_val=0,
        seg_pad_val=255),
    backbone=dict(
        type='ResNetV1c',
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        norm_cfg=BN,
        style='pytorch',
        contract_dilation=True),
    neck=dict(
        type='FPN',
        in_channels=[64, 128, 256, 512],
        out_channels=32,
        num_outs=4),
    decode_head=dict(
        type='FPNHead',
        in_channels=[32, 32, 32, 32],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=32,
        dropout_ratio=0.1,
        num_classes=NUM_CLASSES,
        norm_cfg=BN,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    train_cfg=dict(),
    test_cfg=dict(mode='whole'))
# sizes that are and are not multiples of the largest stride (32)
SIZES = [(64, 64), (96, 80), (100, 75)]


def ours_cfg(cfg):
    """The same config with our head: only the head's scope changes."""
    cfg = copy.deepcopy(cfg)
    cfg['decode_head']['_scope_'] = 'mmpanfpn'
    return cfg


def randomize_bn(model):
    """Non-trivial BN affine parameters and running statistics."""
    for m in model.modules():
        if isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)


@pytest.fixture(scope='module')
def segmentors(tmp_path_factory):
    """(mmseg's, ours), ours loaded from mmseg's checkpoint; eval mode."""
    with DefaultScope.overwrite_default_scope('mmseg'):
        torch.manual_seed(0)
        reference = MMSEG_MODELS.build(copy.deepcopy(SEGMENTOR))
        reference.init_weights()
        randomize_bn(reference)
        ours = MMSEG_MODELS.build(ours_cfg(SEGMENTOR))
    path = tmp_path_factory.mktemp('ckpt') / 'mmseg_sem_fpn.pth'
    torch.save(dict(state_dict=reference.state_dict()), path)
    load_checkpoint(ours, str(path), map_location='cpu', strict=True)
    return reference.eval(), ours.eval()


def test_heads_are_the_expected_classes(segmentors):
    reference, ours = segmentors
    assert type(reference.decode_head) is MMSegFPNHead
    assert type(ours.decode_head) is FPNHead
    assert MODELS.get('FPNHead') is FPNHead


def test_scoped_type_resolves_from_the_mmseg_scope():
    """In an mmseg config (default scope mmseg), type='mmpanfpn.FPNHead' is our
    head, as 'mmseg.FPNHead' is mmseg's from ours."""
    from mmpanfpn.models import FPNHead
    cfg = copy.deepcopy(SEGMENTOR)
    cfg['decode_head']['type'] = 'mmpanfpn.FPNHead'
    with DefaultScope.overwrite_default_scope('mmseg'):
        assert MMSEG_MODELS.get('mmpanfpn.FPNHead') is FPNHead
        model = MMSEG_MODELS.build(cfg)
    assert type(model.decode_head) is FPNHead
    assert type(model).__module__.startswith('mmseg')


def test_mmseg_checkpoint_keys_land_on_the_core(segmentors):
    reference, ours = segmentors
    # level 3: conv k of mmseg's scale_heads.3 sits at index 2k (an Upsample
    # in between), the core's at conv.k
    theirs = reference.decode_head.scale_heads[3][4]
    mine = ours.decode_head.semantic_fpn.conv_upsample_layers[3].conv[2]
    assert torch.equal(theirs.conv.weight, mine.conv.weight)
    assert torch.equal(theirs.bn.running_var, mine.bn.running_var)
    assert torch.equal(reference.decode_head.conv_seg.weight,
                       ours.decode_head.conv_seg.weight)


@pytest.mark.parametrize('size', SIZES)
def test_tensor_logits_match_mmseg(segmentors, size):
    reference, ours = segmentors
    gen = torch.Generator().manual_seed(1)
    inputs = torch.randn(2, 3, *size, generator=gen)
    with torch.no_grad():
        expected = reference(inputs, mode='tensor')
        actual = ours(inputs, mode='tensor')
    h, w = size
    assert actual.shape == (2, NUM_CLASSES, math.ceil(h / 4), math.ceil(w / 4))
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize('size', SIZES)
def test_predicted_seg_logits_match_mmseg(segmentors, size):
    reference, ours = segmentors
    h, w = size
    gen = torch.Generator().manual_seed(2)
    inputs = torch.randn(2, 3, h, w, generator=gen)

    def samples():  # resized inputs: predictions go back to ori_shape
        meta = dict(
            img_shape=size, pad_shape=size, ori_shape=(2 * h - 3, w + 5))
        return [SegDataSample(metainfo=meta) for _ in range(2)]

    with torch.no_grad():
        expected = reference.predict(inputs, samples())
        actual = ours.predict(inputs, samples())
    for mine, theirs in zip(actual, expected):
        assert mine.seg_logits.data.shape == (NUM_CLASSES, 2 * h - 3, w + 5)
        torch.testing.assert_close(
            mine.seg_logits.data, theirs.seg_logits.data, rtol=1e-5, atol=1e-5)


def test_losses_match_mmseg(segmentors):
    reference, ours = segmentors  # eval mode: no dropout, BN frozen
    gen = torch.Generator().manual_seed(3)
    inputs = torch.randn(2, 3, 96, 80, generator=gen)
    labels = torch.randint(0, NUM_CLASSES, (2, 1, 96, 80), generator=gen)
    labels[:, :, :10] = 255  # ignored rows
    samples = [
        SegDataSample(
            gt_sem_seg=PixelData(data=label),
            metainfo=dict(img_shape=(96, 80), pad_shape=(96, 80)))
        for label in labels
    ]
    with torch.no_grad():
        expected = reference.loss(inputs, samples)
        actual = ours.loss(inputs, samples)
    assert set(actual) == {'decode.loss_ce', 'decode.acc_seg'}
    for key in expected:
        torch.testing.assert_close(actual[key], expected[key])


def build_head(**kwargs):
    cfg = dict(
        type='FPNHead',
        in_channels=[8, 8, 8, 8],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=16,
        num_classes=3,
        norm_cfg=BN)
    cfg.update(kwargs)
    return MODELS.build(cfg)


def pyramid(batch=2, size=16, channels=(8, 8, 8, 8)):
    """Levels of side size, size/2, ...

    as an FPN gives for a 4*size input.
    """
    return [
        torch.randn(batch, c, size >> i, size >> i)
        for i, c in enumerate(channels)
    ]


def test_output_is_at_the_finest_selected_scale():
    head = build_head()
    assert head(pyramid()).shape == (2, 3, 16, 16)
    # only the three coarsest levels, starting at stride 8
    head = build_head(
        in_channels=[8, 8, 8], in_index=[1, 2, 3], feature_strides=[8, 16, 32])
    assert head(pyramid()).shape == (2, 3, 8, 8)
    # per-level input channels
    head = build_head(in_channels=[4, 8, 12, 16])
    assert head(pyramid(channels=(4, 8, 12, 16))).shape == (2, 3, 16, 16)


def test_group_norm_head_matches_mmseg_head_via_load_state_dict():
    gn = dict(type='GN', num_groups=4, requires_grad=True)
    kwargs = dict(
        in_channels=[8, 8, 8, 8],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=16,
        num_classes=3,
        norm_cfg=gn,
        dropout_ratio=0.0)
    torch.manual_seed(0)
    with DefaultScope.overwrite_default_scope('mmseg'):
        theirs = MMSegFPNHead(**kwargs)
    mine = FPNHead(**kwargs)
    mine.load_state_dict(theirs.state_dict(), strict=True)  # torch's loader
    assert mine.semantic_fpn.conv_upsample_layers[1].conv[0].gn is not None
    feats = pyramid()
    torch.testing.assert_close(mine(feats), theirs(feats))


def test_loss_of_a_uniform_classifier_is_log_num_classes():
    head = build_head(dropout_ratio=0.0)
    torch.nn.init.zeros_(head.conv_seg.weight)
    torch.nn.init.zeros_(head.conv_seg.bias)
    labels = torch.randint(0, 3, (2, 1, 64, 64))
    samples = [SegDataSample(gt_sem_seg=PixelData(data=x)) for x in labels]
    losses = head.loss(pyramid(), samples, train_cfg=dict())
    torch.testing.assert_close(losses['loss_ce'], torch.tensor(math.log(3)))


def test_loss_backpropagates_into_every_level():
    head = build_head()
    labels = torch.randint(0, 3, (2, 1, 64, 64))
    labels[0, 0, :8] = 255
    samples = [SegDataSample(gt_sem_seg=PixelData(data=x)) for x in labels]
    losses = head.loss(pyramid(), samples, train_cfg=dict())
    assert losses['loss_ce'].item() > 0
    assert 0 <= losses['acc_seg'].item() <= 100
    losses['loss_ce'].backward()
    for level in head.semantic_fpn.conv_upsample_layers:
        assert level.conv[0].conv.weight.grad.abs().sum() > 0


def test_loss_builds_from_mmseg_whatever_the_current_scope():
    # built from our scope, plain 'CrossEntropyLoss' would be mmdet's
    with DefaultScope.overwrite_default_scope('mmpanfpn'):
        head = build_head()
    assert type(head.loss_decode).__module__.startswith('mmseg.')


@pytest.mark.parametrize(
    'kwargs',
    [
        dict(feature_strides=[4, 8, 16]),  # one stride too few
        dict(feature_strides=[4, 8, 32, 64]),  # a skipped level
        dict(align_corners=True),  # the core upsamples without
    ])
def test_unsupported_arguments_are_refused(kwargs):
    with pytest.raises(ValueError):
        build_head(**kwargs)
