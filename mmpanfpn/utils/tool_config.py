"""Config handling shared by tools/train.py and tools/test.py."""
import difflib
import os
import os.path as osp
from typing import Optional
from unittest import mock

import torch
import torch.distributed as torch_dist
from mmengine.config import Config
from mmengine.dist import init_dist

from .package_files import resolve_config

# Top-level keys mmengine's Runner understands, beyond those a config has.
RUNNER_KEYS = ('work_dir', 'load_from', 'resume', 'launcher', 'randomness',
               'experiment_name', 'cfg', 'auto_scale_lr', 'custom_hooks',
               'resume_from', 'runner_type')


def check_cfg_options(cfg: Config, options: dict, config_path: str) -> None:
    """Refuse ``--cfg-options`` keys that look like typos of existing keys.

    A key whose last component is missing from the config while a close name
    exists (``train_cfg.max_iter`` vs ``max_iters``) is an error that names the
    close match; genuinely new keys are allowed.
    """
    for key in options:
        parts = key.split('.')
        node = cfg._cfg_dict if hasattr(cfg, '_cfg_dict') else cfg
        for depth, part in enumerate(parts):
            if isinstance(node, (list, tuple)) and part.isdigit():
                if int(part) >= len(node):
                    raise ValueError(
                        f'{config_path}: --cfg-options {key}: index {part} '
                        f'out of range ({len(node)} items)')
                node = node[int(part)]
                continue
            if not isinstance(node, dict):
                break
            if part not in node:
                choices = list(node.keys())
                if depth == 0:
                    choices += list(RUNNER_KEYS)
                close = difflib.get_close_matches(
                    part, choices, n=1, cutoff=0.8)
                if close:
                    where = '.'.join(parts[:depth] + [close[0]])
                    raise ValueError(
                        f'{config_path}: --cfg-options {key}: no key '
                        f'"{part}" here; did you mean "{where}"?')
                break
            node = node[part]


def prepare_config(config_path: str,
                   cfg_options: Optional[dict] = None,
                   work_dir: Optional[str] = None,
                   launcher: str = 'none') -> Config:
    """Load a config, apply CLI overrides and machine defaults.

    - ``config_path``: a file, or a ``mmpanfpn::<path>`` name of a config
      the installed package carries;
    - ``--cfg-options`` are checked for typos, then merged;
    - ``work_dir``: CLI > config > ``work_dirs/<config name>``;
    - without a GPU, distributed runs use gloo instead of nccl.
    """
    cfg = Config.fromfile(resolve_config(config_path))
    cfg.launcher = launcher
    if cfg_options:
        check_cfg_options(cfg, cfg_options, config_path)
        cfg.merge_from_dict(cfg_options)
    if work_dir is not None:
        cfg.work_dir = work_dir
    elif cfg.get('work_dir', None) is None:
        cfg.work_dir = osp.join('./work_dirs',
                                osp.splitext(osp.basename(config_path))[0])
    if not torch.cuda.is_available():
        env_cfg = cfg.setdefault('env_cfg', {})
        env_cfg.setdefault('dist_cfg', {})['backend'] = 'gloo'
        if launcher != 'none':
            _cpu_model_wrapper(cfg)
    return cfg


# The default wrapper below is the one mmengine.runner.Runner.wrap_model
# builds (https://github.com/open-mmlab/mmengine, Apache-2.0, Copyright (c)
# OpenMMLab).
def _cpu_model_wrapper(cfg: Config) -> None:
    """DDP of a CPU model takes no ``device_ids``.

    MMEngine's runner passes ``device_ids=[LOCAL_RANK]`` to a
    ``DistributedDataParallel`` wrapper unless ``model_wrapper_cfg`` names
    them; on CPU, DDP refuses them. The default wrapper (as the runner makes
    it) or the configured DDP one gets ``device_ids=None``.
    """
    from mmengine.model import MMDistributedDataParallel
    from mmengine.registry import MODEL_WRAPPERS
    from torch.nn.parallel import DistributedDataParallel

    wrapper = cfg.get('model_wrapper_cfg', None)
    if wrapper is None:
        wrapper = dict(
            type='MMDistributedDataParallel',
            broadcast_buffers=False,
            find_unused_parameters=cfg.get('find_unused_parameters', False))
    wrapper_type = wrapper.get('type', MMDistributedDataParallel)
    if isinstance(wrapper_type, str):
        wrapper_type = MODEL_WRAPPERS.get(wrapper_type)
    if isinstance(wrapper_type, type) and issubclass(wrapper_type,
                                                     DistributedDataParallel):
        wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def _check_launcher_environment(launcher: str) -> None:
    """Name the variables a slurm or mpi launcher should have set (MMEngine
    would fail on the first one with a bare ``KeyError``)."""
    if launcher == 'slurm':
        needed = ('SLURM_PROCID', 'SLURM_NTASKS', 'SLURM_NODELIST')
    else:
        needed = ('OMPI_COMM_WORLD_RANK', 'OMPI_COMM_WORLD_SIZE',
                  'OMPI_COMM_WORLD_LOCAL_RANK', 'MASTER_ADDR')
    missing = [name for name in needed if name not in os.environ]
    if missing:
        starter = 'srun' if launcher == 'slurm' else 'mpirun'
        raise KeyError(f'--launcher {launcher}: environment variable(s) '
                       f'{", ".join(missing)} not set (is this process '
                       f'started by {starter}?)')
    if launcher == 'slurm':
        # without it MMEngine takes the rank modulo the GPU count (0 here)
        os.environ.setdefault('SLURM_LOCALID', os.environ['SLURM_PROCID'])


def init_cpu_distributed(cfg: Config) -> bool:
    """Start the process group of a distributed run without a GPU.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` before
    ``init_process_group``, which fails on a machine without CUDA. Without
    a GPU, this runs MMEngine's ``init_dist`` (the ``pytorch``, ``slurm``
    and ``mpi`` launchers, ``env_cfg.dist_cfg`` as the runner passes it)
    with that one call skipped; the runner then finds the group started and
    skips its own. Does nothing with a GPU, without a launcher or with a
    group already started.

    Returns:
        bool: whether a process group was started here.
    """
    launcher = cfg.get('launcher', 'none')
    if (launcher not in ('pytorch', 'slurm', 'mpi')
            or torch.cuda.is_available()
            or (torch_dist.is_available() and torch_dist.is_initialized())):
        return False
    if launcher != 'pytorch':
        _check_launcher_environment(launcher)
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    dist_cfg.setdefault('backend', 'gloo')
    with mock.patch.object(torch.cuda, 'set_device', lambda device: None):
        init_dist(launcher, **dist_cfg)
    return True
