# ADE20K panoptic: 100 things, 50 stuff, shorter side 640.
_base_ = [
    '../_base_/models/panoptic-fpn_r50_fpn.py',
    '../_base_/datasets/ade20k_panoptic.py',
    'mmdet::_base_/schedules/schedule_2x.py', '../_base_/default_runtime.py'
]

num_things_classes = 100
num_stuff_classes = 50
model = dict(
    roi_head=dict(
        bbox_head=dict(num_classes=num_things_classes),
        mask_head=dict(num_classes=num_things_classes)),
    semantic_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    panoptic_fusion_head=dict(
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes))

custom_hooks = []
