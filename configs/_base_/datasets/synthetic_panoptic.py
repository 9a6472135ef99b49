# The synthetic COCO-panoptic set made by tools/make_synthetic_dataset.py:
#   python tools/make_synthetic_dataset.py data/synthetic
# Small 128x128 images, so no resizing; thing and stuff classes interleaved.
_base_ = './coco_panoptic.py'

data_root = 'data/synthetic/'
# what tools/train.py suggests when the files are missing
data_preparation = 'python tools/make_synthetic_dataset.py data/synthetic'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# no annotations: the metric reads each GT PNG once (see coco_panoptic.py)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    # a no-op at 128x128, but it sets the scale_factor that mmdet's mask head
    # needs to paste masks at the original size
    dict(type='Resize', scale=(128, 128), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'seg_map_path', 'ori_shape',
                   'img_shape', 'scale_factor', 'segments_info'))
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    batch_sampler=None,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/panoptic_train.json',
        data_prefix=dict(img='train/', seg='annotations/panoptic_train/'),
        filter_cfg=None,
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    persistent_workers=False,
    dataset=dict(
        data_root=data_root,
        ann_file='annotations/panoptic_val.json',
        data_prefix=dict(img='val/', seg='annotations/panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/panoptic_val.json',
    seg_prefix=data_root + 'annotations/panoptic_val/')
test_evaluator = val_evaluator
