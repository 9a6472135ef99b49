# Panoptic FCN, R50-FPN, for COCO panoptic (80 things, 53 stuff), as the
# official PanopticFCN-R50 (yanwei-li/PanopticFCN): detectron2's MSRA R-50
# (caffe style), FPN P2-P7 with P6/P7 from P5's output, the semantic-FPN
# encoder (C_e = 64), deformable position head, kernel head on P3-P7.
num_things_classes = 80
num_stuff_classes = 53
gn = dict(type='GN', num_groups=32, requires_grad=True)
model = dict(
    type='PanopticFCN',
    # The official input normalisation, kept so that converted weights
    # work: RGB-ordered means subtracted from the BGR image, std 1.
    data_preprocessor=dict(
        type='DetDataPreprocessor',
        mean=[123.675, 116.28, 103.53],
        std=[1.0, 1.0, 1.0],
        bgr_to_rgb=False,
        pad_size_divisor=32,
        pad_mask=True,
        mask_pad_value=0,
        pad_seg=True,
        seg_pad_value=255),
    backbone=dict(
        type='ResNet',
        depth=50,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        frozen_stages=1,
        norm_cfg=dict(type='BN', requires_grad=False),
        norm_eval=True,
        style='caffe',
        init_cfg=dict(
            type='Pretrained',
            checkpoint='open-mmlab://detectron2/resnet50_caffe')),
    neck=dict(
        type='FPN',
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=0,
        add_extra_convs='on_output',
        relu_before_extra_convs=True,
        num_outs=6),
    encoder=dict(
        type='PanopticFCNEncoder',
        in_channels=256,
        semantic_channels=256,
        start_level=0,
        end_level=4,
        channels=64,
        num_convs=3,
        with_coord=True,
        conv_cfg=None,
        norm_cfg=None,
        semantic_norm_cfg=gn),
    pos_head=dict(
        type='PanopticFCNPositionHead',
        in_channels=256,
        feat_channels=256,
        num_convs=3,
        conv_cfg=dict(type='DCNv2', deform_groups=1),
        norm_cfg=gn,
        bias_value=-2.19),
    kernel_head=dict(
        type='PanopticFCNKernelHead',
        in_channels=256,
        feat_channels=256,
        num_convs=3,
        with_coord=True,
        norm_cfg=gn),
    num_things_classes=num_things_classes,
    num_stuff_classes=num_stuff_classes,
    # P3..P7 of the neck's P2..P7
    head_levels=(1, 2, 3, 4, 5),
    loss_pos=dict(
        type='FocalLoss',
        use_sigmoid=True,
        gamma=2.0,
        alpha=0.25,
        loss_weight=1.0),
    loss_seg=dict(
        type='DiceLoss',
        use_sigmoid=True,
        naive_dice=False,
        eps=1e-8,
        loss_weight=3.0),
    train_cfg=dict(
        # sqrt(box area) ranges per head level, inclusive and overlapping
        instance_scales=((1, 64), (32, 128), (64, 256), (128, 512), (256,
                                                                     2048)),
        num_points=7,
        min_overlap=0.7,
        sigma_factor=3.,
        guide_thr=0.1,
        stuff_min_score=0.5),
    test_cfg=dict(
        center_pool_sizes=(3, 3, 3, 5, 5),
        max_peaks_per_level=50,
        thing_score_thr=0.05,
        stuff_score_thr=0.05,
        similarity_thr=0.9,
        class_specific=True,
        mask_thr=0.4,
        min_score=0.05,
        max_per_img=100,
        panoptic=dict(score_thr=0.2, mask_overlap=0.5, stuff_area_limit=4096)))
