"""A user's own project on an installed mmpanfpn: the wheel carries the configs
and tools, a config in another folder inherits ``mmpanfpn::...``, and ``mim``
finds the package and its models.

The wheel is installed into a fresh venv that reuses the installed stack
(``mmpanfpn/testing/wheel_env.py`` says how, and why the checkout and an
editable mmpanfpn stay off its path); every command runs from a temporary
folder. The default run builds the wheel without the C++ op and checks config
resolution and ``mim search``. With ``MMPANFPN_TEST_WHEEL_TRAIN=1`` the wheel
is built with the op, and the installed package also makes a synthetic set,
trains 2 iterations with ``mim train`` and tests the checkpoint with ``mim
test`` (README, "Install": the command and its time).
"""
import importlib.util
import json
import os
import os.path as osp
import sysconfig
import zipfile

import pytest
import yaml

from mmpanfpn.testing.wheel_env import (build_wheel, clean_env, install_wheel,
                                        make_venv, run)

ROOT = osp.abspath(osp.join(osp.dirname(__file__), '..'))
TRAIN = os.environ.get('MMPANFPN_TEST_WHEEL_TRAIN') == '1'
TINY = 'mmpanfpn::panoptic_fpn/panoptic-fpn_tiny_synthetic.py'

needs_mim = pytest.mark.skipif(
    importlib.util.find_spec('mim') is None,
    reason='openmim is not installed (make install: requirements-mim.txt)')

USER_CONFIG = """\
# a user's config, outside any mmpanfpn checkout
_base_ = '{base}'
data_root = '{data_root}/'
train_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
val_dataloader = dict(batch_size=2, dataset=dict(data_root=data_root))
test_dataloader = val_dataloader
val_evaluator = dict(
    ann_file=data_root + 'annotations/panoptic_val.json',
    seg_prefix=data_root + 'annotations/panoptic_val/')
test_evaluator = val_evaluator
"""

# run by the venv's python in the user's folder
RESOLVE = """\
import json, sys
import mmpanfpn
from mmengine.config import Config
from mmpanfpn.utils.tool_config import prepare_config
mine = Config.fromfile('my_config.py')
named = prepare_config(sys.argv[1])
try:
    prepare_config(sys.argv[1].replace('_synthetic', ''))
    unknown = None
except FileNotFoundError as err:
    unknown = str(err)
print(json.dumps(dict(
    package=mmpanfpn.__file__,
    ops=__import__('mmpanfpn.ops', fromlist=['x']).HAS_CPU_KERNEL,
    named=named.filename,
    data_root=mine.train_dataloader.dataset.data_root,
    ann_file=mine.val_evaluator.ann_file,
    channels=mine.model.neck.out_channels,
    scope=mine.model.get('_scope_'),
    max_iters=mine.train_cfg.max_iters,
    same_model=mine.model.to_dict() == dict(named.model, _scope_='mmpanfpn'),
    unknown=unknown,
    path=sys.path,
    finders=[repr(finder) for finder in sys.meta_path],
)))
"""


@pytest.fixture(scope='module')
def installed(tmp_path_factory):
    """(venv python, user folder, wheel path): the wheel installed."""
    work = str(tmp_path_factory.mktemp('wheel'))
    wheel = build_wheel(ROOT, work, with_ops=TRAIN)
    python = make_venv(osp.join(work, 'venv'))
    user = osp.join(work, 'my_project')
    os.makedirs(user)
    install_wheel(python, wheel, cwd=user)
    return python, user, wheel


def test_the_wheel_carries_configs_tools_and_model_index(installed):
    _, _, wheel = installed
    names = set(zipfile.ZipFile(wheel).namelist())
    for name in ('mmpanfpn/.mim/model-index.yml',
                 'mmpanfpn/.mim/configs/panoptic_fpn/metafile.yml',
                 'mmpanfpn/.mim/configs/panoptic_fpn/'
                 'panoptic-fpn_tiny_synthetic.py',
                 'mmpanfpn/.mim/configs/_base_/default_runtime.py',
                 'mmpanfpn/.mim/tools/train.py', 'mmpanfpn/.mim/tools/test.py',
                 'mmpanfpn/.mim/tools/make_synthetic_dataset.py',
                 'mmpanfpn/models/__init__.py'):
        assert name in names, name
    # every config of the checkout, nothing of the tests
    configs = {
        osp.relpath(osp.join(d, f), ROOT)
        for d, _, files in os.walk(osp.join(ROOT, 'configs')) for f in files
        if f.endswith(('.py', '.yml'))
    }
    assert {'mmpanfpn/.mim/' + c for c in configs} <= names
    assert not [n for n in names if n.startswith('tests/')]
    assert any(n.startswith('mmpanfpn/_ext') for n in names) == TRAIN


def test_a_user_config_inherits_a_packaged_one(installed, tmp_path):
    python, user, _ = installed
    data_root = str(tmp_path / 'my_data')
    with open(osp.join(user, 'my_config.py'), 'w') as f:
        f.write(USER_CONFIG.format(base=TINY, data_root=data_root))
    with open(osp.join(user, 'resolve.py'), 'w') as f:
        f.write(RESOLVE)
    out = json.loads(
        run([python, 'resolve.py', TINY], cwd=user).stdout.splitlines()[-1])
    venv = osp.dirname(osp.dirname(python))
    # the installed package ran, not the checkout: nothing of the checkout
    # on the path, no editable install's finder
    assert out['package'].startswith(venv + os.sep), out['package']
    # (the shared site-packages, and folders in it such as setuptools'
    # _vendor, may lie in the checkout: make install's .venv)
    shared = tuple(
        osp.realpath(sysconfig.get_paths()[key]) + os.sep
        for key in ('purelib', 'platlib'))

    def in_checkout(path):
        path = osp.realpath(path) + os.sep
        return path.startswith(ROOT + os.sep) and not path.startswith(shared)

    assert not [p for p in out['path'] if in_checkout(p)], out['path']
    assert not [f for f in out['finders'] if 'editable' in f]
    assert out['ops'] == TRAIN
    # the tools' "mmpanfpn::" name resolves into the installed package
    assert out['named'].startswith(
        osp.join(osp.dirname(out['package']), '.mim', 'configs'))
    # what the user changed, and what was inherited unchanged
    assert out['data_root'] == data_root + '/'
    assert out['ann_file'] == data_root + '/annotations/panoptic_val.json'
    assert (out['channels'], out['max_iters']) == (64, 200)
    assert out['scope'] == 'mmpanfpn'
    assert out['same_model']
    # a name that is not there: refused, the closest config named first
    assert out['unknown'].startswith(
        'mmpanfpn::panoptic_fpn/panoptic-fpn_tiny.py: no such config in '
        'mmpanfpn; did you mean '
        'mmpanfpn::panoptic_fpn/panoptic-fpn_tiny_synthetic.py, ')


@needs_mim
def test_mim_search_lists_the_models(installed):
    python, user, _ = installed
    run([python, '-m', 'mim', 'search', 'mmpanfpn', '--json', 'models.json'],
        cwd=user)
    with open(osp.join(user, 'models.json')) as f:
        fields = json.load(f)  # {field: {model name: value}}
    # every entry of the checkout's metafiles
    with open(osp.join(ROOT, 'model-index.yml')) as f:
        metafiles = yaml.safe_load(f)['Import']
    names = set()
    for metafile in metafiles:
        with open(osp.join(ROOT, metafile)) as f:
            names |= {m['Name'] for m in yaml.safe_load(f)['Models']}
    assert set(fields['config']) == names
    assert fields['config']['panoptic-fpn_r50_fpn_1x_coco'] == \
        'configs/panoptic_fpn/panoptic-fpn_r50_fpn_1x_coco.py'
    assert fields['coco/pq']['panoptic-fpn_r101_fpn_ms-3x_coco'] == 44.1
    assert fields['cityscapes/miou'][
        'fpn_r50_4xb2-80k_cityscapes-512x1024'] == 74.52
    assert fields['weight']['panoptic-fpn_r50_fpn_1x_coco'].endswith(
        'panoptic_fpn_r50_fpn_1x_coco_20210821_101153-9668fd13.pth')
    assert fields['model']['fpn_r50_4xb4-160k_ade20k-512x512'] == \
        'semanticfpn'


@needs_mim
@pytest.mark.skipif(not TRAIN, reason='MMPANFPN_TEST_WHEEL_TRAIN=1 runs it')
def test_train_and_test_through_mim(installed, tmp_path):
    python, user, _ = installed
    data_root = str(tmp_path / 'my_data')
    tools = osp.join(
        run([
            python, '-c', 'import mmpanfpn, os.path as p; '
            'print(p.dirname(mmpanfpn.__file__))'
        ],
            cwd=user).stdout.strip(), '.mim', 'tools')
    run([
        python,
        osp.join(tools, 'make_synthetic_dataset.py'), data_root, '--num-train',
        '4', '--num-val', '2', '--size', '64', '64'
    ],
        cwd=user)
    with open(osp.join(user, 'my_config.py'), 'w') as f:
        f.write(USER_CONFIG.format(base=TINY, data_root=data_root))
    work_dir = str(tmp_path / 'work')
    env = clean_env(OMP_NUM_THREADS='2')
    # mim starts the installed package's tools/train.py with the venv's
    # python; --launcher none is mim's
    out = run([
        python, '-m', 'mim', 'train', 'mmpanfpn', 'my_config.py', '--work-dir',
        work_dir, '--cfg-options', 'train_cfg.max_iters=2',
        'train_cfg.val_interval=2', 'default_hooks.checkpoint.interval=2'
    ],
              cwd=user,
              env=env)
    assert f'Training command is {python} {tools}/train.py' in out.stdout
    checkpoint = osp.join(work_dir, 'iter_2.pth')
    assert osp.isfile(checkpoint)
    out = run([
        python, '-m', 'mim', 'test', 'mmpanfpn', 'my_config.py',
        '--checkpoint', checkpoint, '--work-dir', work_dir
    ],
              cwd=user,
              env=env)
    assert f'Testing command is {python} {tools}/test.py' in out.stdout
    assert 'panoptic/PQ' in out.stdout + out.stderr
