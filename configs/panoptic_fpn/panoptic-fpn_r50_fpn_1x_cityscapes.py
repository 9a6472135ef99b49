# Cityscapes: 8 things, 11 stuff, 2048x1024 images.
_base_ = [
    '../_base_/models/panoptic-fpn_r50_fpn.py',
    '../_base_/datasets/cityscapes_panoptic.py',
    'mmdet::_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]

num_things_classes = 8
num_stuff_classes = 11
model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=num_things_classes),
        mask_head=dict(num_classes=num_things_classes)),
    semantic_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        # True: predict all 19 classes, for the usual Cityscapes mIoU
        all_classes=False),
    panoptic_fusion_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes))

# 2975 training images: 64 epochs at 16 images per batch are ~12k
# iterations (mmdet's Cityscapes Mask R-CNN: 8 x RepeatDataset(8), batch 8).
train_cfg = dict(max_epochs=64, val_interval=8)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(
        type='MultiStepLR',
        begin=0,
        end=64,
        by_epoch=True,
        milestones=[56],
        gamma=0.1)
]
default_hooks = dict(checkpoint=dict(interval=8))

custom_hooks = []
