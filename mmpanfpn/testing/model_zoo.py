"""What a metafile entry (``configs/*/metafile.yml``) says about its config,
checked against the loaded config."""
from mmengine.config import Config

# backbone ``type`` -> the architecture name the metafiles use
BACKBONES = {
    'ResNet': 'ResNet',
    'ResNetV1c': 'ResNet',
    'ResNeXt': 'ResNeXt',
    'RegNet': 'RegNet',
    'SwinTransformer': 'Swin Transformer',
}
# optimizer ``type`` -> the training technique the metafiles name
OPTIMIZERS = {'SGD': 'SGD with Momentum', 'AdamW': 'AdamW'}


def check_metafile_entry(model: dict, cfg: Config) -> None:
    """Assert that ``model``'s metadata describes ``cfg``: schedule (``Epochs``
    or ``Iterations``), backbone and optimizer.

    Args:
        model (dict): one entry of a metafile's ``Models``.
        cfg (Config): its config, loaded.
    """
    meta, name = model['Metadata'], model['Name']
    if 'Epochs' in meta:
        assert cfg.train_cfg.max_epochs == meta['Epochs'], name
    else:
        assert cfg.train_cfg.max_iters == meta['Iterations'], name
    backbone = BACKBONES[cfg.model.backbone.type]
    assert meta['Architecture'][0] == backbone, (name, backbone)
    optimizer = cfg.optim_wrapper.optimizer
    assert OPTIMIZERS[optimizer.type] in meta['Training Techniques'], name
    if optimizer.type == 'SGD':
        assert optimizer.momentum > 0, name
