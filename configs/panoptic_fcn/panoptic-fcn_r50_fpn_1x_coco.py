# Panoptic FCN R50, 1x (90k iterations at 16 images): the official
# PanopticFCN-R50-1x (official COCO val figure: PQ 41.1).
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/coco_panoptic.py',
    '../_base_/schedules/panoptic-fcn_poly_90k.py',
    '../_base_/default_runtime.py'
]

# shorter side drawn from 640..800 (step 32), longer side at most 1333
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticAnnotations'),
    dict(
        type='RandomChoiceResize',
        scales=[(1333, s) for s in range(640, 801, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
train_dataloader = dict(
    batch_size=2,
    # detectron2's FILTER_EMPTY_ANNOTATIONS: images without things are left
    # out of training (the model trains on them too; this follows the
    # official setting)
    dataset=dict(
        filter_cfg=dict(filter_empty_gt=True, min_size=0),
        pipeline=train_pipeline))

# iteration-based: checkpoints and logs by iteration
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
custom_hooks = []
