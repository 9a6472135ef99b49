# Semantic FPN on a Swin-T backbone (patch 4, window 7, ImageNet-1k
# pretrained), ADE20K: mmseg's Swin-T UPerNet recipe (AdamW, warmup, no decay
# on norms and position tables) with an FPN neck and mmpanfpn's FPNHead in
# place of UPerHead, and no auxiliary head. See
# fpn_r50_4xb2-80k_cityscapes-512x1024.py for the scope and SyncBN notes.
_base_ = 'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py'  # noqa

custom_imports = dict(
    imports=['mmpanfpn.models.fpn_head', 'mmpanfpn.engine.hooks'],
    allow_failed_imports=False)

norm_cfg = dict(type='SyncBN', requires_grad=True)
model = dict(
    neck=dict(
        type='FPN',
        in_channels=[96, 192, 384, 768],
        out_channels=256,
        num_outs=4),
    decode_head=dict(
        _delete_=True,
        type='mmpanfpn.FPNHead',
        in_channels=[256, 256, 256, 256],
        in_index=[0, 1, 2, 3],
        feature_strides=[4, 8, 16, 32],
        channels=128,
        dropout_ratio=0.1,
        num_classes=150,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(
            type='CrossEntropyLoss', use_sigmoid=False, loss_weight=1.0)),
    auxiliary_head=None)

# 4 GPUs x 4 images, the batch of 16 of the UPerNet recipe (8 x 2)
train_dataloader = dict(batch_size=4)

# mmpanfpn's CheckpointHook: the new checkpoint and last_checkpoint are
# written atomically before old checkpoints are removed (a kill never leaves
# --resume without a checkpoint)
default_hooks = dict(checkpoint=dict(type='mmpanfpn.CheckpointHook'))
