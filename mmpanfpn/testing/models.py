"""Small Panoptic FPN models for the tests and the benchmarks."""
import torch
from mmengine.config import ConfigDict


def shrink_panoptic_fpn(model: ConfigDict, channels: int, num_things: int,
                        num_stuff: int) -> ConfigDict:
    """A Panoptic FPN config made small, in place: ResNet-18 without pretrained
    weights, ``channels``-wide FPN and heads (box head FCs twice as wide, two
    mask convs), one anchor scale, and ``num_things`` + ``num_stuff`` classes.

    Args:
        model (ConfigDict): The ``model`` of a Panoptic FPN config (ours or
            mmdet's).
        channels (int): Channels of the FPN and the heads.
        num_things (int): Thing classes.
        num_stuff (int): Stuff classes.

    Returns:
        ConfigDict: ``model``, for chaining.
    """
    model.backbone.update(depth=18, init_cfg=None)
    model.neck.update(in_channels=[64, 128, 256, 512], out_channels=channels)
    model.rpn_head.update(in_channels=channels, feat_channels=channels)
    model.rpn_head.anchor_generator.scales = [4]
    roi = model.roi_head
    roi.bbox_roi_extractor.out_channels = channels
    roi.mask_roi_extractor.out_channels = channels
    roi.bbox_head.update(
        in_channels=channels,
        fc_out_channels=2 * channels,
        num_classes=num_things)
    roi.mask_head.update(
        in_channels=channels,
        conv_out_channels=channels,
        num_convs=2,
        num_classes=num_things)
    model.semantic_head.update(
        in_channels=channels,
        inner_channels=channels,
        num_things_classes=num_things,
        num_stuff_classes=num_stuff)
    model.panoptic_fusion_head.update(
        num_things_classes=num_things, num_stuff_classes=num_stuff)
    return model


def randomise_weights(model: torch.nn.Module,
                      seed: int = 0,
                      box_logit_std: float = 0.05,
                      seg_logit_std: float = 0.3) -> None:
    """Give a Panoptic FPN non-trivial random weights, in place: norm
    statistics and affines off their defaults, and box / semantic classifiers
    that spread the scores (so that instances pass the thresholds and no two
    box scores tie).

    Args:
        model (torch.nn.Module): ours or mmdet's ``PanopticFPN``.
        seed (int): Seed of the draws. Defaults to 0.
        box_logit_std (float): Std of ``roi_head.bbox_head.fc_cls``'s
            weights. Defaults to 0.05 (box scores about 0.1 to 0.7 on small
            models; 0.005 suits R50's larger features).
        seg_logit_std (float): Std of ``semantic_head.conv_logits``'s
            weights. Defaults to 0.3.
    """
    gen = torch.Generator().manual_seed(seed)

    def uniform(t, low, high):
        t.copy_(torch.rand(t.shape, generator=gen) * (high - low) + low)

    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, torch.nn.BatchNorm2d):
                uniform(module.running_mean, -0.2, 0.2)
                uniform(module.running_var, 0.5, 2.0)
            if isinstance(module, (torch.nn.BatchNorm2d, torch.nn.GroupNorm)):
                uniform(module.weight, 0.5, 1.5)
                uniform(module.bias, -0.2, 0.2)
        for layer, std in [(model.roi_head.bbox_head.fc_cls, box_logit_std),
                           (model.semantic_head.conv_logits, seg_logit_std)]:
            layer.weight.copy_(
                torch.randn(layer.weight.shape, generator=gen) * std)
            uniform(layer.bias, -0.5, 0.5)
