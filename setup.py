"""mmpanfpn's build: metadata in setup.cfg; here the optional C++ ops and the
files MIM and ``mmpanfpn::`` config names read.

``mmpanfpn._ext`` holds a CPU RoIAlign that equals mmcv's bit for bit and runs
on every core (mmpanfpn/ops/csrc). It needs torch at build time (the Makefile
installs with ``--no-build-isolation``); without torch, or with
``MMPANFPN_WITH_OPS=0``, the package installs without it and mmcv's kernel is
used instead.

Like mmdet and mmseg, the package carries the configs, the tools and
``model-index.yml`` in ``mmpanfpn/.mim/``: a wheel (``pip install .``,
``pip wheel .``) gets copies of them, written into the build folder only; an
editable install (``pip install -e .``) gets symlinks in the checkout's
``mmpanfpn/.mim`` (gitignored), so that edits to ``configs/`` show at once.
"""
import os
import os.path as osp
import shutil
import sys
from setuptools import setup
from setuptools.command.build_py import build_py

ROOT = osp.dirname(osp.abspath(__file__))
# what mmengine (``mmpanfpn::`` names), ``mim train/test`` and ``mim search``
# look for under ``<package>/.mim``
MIM_FILES = ('configs', 'tools', 'model-index.yml')


def ext_modules():
    if os.environ.get('MMPANFPN_WITH_OPS', '1') == '0':
        return [], {}
    try:
        from torch.utils.cpp_extension import BuildExtension, CppExtension
    except ImportError:
        return [], {}
    # -ffp-contract=off: no fused multiply-add, so that the vectorised code
    # rounds exactly like mmcv's scalar kernel
    flags = ['-O3', '-fopenmp', '-ffp-contract=off']
    ext = CppExtension(
        'mmpanfpn._ext', ['mmpanfpn/ops/csrc/roi_align_cpu.cpp'],
        extra_compile_args={'cxx': flags},
        extra_link_args=['-fopenmp'])
    return [ext], {'build_ext': BuildExtension.with_options(use_ninja=False)}


def _replace(target):
    if osp.islink(target) or osp.isfile(target):
        os.remove(target)
    elif osp.isdir(target):
        shutil.rmtree(target)


def add_mim_files(mim_dir, mode):
    """Put the configs, tools and model index into ``mim_dir``.

    The idea is mmdet's ``add_mim_extension`` (setup.py of mmdetection 3.x):
    copies for a wheel, relative symlinks for an editable install. Unlike it,
    the copies go to the build folder, never into the checkout, so a wheel
    build leaves no stale copy behind for the editable install to read.

    Args:
        mim_dir (str): the ``.mim`` folder to fill (made if missing).
        mode (str): ``'copy'`` or ``'symlink'``.
    """
    os.makedirs(mim_dir, exist_ok=True)
    for name in MIM_FILES:
        src = osp.join(ROOT, name)
        target = osp.join(mim_dir, name)
        _replace(target)
        if mode == 'symlink':
            os.symlink(osp.relpath(src, mim_dir), target)
        elif osp.isdir(src):
            shutil.copytree(
                src, target, ignore=shutil.ignore_patterns(
                    '__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, target)


class BuildPyWithMim(build_py):
    """``build_py`` that also copies the MIM files into the built package."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):
            add_mim_files(
                osp.join(self.build_lib, 'mmpanfpn', '.mim'), mode='copy')


if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
    add_mim_files(osp.join(ROOT, 'mmpanfpn', '.mim'), mode='symlink')

modules, cmdclass = ext_modules()
cmdclass['build_py'] = BuildPyWithMim
setup(ext_modules=modules, cmdclass=cmdclass)
