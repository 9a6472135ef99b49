"""Official Panoptic FCN checkpoints (yanwei-li/PanopticFCN, detectron2) as
:class:`PanopticFCN` state dicts, and back.

Key families, official -> ours (``k`` a tower conv, numbered from 1
officially and from 0 here; ``[.norm]`` the conv's norm, ours ``bn``/``gn``)::

    backbone.bottom_up.stem.conv1[.norm]    backbone.conv1 / bn1
    backbone.bottom_up.res{s}.{i}.conv{n}[.norm]
                                  -> backbone.layer{s-1}.{i}.conv{n} / bn{n}
    backbone.bottom_up.res{s}.{i}.shortcut[.norm]
                                  -> backbone.layer{s-1}.{i}.downsample.0 / 1
    backbone.fpn_lateral{l}                 neck.lateral_convs.{l-2}.conv
    backbone.fpn_output{l}                  neck.fpn_convs.{l-2}.conv
    backbone.top_block.p6 / p7              neck.fpn_convs.4 / 5 .conv
    semantic_fpn.p{l}.{2j}[.norm]
        -> encoder.semantic_fpn.conv_upsample_layers.{l-2}.conv.{j}.conv / gn
        (the odd Sequential indices are Upsample layers, without weights)
    <tower>_head_{k}[.norm]                 <ours>.convs.{k-1}.conv / gn
    <tower>_head_{k}.dcnv2[.norm]           <ours>.convs.{k-1}.conv / gn
    <tower>_head_{k}.offset_mask_conv       <ours>.convs.{k-1}.conv.conv_offset
        towers: feature_encoder.encode_head.encode (encoder),
        position_head.position_head.position (pos_head),
        kernel_head.kernel_head.kernel (kernel_head)
    position_head.out_inst / out_sem        pos_head.thing_out / stuff_out
    kernel_head.out_conv                    kernel_head.out_conv
    thing_generator.embed_extractor         thing_embed
    stuff_generator.embed_extractor         stuff_embed

Nothing is permuted: the coordinate channels are appended as ``[row,
column]`` in both (:func:`.panoptic_fcn_heads.append_coordinates`), the DCNv2
offset convs split their 27 outputs as ``(o1, o2, mask)`` in both
(``ModulatedDeformConvWithOff`` and mmcv's ``ModulatedDeformConv2dPack``), and
the class channels are in the same order (things, then the merged things and
the stuff classes). BatchNorm's ``num_batches_tracked``, which detectron2's
FrozenBatchNorm lacks, is filled with 0.
"""
import os.path as osp
import pickle
import re
from typing import Callable, Dict, List, Mapping, Optional, Tuple

import numpy as np
import torch

# checkpoint entries other than the weights: training state, never converted
IGNORED_ENTRIES = ('optimizer', 'scheduler', 'iteration', 'grad_scaler',
                   '__author__', 'matching_heuristics')
TOWERS = {  # ours: official prefix of the tower's k-th conv (k from 1)
    'encoder': 'feature_encoder.encode_head.encode_head_head_',
    'pos_head': 'position_head.position_head.position_head_head_',
    'kernel_head': 'kernel_head.kernel_head.kernel_head_head_',
}
SINGLE_LAYERS = {  # official layer: ours
    'position_head.out_inst': 'pos_head.thing_out',
    'position_head.out_sem': 'pos_head.stuff_out',
    'kernel_head.out_conv': 'kernel_head.out_conv',
    'thing_generator.embed_extractor': 'thing_embed',
    'stuff_generator.embed_extractor': 'stuff_embed',
}
NUM_FPN_INPUTS = 4  # res2..res5: the top block's P6/P7 follow P2..P5
_P = r'(weight|bias|running_mean|running_var)'


class ConversionError(ValueError):
    """A checkpoint that does not convert; the message names the file and the
    keys."""


def _backbone(m: re.Match) -> str:
    stage, block, layer, norm, param = m.groups()
    prefix = f'backbone.layer{int(stage) - 1}.{block}.'
    if layer == 'shortcut':
        return prefix + f'downsample.{1 if norm else 0}.{param}'
    return prefix + f'{"bn" if norm else "conv"}{layer[4:]}.{param}'


def _semantic(m: re.Match) -> Optional[str]:
    level, index, norm, param = m.groups()
    if int(index) % 2:  # an Upsample layer has no weights
        return None
    return (f'encoder.semantic_fpn.conv_upsample_layers.{int(level) - 2}.'
            f'conv.{int(index) // 2}.{"gn" if norm else "conv"}.{param}')


def _tower(m: re.Match) -> str:
    official, k, part, param = m.groups()
    ours = next(o for o, p in TOWERS.items() if p.startswith(official))
    layer = {
        '': 'conv',
        'norm.': 'gn',
        'dcnv2.': 'conv',
        'dcnv2.norm.': 'gn',
        'offset_mask_conv.': 'conv.conv_offset'
    }[part]
    return f'{ours}.convs.{int(k) - 1}.{layer}.{param}'


_TOWER_ALTERNATIVES = '|'.join(
    re.escape(p[:-len('_head_')]) for p in TOWERS.values())
# official key pattern -> ours (a function of the match; None: no weights)
RULES: List[Tuple[re.Pattern, Callable[[re.Match], Optional[str]]]] = [
    (re.compile(rf'backbone\.bottom_up\.stem\.conv1\.(norm\.)?{_P}'),
     lambda m: f'backbone.{"bn1" if m[1] else "conv1"}.{m[2]}'),
    (re.compile(r'backbone\.bottom_up\.res([2-5])\.(\d+)\.'
                rf'(conv[1-3]|shortcut)\.(norm\.)?{_P}'), _backbone),
    (re.compile(r'backbone\.fpn_(lateral|output)([2-5])\.(weight|bias)'),
     lambda m: f'neck.{"lateral" if m[1] == "lateral" else "fpn"}_convs.'
     f'{int(m[2]) - 2}.conv.{m[3]}'),
    (re.compile(r'backbone\.top_block\.p([67])\.(weight|bias)'),
     lambda m: f'neck.fpn_convs.{NUM_FPN_INPUTS + int(m[1]) - 6}.conv.{m[2]}'),
    (re.compile(r'semantic_fpn\.p([2-5])\.(\d+)\.(norm\.)?(weight|bias)'),
     _semantic),
    (re.compile(rf'({_TOWER_ALTERNATIVES})_head_(\d+)\.'
                r'(|norm\.|dcnv2\.|dcnv2\.norm\.|offset_mask_conv\.)'
                r'(weight|bias)'), _tower),
    (re.compile('(' + '|'.join(map(re.escape, SINGLE_LAYERS)) +
                r')\.(weight|bias)'),
     lambda m: f'{SINGLE_LAYERS[m[1]]}.{m[2]}'),
]


def official_to_ours(key: str) -> Optional[str]:
    """Our name of an official key, or None if no rule knows it."""
    for pattern, rename in RULES:
        match = pattern.fullmatch(key)
        if match:
            return rename(match)
    return None


def ours_to_official(key: str, deformable: bool = False) -> Optional[str]:
    """The official name of one of our keys (None for ``num_batches_tracked``,
    which detectron2's FrozenBatchNorm does not store).

    Args:
        key (str): Our key.
        deformable (bool): Whether the key's tower conv is a DCNv2 (its
            official weight and norm sit under ``dcnv2``).
    """
    if key.endswith('num_batches_tracked'):
        return None
    m = re.fullmatch(r'backbone\.(conv1|bn1)\.(\w+)', key)
    if m:
        return ('backbone.bottom_up.stem.conv1.' +
                ('norm.' if m[1] == 'bn1' else '') + m[2])
    m = re.fullmatch(
        r'backbone\.layer(\d)\.(\d+)\.(conv|bn|downsample\.)'
        r'(\d)\.(\w+)', key)
    if m:
        stage, block, kind, index, param = m.groups()
        prefix = f'backbone.bottom_up.res{int(stage) + 1}.{block}.'
        if kind == 'downsample.':
            return prefix + 'shortcut.' + ('norm.' if index == '1' else '') \
                + param
        return prefix + f'conv{index}.' + ('norm.' if kind == 'bn' else '') \
            + param
    m = re.fullmatch(r'neck\.(lateral|fpn)_convs\.(\d+)\.conv\.(\w+)', key)
    if m:
        level = int(m[2]) + 2
        if m[1] == 'lateral':
            return f'backbone.fpn_lateral{level}.{m[3]}'
        if int(m[2]) < NUM_FPN_INPUTS:
            return f'backbone.fpn_output{level}.{m[3]}'
        return f'backbone.top_block.p{level}.{m[3]}'
    m = re.fullmatch(
        r'encoder\.semantic_fpn\.conv_upsample_layers\.(\d+)\.conv\.(\d+)\.'
        r'(conv|gn)\.(\w+)', key)
    if m:
        return (f'semantic_fpn.p{int(m[1]) + 2}.{2 * int(m[2])}.' +
                ('norm.' if m[3] == 'gn' else '') + m[4])
    m = re.fullmatch(
        r'(encoder|pos_head|kernel_head)\.convs\.(\d+)\.'
        r'(conv\.conv_offset|conv|gn)\.(\w+)', key)
    if m:
        part = {
            'conv.conv_offset': 'offset_mask_conv.',
            'conv': 'dcnv2.' if deformable else '',
            'gn': 'dcnv2.norm.' if deformable else 'norm.'
        }[m[3]]
        return f'{TOWERS[m[1]]}{int(m[2]) + 1}.{part}{m[4]}'
    m = re.fullmatch(r'(.+)\.(weight|bias)', key)
    for official, ours in SINGLE_LAYERS.items():
        if m and m[1] == ours:
            return f'{official}.{m[2]}'
    return None


def to_official(state_dict: Mapping[str, torch.Tensor]) -> dict:
    """Our state dict in the official layout (the inverse of
    :func:`convert_official`; for tests and for exporting).

    Raises:
        ConversionError: A key has no official name.
    """
    deformable = {
        k[:-len('.conv.conv_offset.weight')]
        for k in state_dict if k.endswith('.conv.conv_offset.weight')
    }
    out, unknown = {}, []
    for key, value in state_dict.items():
        tower_conv = re.match(r'(?:encoder|pos_head|kernel_head)\.convs\.\d+',
                              key)
        name = ours_to_official(
            key, tower_conv is not None and tower_conv[0] in deformable)
        if name is None and not key.endswith('num_batches_tracked'):
            unknown.append(key)
        elif name is not None:
            out[name] = value
    if unknown:
        raise ConversionError(f'no official name for {unknown}')
    return out


def load_official(filename: str) -> Tuple[Dict[str, torch.Tensor], List[str]]:
    """The weights of an official checkpoint file and the names of the entries
    ignored.

    Accepts detectron2's ``.pth`` (``{'model': state_dict, 'optimizer':
    ..., 'scheduler': ..., 'iteration': ...}``) and ``.pkl`` (numpy arrays)
    files, or a bare state dict.

    Raises:
        ConversionError: Neither layout, or entries that are neither weights
            nor known training state.
    """
    if filename.endswith('.pkl'):
        with open(filename, 'rb') as f:
            checkpoint = pickle.load(f, encoding='latin1')
    else:
        checkpoint = torch.load(
            filename, map_location='cpu', weights_only=True)
    if not isinstance(checkpoint, dict):
        raise ConversionError(f'{filename}: a {type(checkpoint).__name__}, '
                              'not a checkpoint dict')
    if 'blobs' in checkpoint:
        raise ConversionError(
            f'{filename}: Caffe2 "blobs" (Detectron 1 names); convert it with '
            'detectron2 first')
    ignored = []
    if isinstance(checkpoint.get('model'), dict):
        others = sorted(set(checkpoint) - {'model'})
        unknown = [k for k in others if k not in IGNORED_ENTRIES]
        if unknown:
            raise ConversionError(
                f'{filename}: entries {unknown} are neither "model" nor '
                f'training state ({", ".join(IGNORED_ENTRIES)})')
        ignored, checkpoint = others, checkpoint['model']
    weights, bad = {}, []
    for key, value in checkpoint.items():
        if isinstance(value, np.ndarray):
            value = torch.from_numpy(np.ascontiguousarray(value))
        if not isinstance(value, torch.Tensor):
            bad.append(key)
        weights[key] = value
    if bad:
        raise ConversionError(
            f'{filename}: {bad[:10]} are not tensors (not a state dict)')
    return weights, ignored


def convert_official(
        official: Mapping[str, torch.Tensor],
        target: Mapping[str, torch.Tensor],
        filename: str = 'the checkpoint') -> Dict[str, torch.Tensor]:
    """Rename an official state dict to ours and check it against ``target``
    (our model's state dict): every official key must map to a key of
    ``target`` with the same shape, and every key of ``target`` must be filled
    (``num_batches_tracked`` with 0).

    Args:
        official (Mapping[str, Tensor]): Official weights.
        target (Mapping[str, Tensor]): The state dict of the model built
            from the config the weights are meant for.
        filename (str): Named in errors.

    Returns:
        dict[str, Tensor]: Our state dict, in ``target``'s key order and
        dtypes.

    Raises:
        ConversionError: Listing every unknown, unexpected, mismatched and
            missing key.
    """
    converted, problems = {}, []
    for key, value in official.items():
        name = official_to_ours(key)
        if name is None:
            problems.append(f'{key}: unknown official key')
        elif name not in target:
            problems.append(f'{key}: maps to {name}, which the model lacks')
        elif tuple(value.shape) != tuple(target[name].shape):
            problems.append(f'{key} -> {name}: shape {tuple(value.shape)} in '
                            f'the file, {tuple(target[name].shape)} in the '
                            'model')
        elif name in converted:
            problems.append(f'{key}: a second official key for {name}')
        else:
            converted[name] = value.to(target[name].dtype)
    for name, value in target.items():
        if name in converted:
            continue
        if name.endswith('num_batches_tracked'):
            converted[name] = torch.zeros_like(value)
        else:
            problems.append(f'{ours_to_official(name) or name}: missing '
                            f'(for {name})')
    if problems:
        shown = '\n  '.join(problems[:30])
        more = (f'\n  ... and {len(problems) - 30} more'
                if len(problems) > 30 else '')
        raise ConversionError(
            f'{filename}: {len(problems)} key(s) do not fit the model:'
            f'\n  {shown}{more}')
    return {name: converted[name] for name in target}


def official_config_name(official: Mapping[str, torch.Tensor]) -> str:
    """The config (under ``configs/panoptic_fcn/``) whose model the official
    weights fit: deformable position head or not, "*" (deformable encoder, C_e
    256) or not."""
    if any(
            k.startswith(TOWERS['encoder']) and 'offset_mask_conv' in k
            for k in official):
        return 'panoptic-fcn-star_r50_fpn_ms-3x_coco.py'
    if any(
            k.startswith(TOWERS['pos_head']) and 'offset_mask_conv' in k
            for k in official):
        return 'panoptic-fcn_r50_fpn_1x_coco.py'
    return 'panoptic-fcn_r50_fpn_no-dcn_1x_coco.py'


def converted_dataset_meta(cfg, num_things: int, num_stuff: int) -> dict:
    """The class names a converted checkpoint carries: the config's test
    dataset ``metainfo`` (``thing_classes`` and ``stuff_classes``), else its
    annotation file's, else (when the counts are COCO's 80 + 53, in the
    category id order the official model uses) mmdet's COCO panoptic names.

    Raises:
        ConversionError: No names for the model's class counts.
    """
    from mmdet.datasets import CocoPanopticDataset as MMDetCocoPanoptic

    from mmpanfpn.apis.dataset_meta import config_dataset_meta
    given = cfg.get('test_dataloader', {}).get('dataset',
                                               {}).get('metainfo') or {}
    if 'thing_classes' in given and 'stuff_classes' in given:
        meta = dict(
            given,
            classes=tuple(given['thing_classes']) +
            tuple(given['stuff_classes']))
    else:
        meta = config_dataset_meta(cfg)[0]
    if meta is None and (num_things, num_stuff) == (80, 53):
        meta = MMDetCocoPanoptic.METAINFO
    counts = None if meta is None else (len(meta.get('thing_classes', ())),
                                        len(meta.get('stuff_classes', ())))
    if counts != (num_things, num_stuff):
        raise ConversionError(
            f'{cfg.filename}: no class names for {num_things} things and '
            f'{num_stuff} stuff (make the test annotation file readable or '
            'give test_dataloader.dataset.metainfo)')
    keys = ('classes', 'thing_classes', 'stuff_classes', 'label2cat')
    return {k: tuple(meta[k]) for k in keys if k in meta}


def convert_checkpoint(src: str, config: Optional[str] = None) -> dict:
    """An official checkpoint file as an mmpanfpn checkpoint.

    Args:
        src (str): Official ``.pth`` / ``.pkl`` file.
        config (str, optional): Our config the weights are for; by default
            the one :func:`official_config_name` picks.

    Returns:
        dict: ``state_dict`` and ``meta`` (``dataset_meta``, ``config``,
        ``converted_from``, ``ignored_entries``).
    """
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from mmpanfpn.registry import MODELS
    from mmpanfpn.utils import register_all_modules
    register_all_modules(init_default_scope=False)
    official, ignored = load_official(src)
    if config is None:
        config = osp.join(
            osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__)))),
            'configs', 'panoptic_fcn', official_config_name(official))
    cfg = Config.fromfile(config)
    cfg.model.backbone.init_cfg = None  # no download: weights come next
    with DefaultScope.overwrite_default_scope('mmpanfpn'):
        model = MODELS.build(cfg.model)
    state_dict = convert_official(official, model.state_dict(), src)
    meta = dict(
        dataset_meta=converted_dataset_meta(cfg, model.num_things_classes,
                                            model.num_stuff_classes),
        config=osp.basename(config),
        converted_from=osp.basename(src),
        ignored_entries=ignored)
    return dict(meta=meta, state_dict=state_dict)
