# Semantic FPN (Kirillov et al., 2019), ResNet-50, Cityscapes: mmseg's config
# with mmpanfpn's FPNHead, which takes the same arguments and loads mmseg's
# sem_fpn checkpoints unchanged.
#
# The default scope stays mmseg's (datasets, transforms, IoUMetric, losses by
# plain name); the ``mmpanfpn.`` prefix takes the head and the checkpoint hook
# from mmpanfpn's registries. ``custom_imports`` registers them, whichever
# tool loads the config.
#
# norm_cfg is SyncBN, as in mmseg. In one process MMEngine's runner turns it
# into BN by itself (and logs so); a distributed run on CPU (gloo) fails on it,
# as torch's SyncBatchNorm syncs GPU tensors only. There, use BN:
#   --cfg-options model.backbone.norm_cfg.type=BN \
#       model.decode_head.norm_cfg.type=BN
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb2-80k_cityscapes-512x1024.py'

custom_imports = dict(
    imports=['mmpanfpn.models.fpn_head', 'mmpanfpn.engine.hooks'],
    allow_failed_imports=False)

model = dict(decode_head=dict(type='mmpanfpn.FPNHead'))

# mmpanfpn's CheckpointHook: the new checkpoint and last_checkpoint are
# written atomically before old checkpoints are removed (a kill never leaves
# --resume without a checkpoint)
default_hooks = dict(checkpoint=dict(type='mmpanfpn.CheckpointHook'))
