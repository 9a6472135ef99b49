"""mmpanfpn's build: metadata in setup.cfg; here the optional C++ ops.

``mmpanfpn._ext`` holds a CPU RoIAlign that equals mmcv's bit for bit and runs
on every core (mmpanfpn/ops/csrc). It needs torch at build time (the Makefile
installs with ``--no-build-isolation``); without torch, or with
``MMPANFPN_WITH_OPS=0``, the package installs without it and mmcv's kernel is
used instead.
"""
import os
from setuptools import setup


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


modules, cmdclass = ext_modules()
setup(ext_modules=modules, cmdclass=cmdclass)
