# ADE20K panoptic (150 classes of the SceneParsing benchmark) in COCO format,
# as written by tools/dataset_converters/ade20k_panoptic.py:
#   data/ADEChallengeData2016/images/{training,validation}/*.jpg
#   data/ADEChallengeData2016/ade20k_panoptic_{train,val}.json
#   data/ADEChallengeData2016/ade20k_panoptic_{train,val}/*.png
_base_ = './coco_panoptic.py'

data_root = 'data/ADEChallengeData2016/'
# what tools/train.py suggests when the files are missing
data_preparation = ('python tools/dataset_converters/ade20k_panoptic.py '
                    'data/ADEChallengeData2016')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticAnnotations'),
    dict(type='Resize', scale=(2048, 640), keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# no annotations: the metric reads each GT PNG once (see coco_panoptic.py)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 640), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'seg_map_path', 'ori_shape',
                   'img_shape', 'scale_factor', 'segments_info'))
]
train_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='ade20k_panoptic_train.json',
        data_prefix=dict(img='images/training/', seg='ade20k_panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='ade20k_panoptic_val.json',
        data_prefix=dict(img='images/validation/', seg='ade20k_panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'ade20k_panoptic_val.json',
    seg_prefix=data_root + 'ade20k_panoptic_val/')
test_evaluator = val_evaluator
