_base_ = [
    '../_base_/models/panoptic-fpn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic.py',
    'mmdet::_base_/schedules/schedule_1x.py', '../_base_/default_runtime.py'
]

# mmdet's NumClassCheckHook compares the dataset's classes with the box
# head's; a panoptic dataset also lists stuff, so it would always fail.
custom_hooks = []
