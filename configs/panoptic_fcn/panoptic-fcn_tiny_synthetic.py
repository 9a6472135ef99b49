# A tiny Panoptic FCN for the synthetic dataset (`make demo`'s data): learns
# on a 2-core CPU. A half-width ResNet-18 (32 base channels) from scratch (no
# weights can be fetched here), 64-channel FPN and heads, plain convs (no
# deformable ones), heads on P3-P5 only (the 128x128 images' objects are
# 20-55 pixels), 3 things + 3 stuff. For a COCO-panoptic folder of your own,
# change the data paths and num_things_classes / num_stuff_classes.
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/synthetic_panoptic.py', '../_base_/default_runtime.py'
]

num_things_classes = 3
num_stuff_classes = 3
channels = 64
gn = dict(type='GN', num_groups=16, requires_grad=True)
model = dict(
    backbone=dict(
        depth=18,
        base_channels=32,
        frozen_stages=-1,
        norm_cfg=dict(type='BN', requires_grad=True),
        norm_eval=False,
        style='pytorch',
        init_cfg=None),
    # P2..P5 only: the heads run on P3..P5
    neck=dict(
        in_channels=[32, 64, 128, 256], out_channels=channels, num_outs=4),
    encoder=dict(
        in_channels=channels,
        semantic_channels=channels,
        channels=32,
        semantic_norm_cfg=gn),
    pos_head=dict(
        in_channels=channels,
        feat_channels=channels,
        num_convs=2,
        conv_cfg=None,
        norm_cfg=gn),
    kernel_head=dict(
        in_channels=channels, feat_channels=channels, num_convs=2,
        norm_cfg=gn),
    num_things_classes=num_things_classes,
    num_stuff_classes=num_stuff_classes,
    head_levels=(1, 2, 3),
    train_cfg=dict(instance_scales=((1, 64), (32, 128), (64, 2048))),
    test_cfg=dict(
        center_pool_sizes=(3, 3, 3),
        # 4096 pixels is COCO's limit at ~800x1333; scaled to 128x128
        panoptic=dict(stuff_area_limit=64)))

max_iters = 2400
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.),
    clip_grad=dict(type='value', clip_value=35.))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.01, by_epoch=False, begin=0, end=50),
    # no `end`: the runner ends it at train_cfg.max_iters, so a config
    # that changes max_iters keeps a full decay
    dict(type='PolyLR', power=0.9, eta_min=0, by_epoch=False, begin=0)
]
auto_scale_lr = dict(enable=False, base_batch_size=8)

default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20),
    checkpoint=dict(
        type='CheckpointHook', interval=100, by_epoch=False, max_keep_ckpts=2))
log_processor = dict(by_epoch=False)
env_cfg = dict(dist_cfg=dict(backend='gloo'))
randomness = dict(seed=0)
