# Panoptic FCN R50, 3x (270k iterations at 16 images): the official
# PanopticFCN-R50-3x (official COCO val figure: PQ 43.6).
_base_ = './panoptic-fcn_r50_fpn_1x_coco.py'

max_iters = 270000
train_cfg = dict(max_iters=max_iters)
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    dict(
        type='PolyLR',
        power=0.9,
        eta_min=0,
        by_epoch=False,
        begin=0,
        end=max_iters)
]
