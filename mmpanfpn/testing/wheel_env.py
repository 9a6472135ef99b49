"""Build mmpanfpn's wheel and install it into a fresh virtual environment that
reuses the already installed stack (torch, mmcv, mmdet, ...).

A fresh torch + mmcv install takes far too long for a test (mmcv compiles for
minutes), so the new environment sees the third-party packages of the
interpreter running the test through one ``.pth`` line naming its site-packages
folder. Only that folder is added: the ``.pth`` files inside it are not run
(Python runs those of site folders only), so an editable mmpanfpn installed
there (a finder hook or a path to the checkout, both set up by such ``.pth``
files) stays invisible, and the new environment's own ``site-packages``, which
comes first on ``sys.path``, holds the wheel's mmpanfpn. The checkout itself is
not on the path either: the commands run from a temporary folder, without
``PYTHONPATH``.
"""
import os
import os.path as osp
import shutil
import subprocess
import sys
import sysconfig
from typing import Dict, List, Optional

# what a build needs from the checkout (setup.py copies configs, tools and
# model-index.yml into the wheel's mmpanfpn/.mim)
SOURCE_FILES = ('setup.py', 'setup.cfg', 'pyproject.toml', 'README.md',
                'LICENSE', 'MANIFEST.in', 'model-index.yml', 'mmpanfpn',
                'configs', 'tools')
# build products and local state never copied into the build
IGNORED = shutil.ignore_patterns('__pycache__', '*.pyc', '*.so', '.mim',
                                 '*.egg-info')


def clean_env(**extra: str) -> Dict[str, str]:
    """The environment for the new venv's commands: no ``PYTHONPATH`` (it would
    put a checkout on the path), no user site-packages."""
    env = {k: v for k, v in os.environ.items() if k != 'PYTHONPATH'}
    env.update(PYTHONNOUSERSITE='1', PIP_DISABLE_PIP_VERSION_CHECK='1')
    env.update(extra)
    return env


def run(cmd: List[str],
        cwd: str,
        env: Optional[dict] = None,
        timeout: float = 600) -> subprocess.CompletedProcess:
    """Run ``cmd``; on failure raise with its output in the message."""
    proc = subprocess.run(
        cmd,
        cwd=cwd,
        env=env if env is not None else clean_env(),
        capture_output=True,
        text=True,
        timeout=timeout)
    if proc.returncode != 0:
        raise RuntimeError(f'{" ".join(cmd)} exited {proc.returncode}:\n'
                           f'{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}')
    return proc


def build_wheel(checkout: str, work_dir: str, with_ops: bool = True) -> str:
    """``pip wheel --no-build-isolation --no-deps`` of a copy of the checkout.

    The copy keeps the build's ``build/`` and ``*.egg-info`` out of the
    checkout. ``with_ops=False`` builds without the C++ op
    (``MMPANFPN_WITH_OPS=0``: no compiler run, mmcv's RoIAlign is used).

    Returns:
        str: the path of the ``.whl`` file.
    """
    source = osp.join(work_dir, 'source')
    os.makedirs(source)
    for name in SOURCE_FILES:
        src = osp.join(checkout, name)
        if osp.isdir(src):
            shutil.copytree(src, osp.join(source, name), ignore=IGNORED)
        elif osp.isfile(src):
            shutil.copyfile(src, osp.join(source, name))
    dist = osp.join(work_dir, 'dist')
    run([
        sys.executable, '-m', 'pip', 'wheel', '--no-build-isolation',
        '--no-deps', '--no-index', '-w', dist, source
    ],
        cwd=work_dir,
        env=clean_env(MMPANFPN_WITH_OPS='1' if with_ops else '0'))
    wheels = [name for name in os.listdir(dist) if name.endswith('.whl')]
    assert len(wheels) == 1, wheels
    return osp.join(dist, wheels[0])


def make_venv(path: str) -> str:
    """A venv whose ``site-packages`` sees this interpreter's third-party
    packages (see the module docstring), without pip of its own.

    Returns:
        str: the new venv's python.
    """
    run([sys.executable, '-m', 'venv', '--without-pip', path], cwd='/')
    python = osp.join(path, 'bin', 'python')
    probe = 'import sysconfig; print(sysconfig.get_paths()["purelib"])'
    site_packages = run([python, '-c', probe], cwd=path).stdout.strip()
    shared = []
    for key in ('purelib', 'platlib'):
        folder = sysconfig.get_paths()[key]
        if folder not in shared:
            shared.append(folder)
    with open(osp.join(site_packages, 'project_stack.pth'), 'w') as f:
        f.write('\n'.join(shared) + '\n')
    return python


def install_wheel(python: str, wheel: str, cwd: str) -> None:
    """Install ``wheel`` into the venv of ``python`` with the shared pip.

    ``--ignore-installed``: an mmpanfpn visible through the shared folder
    is left alone (never uninstalled); the wheel goes into the new venv.
    """
    run([
        python, '-m', 'pip', 'install', '--no-deps', '--no-index',
        '--ignore-installed', '--no-warn-script-location', wheel
    ],
        cwd=cwd)
