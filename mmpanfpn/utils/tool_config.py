"""Config handling shared by tools/train.py and tools/test.py."""
import datetime
import difflib
import os
import os.path as osp
import subprocess
from typing import Optional

import torch
import torch.distributed as torch_dist
import torch.multiprocessing as mp
from mmengine.config import Config

# Top-level keys mmengine's Runner understands, beyond those a config has.
RUNNER_KEYS = ('work_dir', 'load_from', 'resume', 'launcher', 'randomness',
               'experiment_name', 'cfg', 'auto_scale_lr', 'custom_hooks',
               'resume_from', 'runner_type')


def check_cfg_options(cfg: Config, options: dict, config_path: str) -> None:
    """Refuse ``--cfg-options`` keys that look like typos of existing keys.

    A key whose last component is missing from the config while a close
    name exists (``train_cfg.max_iter`` vs ``max_iters``) is an error that
    names the close match; genuinely new keys are allowed.
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
                close = difflib.get_close_matches(part, choices, n=1,
                                                  cutoff=0.8)
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

    - ``--cfg-options`` are checked for typos, then merged;
    - ``work_dir``: CLI > config > ``work_dirs/<config name>``;
    - without a GPU, distributed runs use gloo instead of nccl.
    """
    if not osp.isfile(config_path):
        raise FileNotFoundError(f'{config_path}: config file not found')
    cfg = Config.fromfile(config_path)
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
    if isinstance(wrapper_type, type) and issubclass(
            wrapper_type, DistributedDataParallel):
        wrapper.setdefault('device_ids', None)
    cfg.model_wrapper_cfg = wrapper


def _launcher_environment(launcher: str, port=None) -> None:
    """Set the ``env://`` variables (``RANK``, ``WORLD_SIZE``,
    ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``) from what a slurm or
    mpi launcher gives, as MMEngine's ``_init_dist_slurm`` /
    ``_init_dist_mpi`` do (without their ``torch.cuda.set_device``)."""
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
        rank = os.environ['SLURM_PROCID']
        os.environ['WORLD_SIZE'] = os.environ['SLURM_NTASKS']
        os.environ['LOCAL_RANK'] = os.environ.get('SLURM_LOCALID', rank)
        if 'MASTER_ADDR' not in os.environ:
            node_list = os.environ['SLURM_NODELIST']
            os.environ['MASTER_ADDR'] = subprocess.getoutput(
                f'scontrol show hostname {node_list} | head -n1')
    else:
        rank = os.environ['OMPI_COMM_WORLD_RANK']
        os.environ['WORLD_SIZE'] = os.environ['OMPI_COMM_WORLD_SIZE']
        os.environ['LOCAL_RANK'] = os.environ['OMPI_COMM_WORLD_LOCAL_RANK']
    os.environ['RANK'] = rank
    if port is not None:
        os.environ['MASTER_PORT'] = str(port)
    # 29500: torch.distributed's default, as MMEngine uses
    os.environ.setdefault('MASTER_PORT', '29500')


def init_cpu_distributed(cfg: Config) -> bool:
    """Start the process group of a distributed run without a GPU.

    MMEngine's ``init_dist`` calls ``torch.cuda.set_device`` before
    ``init_process_group``, which fails on a machine without CUDA. Without
    a GPU, this starts the group itself, as ``init_dist`` would
    (``env_cfg.dist_cfg``: backend, timeout in seconds, ``port`` for slurm,
    other ``init_process_group`` arguments) for the ``pytorch``, ``slurm``
    and ``mpi`` launchers; the runner then finds it started and skips its
    own. Does nothing with a GPU, without a launcher or with a group already
    started.

    Returns:
        bool: whether a process group was started here.
    """
    launcher = cfg.get('launcher', 'none')
    if (launcher not in ('pytorch', 'slurm', 'mpi')
            or torch.cuda.is_available()
            or (torch_dist.is_available() and torch_dist.is_initialized())):
        return False
    dist_cfg = dict(cfg.get('env_cfg', {}).get('dist_cfg', {}))
    backend = dist_cfg.pop('backend', 'gloo')
    port = dist_cfg.pop('port', None)
    if dist_cfg.get('timeout') is not None:
        dist_cfg['timeout'] = datetime.timedelta(seconds=dist_cfg['timeout'])
    if launcher != 'pytorch':
        _launcher_environment(launcher, port)
    if mp.get_start_method(allow_none=True) is None:
        mp.set_start_method('spawn')
    torch_dist.init_process_group(backend=backend, **dist_cfg)
    return True
