# Panoptic FCN R50 on Cityscapes (8 things, 11 stuff). The official repo has
# no Cityscapes config; these are the settings its author gave (loss_seg
# 4.0, larger level ranges, mask threshold 0.5, kernel fusion at 0.97, stuff
# area 2048, C_e 256, lr 0.02 at 32 images, 65k iterations, clipping by
# value 5, short side 512..2048, 512x1024 crops, test at 1024x2048). Two
# differences: the region head keeps one merged 'things' channel plus the 11
# stuff classes, and the crop is mmdet's RandomCrop, not an instance-aware
# one (the author attributes part of the reproduction gap to that crop).
_base_ = [
    '../_base_/models/panoptic-fcn_r50_fpn.py',
    '../_base_/datasets/cityscapes_panoptic.py',
    '../_base_/schedules/panoptic-fcn_poly_90k.py',
    '../_base_/default_runtime.py'
]

model = dict(
    num_things_classes=8,
    num_stuff_classes=11,
    encoder=dict(channels=256),
    loss_seg=dict(loss_weight=4.0),
    train_cfg=dict(
        instance_scales=((1, 128), (64, 256), (128, 512), (256, 1024),
                         (512, 2048))),
    test_cfg=dict(
        mask_thr=0.5,
        similarity_thr=0.97,
        panoptic=dict(stuff_area_limit=2048)))

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticAnnotations'),
    dict(
        type='RandomResize',
        scale=[(4096, 512), (4096, 2048)],
        keep_ratio=True),
    dict(type='RandomCrop', crop_size=(512, 1024), allow_negative_crop=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'seg_map_path', 'ori_shape',
                   'img_shape', 'scale_factor', 'segments_info'))
]
# 32 images per iteration: 8 GPUs x 4
train_dataloader = dict(batch_size=4, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

train_cfg = dict(max_iters=65000, val_interval=5000)
optim_wrapper = dict(
    optimizer=dict(lr=0.02), clip_grad=dict(type='value', clip_value=5.))
auto_scale_lr = dict(base_batch_size=32)
# iteration-based: checkpoints and logs by iteration
default_hooks = dict(
    checkpoint=dict(by_epoch=False, interval=10000, max_keep_ckpts=3))
log_processor = dict(by_epoch=False)
custom_hooks = []
