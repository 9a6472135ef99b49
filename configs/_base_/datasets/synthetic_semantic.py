# The semantic view of the synthetic set that tools/make_synthetic_dataset.py
# writes:
#   python tools/make_synthetic_dataset.py data/synthetic
# semantic/{train,val}/NNNNNN.png hold one label per pixel, the index into
# ``classes`` below (mmpanfpn.datasets.synthetic.SEMANTIC_CLASSES), 255 =
# void. mmseg's dataset, transforms and IoUMetric; 128x128 images, so no
# resizing or cropping.
dataset_type = 'BaseSegDataset'
data_root = 'data/synthetic/'
# what tools/train.py suggests when the files are missing
data_preparation = 'python tools/make_synthetic_dataset.py data/synthetic'
metainfo = dict(
    classes=('circle', 'sky', 'square', 'water', 'triangle', 'grass'),
    palette=[[220, 40, 40], [135, 190, 235], [40, 180, 60], [30, 60, 140],
             [250, 210, 30], [70, 120, 30]])
crop_size = (128, 128)

train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='RandomFlip', prob=0.5),
    dict(type='PackSegInputs')
]
test_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='LoadAnnotations'),
    dict(type='PackSegInputs')
]
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='InfiniteSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=False,
        data_prefix=dict(img_path='train', seg_map_path='semantic/train'),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        metainfo=metainfo,
        img_suffix='.jpg',
        seg_map_suffix='.png',
        reduce_zero_label=False,
        data_prefix=dict(img_path='val', seg_map_path='semantic/val'),
        pipeline=test_pipeline))
test_dataloader = val_dataloader
val_evaluator = dict(type='IoUMetric', iou_metrics=['mIoU'])
test_evaluator = val_evaluator
