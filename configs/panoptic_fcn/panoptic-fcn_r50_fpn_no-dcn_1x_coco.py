# Panoptic FCN R50 1x with plain convs in the position head (the official
# POSITION_HEAD.DEFORM False option): no deformable convolution anywhere.
_base_ = './panoptic-fcn_r50_fpn_1x_coco.py'

model = dict(pos_head=dict(conv_cfg=None))
