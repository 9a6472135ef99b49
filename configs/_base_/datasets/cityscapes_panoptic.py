# Cityscapes panoptic in COCO format, as written by cityscapesscripts'
# createPanopticImgs and fixed up by tools/dataset_converters/cityscapes.py
# (which prefixes image file names with their city folder):
#   data/cityscapes/leftImg8bit/{train,val}/<city>/*_leftImg8bit.png
#   data/cityscapes/gtFine/cityscapes_panoptic_{train,val}.json
#   data/cityscapes/gtFine/cityscapes_panoptic_{train,val}/*.png
# 8 thing and 11 stuff classes, read from the annotation file.
_base_ = './coco_panoptic.py'

data_root = 'data/cityscapes/'
# what tools/train.py suggests when the files are missing
data_preparation = (
    'python tools/dataset_converters/cityscapes_panoptic.py data/cityscapes')
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadPanopticAnnotations'),
    dict(
        type='RandomResize',
        scale=[(2048, 800), (2048, 1024)],
        keep_ratio=True),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackDetInputs')
]
# no annotations: the metric reads each GT PNG once (see coco_panoptic.py)
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(2048, 1024), keep_ratio=True),
    dict(
        type='PackDetInputs',
        meta_keys=('img_id', 'img_path', 'seg_map_path', 'ori_shape',
                   'img_shape', 'scale_factor', 'segments_info'))
]
train_dataloader = dict(
    batch_size=2,
    dataset=dict(
        data_root=data_root,
        ann_file='gtFine/cityscapes_panoptic_train.json',
        data_prefix=dict(
            img='leftImg8bit/train/', seg='gtFine/cityscapes_panoptic_train/'),
        pipeline=train_pipeline))
val_dataloader = dict(
    dataset=dict(
        data_root=data_root,
        ann_file='gtFine/cityscapes_panoptic_val.json',
        data_prefix=dict(
            img='leftImg8bit/val/', seg='gtFine/cityscapes_panoptic_val/'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'gtFine/cityscapes_panoptic_val.json',
    seg_prefix=data_root + 'gtFine/cityscapes_panoptic_val/')
test_evaluator = val_evaluator
