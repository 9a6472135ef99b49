"""mmpanfpn's build: metadata in setup.cfg; here the optional C++ ops and the
files MIM and ``mmpanfpn::`` config names read.

``mmpanfpn._ext`` holds a CPU RoIAlign that equals mmcv's bit for bit and runs
on every core (mmpanfpn/ops/csrc). It needs torch at build time (the Makefile
installs with ``--no-build-isolation``); without torch, or with
``MMPANFPN_WITH_OPS=0``, the package installs without it and mmcv's kernel is
used instead.

Like mmdet and mmseg, a wheel (``pip install .``, ``pip wheel .``) carries
the configs, the tools and ``model-index.yml`` in ``mmpanfpn/.mim/``, copied
into the build folder only: the checkout gets no ``.mim`` (gitignored all the
same). An editable install (``pip install -e .``) has none: mmengine and mim
locate an installed package through its distribution, which an editable
install puts in site-packages while the package stays in the checkout, so
they would not look there (see README, "As a package").
"""
import os
import os.path as osp
import shutil
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


def add_mim_files(mim_dir):
    """Copy the configs, tools and model index into ``mim_dir``.

    mmdet's ``add_mim_extension`` (setup.py of mmdetection 3.x) is the model:
    the same three entries under ``<package>/.mim``. Unlike it, the copies
    are made in the build folder, never in the checkout, so no stale copy is
    left behind there.

    Args:
        mim_dir (str): the ``.mim`` folder of the built package; replaced.
    """
    if osp.isdir(mim_dir):
        shutil.rmtree(mim_dir)
    os.makedirs(mim_dir)
    for name in MIM_FILES:
        src = osp.join(ROOT, name)
        target = osp.join(mim_dir, name)
        if osp.isdir(src):
            shutil.copytree(
                src,
                target,
                ignore=shutil.ignore_patterns('__pycache__', '*.pyc'))
        else:
            shutil.copyfile(src, target)


class BuildPyWithMim(build_py):
    """``build_py`` that also copies the MIM files into the built package."""

    def run(self):
        super().run()
        if not getattr(self, 'editable_mode', False):
            add_mim_files(osp.join(self.build_lib, 'mmpanfpn', '.mim'))


modules, cmdclass = ext_modules()
cmdclass['build_py'] = BuildPyWithMim
setup(ext_modules=modules, cmdclass=cmdclass)
