# Panoptic FCN R50, 3x (270k iterations at 16 images): the official
# PanopticFCN-R50-3x (official COCO val figure: PQ 43.6).
_base_ = './panoptic-fcn_r50_fpn_1x_coco.py'

train_cfg = dict(max_iters=270000)
