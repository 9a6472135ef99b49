# Panoptic FPN, R50-FPN, for COCO panoptic (80 things, 53 stuff): mmdet's
# Mask R-CNN plus the semantic branch and the heuristic fusion. Parameter
# names are mmdet's, so its PanopticFPN checkpoints load as they are.
_base_ = 'mmdet::_base_/models/mask-rcnn_r50_fpn.py'

num_things_classes = 80
num_stuff_classes = 53
model = dict(
    # The model dict inherited from an ``mmdet::`` config is tagged with
    # ``_scope_='mmdet'``, which would build mmdet's PanopticFPN and heads.
    _scope_='mmpanfpn',
    type='PanopticFPN',
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
        pad_mask=True,
        mask_pad_value=0,
        pad_seg=True,
        seg_pad_value=255),
    roi_head=dict(
        bbox_head=dict(num_classes=num_things_classes),
        mask_head=dict(num_classes=num_things_classes)),
    semantic_head=dict(
        type='PanopticFPNHead',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes,
        in_channels=256,
        inner_channels=128,
        start_level=0,
        end_level=4,
        norm_cfg=dict(type='GN', num_groups=32, requires_grad=True),
        conv_cfg=None,
        # loss on labels subsampled to the logits' 1/4 scale, as mmdet
        # (1.0: detectron2's full-resolution loss, slower, more memory)
        seg_rescale_factor=1 / 4,
        # loss_weight is the paper's lambda_s
        # the mean is over labeled pixels (the head passes that count)
        loss_seg=dict(
            type='CrossEntropyLoss',
            ignore_index=255,
            avg_non_ignore=True,
            loss_weight=0.5)),
    panoptic_fusion_head=dict(
        type='HeuristicFusionHead',
        num_things_classes=num_things_classes,
        num_stuff_classes=num_stuff_classes),
    # lambda_i, on the RoI-head losses
    instance_loss_weight=1.0,
    test_cfg=dict(
        # The RoI head keeps low-scoring instances for box/mask AP; the
        # fusion keeps those above panoptic.score_thr. Class-agnostic NMS as
        # in mmdet's config, so that the panoptic maps equal mmdet's (which
        # filters at rcnn.score_thr=0.6).
        rcnn=dict(
            score_thr=0.05,
            nms=dict(type='nms', iou_threshold=0.5, class_agnostic=True),
            max_per_img=100,
            mask_thr_binary=0.5),
        panoptic=dict(score_thr=0.6, mask_overlap=0.5, stuff_area_limit=4096)))
