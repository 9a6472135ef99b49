"""``mmpanfpn::<path>`` config names: where the installed package keeps its
configs, and how mmengine learns that the ``mmpanfpn`` package has some.

Like mmdet and mmseg, an installed mmpanfpn carries its configs, tools and
model index in ``<package>/.mim/`` (setup.py copies them into the wheel). A
config in the user's own folder inherits one by name::

    _base_ = 'mmpanfpn::panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py'

mmengine resolves such names for the packages listed in its
``MODULE2PACKAGE`` table (``mmengine/config/utils.py``), then finds the
installed distribution (``mmengine.utils.get_installed_path``) and reads
``.mim/model-index.yml`` and ``.mim/configs/``. mmpanfpn is not in that table;
:func:`register_config_package` adds it.
"""
import difflib
import os.path as osp
from typing import List

PACKAGE = 'mmpanfpn'
PREFIX = PACKAGE + '::'


def register_config_package() -> None:
    """Let mmengine resolve ``mmpanfpn::<path>`` in ``_base_``.

    Adds the one ``mmpanfpn`` entry to mmengine's module-to-package table;
    other packages' entries, and everything else mmengine does, stay as they
    are. Idempotent.
    """
    try:
        from mmengine.config.utils import MODULE2PACKAGE
    except ImportError:
        # no mmengine, no configs to resolve: the PQ core and
        # tools/eval_panoptic.py run with numpy and OpenCV only
        return
    MODULE2PACKAGE.setdefault(PACKAGE, PACKAGE)


def package_config_root() -> str:
    """The folder whose relative paths ``mmpanfpn::`` names.

    That is ``<package>/.mim/configs`` of the mmpanfpn being run (a wheel's),
    or, for a package imported from a checkout (an editable install,
    ``PYTHONPATH=checkout``), the checkout's ``configs/``.

    Returns:
        str: an existing folder.

    Raises:
        FileNotFoundError: when this mmpanfpn has no configs (a build that
            left them out).
    """
    package_dir = osp.dirname(osp.dirname(osp.abspath(__file__)))
    candidates = [osp.join(package_dir, '.mim', 'configs')]
    checkout = osp.dirname(package_dir)
    if osp.isfile(osp.join(checkout, 'setup.py')):
        candidates.append(osp.join(checkout, 'configs'))
    for folder in candidates:
        if osp.isdir(folder):
            return folder
    raise FileNotFoundError(
        f'{package_dir}: this mmpanfpn has no configs (looked for '
        f'{" and ".join(candidates)}); reinstall it with '
        '"pip install --no-build-isolation ." from a checkout')


def list_package_configs() -> List[str]:
    """Relative paths of all configs ``mmpanfpn::`` can name, sorted."""
    import glob
    root = package_config_root()
    found = glob.glob(osp.join(root, '**', '*.py'), recursive=True)
    return sorted(osp.relpath(path, root) for path in found)


def resolve_config(config: str) -> str:
    """Turn a config path or a ``mmpanfpn::<path>`` name into a file path.

    Args:
        config (str): a path to a config file, or ``mmpanfpn::`` followed by
            a path relative to mmpanfpn's ``configs/`` folder, e.g.
            ``mmpanfpn::panoptic_fpn/panoptic-fpn_tiny_synthetic.py``.

    Returns:
        str: the path of an existing file.

    Raises:
        FileNotFoundError: no such file or packaged config; for a
            ``mmpanfpn::`` name the message names the closest configs.
        ValueError: another package's ``::`` name (only mmpanfpn's are
            resolved here; inherit those with ``_base_`` instead).
    """
    if '::' not in config:
        if not osp.isfile(config):
            raise FileNotFoundError(f'{config}: config file not found')
        return config
    package, _, relative = config.partition('::')
    if package != PACKAGE:
        raise ValueError(f'{config}: only {PREFIX} names are resolved here; '
                         f'for a {package} config, write a config of your '
                         f'own with _base_ = {config!r}')
    path = osp.join(package_config_root(), relative)
    if not osp.isfile(path):
        close = difflib.get_close_matches(
            relative, list_package_configs(), n=3, cutoff=0.5)
        hint = (f'; did you mean {", ".join(PREFIX + c for c in close)}?'
                if close else f' ({package_config_root()})')
        raise FileNotFoundError(f'{config}: no such config in mmpanfpn{hint}')
    return path
