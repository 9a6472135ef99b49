# mmdet's runtime with our registry scope as the default: plain type names
# resolve in mmpanfpn first, then mmdet, then mmengine.
_base_ = 'mmdet::_base_/default_runtime.py'

default_scope = 'mmpanfpn'

visualizer = dict(
    _delete_=True,
    type='PanopticLocalVisualizer',
    vis_backends=[dict(type='LocalVisBackend')],
    name='visualizer')

default_hooks = dict(
    # stop on the first NaN/Inf loss, naming the iteration and the terms
    finite_loss=dict(type='FiniteLossHook'),
    # model class counts must equal the annotation file's
    class_check=dict(type='PanopticClassCheckHook'),
    # torch reseeded from (seed, iteration): a resumed run draws what an
    # uninterrupted one would
    iter_seed=dict(type='IterSeedHook'),
    # 'CheckpointHook' in the mmpanfpn scope is AtomicCheckpointHook: the new
    # checkpoint and last_checkpoint are written atomically before old ones
    # are removed (mmdet's base puts its hooks in the mmdet scope)
    checkpoint=dict(_scope_='mmpanfpn', type='CheckpointHook'))
