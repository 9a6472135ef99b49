# Semantic FPN, ResNet-50, ADE20K (150 classes): mmseg's config with
# mmpanfpn's FPNHead; see fpn_r50_4xb2-80k_cityscapes-512x1024.py for the
# scope and SyncBN notes.
_base_ = 'mmseg::sem_fpn/fpn_r50_4xb4-160k_ade20k-512x512.py'

custom_imports = dict(
    imports=['mmpanfpn.models.fpn_head', 'mmpanfpn.engine.hooks'],
    allow_failed_imports=False)

model = dict(decode_head=dict(type='mmpanfpn.FPNHead'))

# mmpanfpn's CheckpointHook: the new checkpoint and last_checkpoint are
# written atomically before old checkpoints are removed (a kill never leaves
# --resume without a checkpoint)
default_hooks = dict(checkpoint=dict(type='mmpanfpn.CheckpointHook'))
