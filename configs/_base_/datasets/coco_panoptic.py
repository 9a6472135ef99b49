# COCO panoptic 2017. Data layout (see README, "Data preparation"):
#   data/coco/{train2017,val2017}/*.jpg
#   data/coco/annotations/panoptic_{train,val}2017.json
#   data/coco/annotations/panoptic_{train,val}2017/*.png
# Class names and the thing/stuff split are read from the annotation file.
dataset_type = 'CocoPanopticDataset'
data_root = 'data/coco/'
# what tools/train.py suggests when the files are missing
data_preparation = ('download COCO 2017 and its panoptic annotations into '
                    'data/coco/ (README.md, "Data preparation")')
backend_args = None

train_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='LoadPanopticAnnotations', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# No annotations are loaded for testing: CocoPanopticMetric reads each GT PNG
# once itself (PQ, AP and mIoU from that one read). seg_map_path and
# segments_info ride along for a metric without ann_file.
test_pipeline = [
    dict(type='LoadImageFromFile', backend_args=backend_args),
    dict(type='Resize', scale=(1333, 800), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'seg_map_path', 'ori_shape',
                   'img_shape', 'scale_factor', 'segments_info'))
]

train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    batch_sampler=dict(type='AspectRatioBatchSampler'),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_train2017.json',
        data_prefix=dict(
            img='train2017/', seg='annotations/panoptic_train2017/'),
        filter_cfg=dict(filter_empty_gt=False, min_size=32),
        pipeline=train_pipeline,
        backend_args=backend_args))
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    drop_last=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file='annotations/panoptic_val2017.json',
        data_prefix=dict(img='val2017/', seg='annotations/panoptic_val2017/'),
        test_mode=True,
        pipeline=test_pipeline,
        backend_args=backend_args))
test_dataloader = val_dataloader

# PQ, box/mask AP and semantic mIoU in one test pass
val_evaluator = dict(
    type='CocoPanopticMetric',
    ann_file=data_root + 'annotations/panoptic_val2017.json',
    seg_prefix=data_root + 'annotations/panoptic_val2017/',
    metric=['pq', 'bbox', 'segm', 'miou'],
    # the AP's COCOeval: 'fast' (hotcoco's, the same numbers) or
    # 'pycocotools'
    coco_eval_engine='fast',
    backend_args=backend_args)
test_evaluator = val_evaluator
