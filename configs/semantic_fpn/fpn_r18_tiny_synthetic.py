# Semantic FPN on the synthetic set (tools/make_synthetic_dataset.py), small
# enough to learn on 2 CPU cores in a few minutes from random weights (none
# can be downloaded for it): ResNet-18 V1c at half width, 32-channel FPN and
# head, plain BN, AdamW.
#   python tools/train.py configs/semantic_fpn/fpn_r18_tiny_synthetic.py
_base_ = [
    'mmseg::_base_/models/fpn_r50.py',
    '../_base_/datasets/synthetic_semantic.py',
    'mmseg::_base_/default_runtime.py'
]

custom_imports = dict(
    imports=['mmpanfpn.models.fpn_head', 'mmpanfpn.engine.hooks'],
    allow_failed_imports=False)

norm_cfg = dict(type='BN', requires_grad=True)
model = dict(
    data_preprocessor=dict(size=(128, 128)),
    pretrained=None,
    backbone=dict(
        depth=18, stem_channels=32, base_channels=32, norm_cfg=norm_cfg),
    neck=dict(in_channels=[32, 64, 128, 256], out_channels=32),
    decode_head=dict(
        type='mmpanfpn.FPNHead',
        in_channels=[32, 32, 32, 32],
        channels=32,
        num_classes=6,
        norm_cfg=norm_cfg))

max_iters = 300
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='AdamW', lr=2e-3, weight_decay=1e-4))
param_scheduler = [
    dict(type='LinearLR', start_factor=0.1, by_epoch=False, begin=0, end=50),
    dict(
        type='PolyLR',
        eta_min=0.0,
        power=0.9,
        begin=50,
        end=max_iters,
        by_epoch=False)
]
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=max_iters)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
default_hooks = dict(
    logger=dict(type='LoggerHook', interval=20, log_metric_by_epoch=False),
    checkpoint=dict(
        type='mmpanfpn.CheckpointHook', by_epoch=False, interval=max_iters),
    visualization=dict(type='SegVisualizationHook'))
randomness = dict(seed=0)
