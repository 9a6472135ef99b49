# Panoptic FCN-600, 3x: the official PanopticFCN-R50-600-3x (official COCO
# val figure: PQ 42.7). Trained on short sides 440..600, tested at 600.
_base_ = './panoptic-fcn_r50_fpn_ms-3x_coco.py'

model = dict(train_cfg=dict(num_points=5))
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticAnnotations'),
    dict(
        type='RandomChoiceResize',
        scales=[(1000, s) for s in range(440, 601, 32)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(1000, 600), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'seg_map_path', 'ori_shape',
                   'img_shape', 'scale_factor', 'segments_info'))
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
