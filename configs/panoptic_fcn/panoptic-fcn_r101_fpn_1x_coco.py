# Backbone swap: detectron2's MSRA R-101 (caffe style) instead of R-50.
_base_ = './panoptic-fcn_r50_fpn_1x_coco.py'

model = dict(
    backbone=dict(
        depth=101,
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet101_caffe')))
