"""``mmpanfpn::<path>`` names in the package this test imports (the checkout;
tests/test_package_install.py does the same through an installed wheel)."""
import os.path as osp

import pytest
from mmengine.config.utils import MODULE2PACKAGE

import mmpanfpn  # noqa: F401  registers the name with mmengine
from mmpanfpn.utils import resolve_config
from mmpanfpn.utils.package_files import (list_package_configs,
                                          package_config_root,
                                          register_config_package)
from mmpanfpn.utils.tool_config import prepare_config

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
TINY = 'panoptic_fpn/panoptic-fpn_tiny_synthetic.py'


def test_import_registers_mmpanfpn_and_changes_nothing_else():
    assert MODULE2PACKAGE['mmpanfpn'] == 'mmpanfpn'
    before = dict(MODULE2PACKAGE)
    register_config_package()  # idempotent
    assert MODULE2PACKAGE == before
    # the other packages' entries are mmengine's own
    assert MODULE2PACKAGE['mmdet'] == 'mmdet'
    assert MODULE2PACKAGE['mmseg'] == 'mmsegmentation'


def test_names_resolve_to_the_checkouts_configs():
    assert osp.realpath(package_config_root()) == osp.join(ROOT, 'configs')
    assert osp.samefile(
        resolve_config('mmpanfpn::' + TINY), osp.join(ROOT, 'configs', TINY))
    assert TINY in list_package_configs()
    assert '_base_/default_runtime.py' in list_package_configs()


def test_paths_pass_through_and_missing_files_are_named(tmp_path):
    path = str(tmp_path / 'mine.py')
    with open(path, 'w') as f:
        f.write('x = 1\n')
    assert resolve_config(path) == path
    with pytest.raises(FileNotFoundError, match='nope.py: config file not'):
        resolve_config('nope.py')


def test_unknown_names_are_refused_with_the_closest():
    with pytest.raises(
            FileNotFoundError,
            match='mmpanfpn::semantic_fpn/fpn_r18_tiny.py: no such config in '
            'mmpanfpn; did you mean '
            'mmpanfpn::semantic_fpn/fpn_r18_tiny_synthetic.py'):
        resolve_config('mmpanfpn::semantic_fpn/fpn_r18_tiny.py')


def test_other_packages_names_point_to_base():
    with pytest.raises(ValueError, match="_base_ = 'mmdet::a/b.py'"):
        resolve_config('mmdet::a/b.py')


def test_the_tools_take_a_name():
    cfg = prepare_config('mmpanfpn::' + TINY, {'train_cfg.max_iters': 3})
    assert cfg.train_cfg.max_iters == 3
    assert cfg.model.neck.out_channels == 64
    assert cfg.work_dir == osp.join('./work_dirs',
                                    'panoptic-fpn_tiny_synthetic')
