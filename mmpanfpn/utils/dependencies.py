"""Check at import that the OpenMMLab stack is the one this project runs on.

The pins live in ``requirements.txt``; here we accept the version ranges the
code is known to work with and say how to fix anything else.
"""
from importlib import metadata

from packaging.version import Version

# package name on the index -> (lowest accepted, first refused, hint)
SUPPORTED = {
    'torch': ('2.0.0', None, 'pip install torch==2.13.0'),
    'mmengine': ('0.10.0', '1.0.0', 'pip install mmengine==0.10.7'),
    'mmcv': ('2.0.0', '2.2.0',
             'MMCV_WITH_OPS=1 pip install --no-build-isolation mmcv==2.1.0'),
    'mmdet': ('3.3.0', '3.4.0', 'pip install mmdet==3.3.0'),
    'mmsegmentation': ('1.2.0', '1.3.0', 'pip install mmsegmentation==1.2.2'),
    'pycocotools': ('2.0.0', None, 'pip install pycocotools'),
    # the default COCOeval and offline PQ engine ('fast')
    'hotcoco': ('1.3.0', '2.0.0', 'pip install hotcoco==1.3.0'),
}


def _problems() -> list:
    problems = []
    for name, (low, high, hint) in SUPPORTED.items():
        try:
            found = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            problems.append(f'{name} is not installed (fix: {hint})')
            continue
        if found < Version(low) or (high and found >= Version(high)):
            wanted = f'>={low}' + (f',<{high}' if high else '')
            problems.append(
                f'{name} {found} is installed but mmpanfpn needs {wanted} '
                f'(fix: {hint})')
    if not problems:
        try:
            import mmcv._ext  # noqa: F401  compiled ops (RoIAlign, NMS)
        except ImportError as err:
            problems.append(
                f'mmcv is installed without its compiled ops ({err}); build '
                'it from source: MMCV_WITH_OPS=1 pip install '
                '--no-build-isolation --no-binary mmcv mmcv==2.1.0 (GPU '
                'users: see README, "CUDA build of mmcv")')
    return problems


def check_dependencies() -> None:
    """Raise ``ImportError`` listing every missing or unsupported package."""
    problems = _problems()
    if problems:
        raise ImportError('mmpanfpn cannot start:\n  - ' +
                          '\n  - '.join(problems) +
                          '\nSee README.md, "Install", or run `make install`.')
