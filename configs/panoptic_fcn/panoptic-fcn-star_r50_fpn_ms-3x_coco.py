# Panoptic FCN* (the official PanopticFCN-Star-R50-3x; official COCO val
# figure: PQ 44.2): deformable encoder convs and C_e = 256.
_base_ = './panoptic-fcn_r50_fpn_ms-3x_coco.py'

model = dict(
    encoder=dict(
        channels=256,
        conv_cfg=dict(_delete_=True, type='DCNv2', deform_groups=1)))
