# Panoptic FCN-512, 3x: the 400 model tested at 512 (the official
# PanopticFCN-R50-512-3x; official COCO val figure: PQ 42.3).
_base_ = './panoptic-fcn_r50_fpn_400-ms-3x_coco.py'

test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(854, 512), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'seg_map_path', 'ori_shape',
                   'img_shape', 'scale_factor', 'segments_info'))
]
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
