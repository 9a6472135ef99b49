# The official Panoptic FCN schedule (detectron2 WarmupPolyLR): SGD, lr 0.01
# at 16 images per batch, momentum 0.9, weight decay 1e-4 except on norm
# layers, gradient clipping by value 35 (not by norm), 1000-iteration linear
# warm-up from 0.001 multiplied with poly(0.9) decay from iteration 0.
max_iters = 90000
train_cfg = dict(
    type='IterBasedTrainLoop', max_iters=max_iters, val_interval=10000)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')
optim_wrapper = dict(
    type='OptimWrapper',
    optimizer=dict(type='SGD', lr=0.01, momentum=0.9, weight_decay=1e-4),
    paramwise_cfg=dict(norm_decay_mult=0.),
    clip_grad=dict(type='value', clip_value=35.))
param_scheduler = [
    dict(
        type='LinearLR', start_factor=0.001, by_epoch=False, begin=0,
        end=1000),
    # no `end`: the runner ends it at train_cfg.max_iters, so a config
    # that changes max_iters keeps a full decay
    dict(type='PolyLR', power=0.9, eta_min=0, by_epoch=False, begin=0)
]
# 8 GPUs x 2 images
auto_scale_lr = dict(enable=False, base_batch_size=16)
