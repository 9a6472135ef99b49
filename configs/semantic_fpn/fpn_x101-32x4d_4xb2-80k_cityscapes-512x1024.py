# Semantic FPN with a ResNeXt-101 backbone, the paper's largest (the paper
# uses 32x8d; 32x4d is the ImageNet ResNeXt-101 OpenMMLab publishes).
_base_ = './fpn_r50_4xb2-80k_cityscapes-512x1024.py'

model = dict(
    pretrained='open-mmlab://resnext101_32x4d',
    backbone=dict(type='ResNeXt', depth=101, groups=32, base_width=4))
