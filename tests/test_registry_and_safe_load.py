"""Packaging: version, registry scope, dependency check, checkpoint loading,
no side effects on import."""
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
import torch
from mmengine.logging import HistoryBuffer, MessageHub
from mmengine.registry import DefaultScope

import mmpanfpn
import mmpanfpn.engine
from mmpanfpn.registry import DATASETS, MODELS, TRANSFORMS
from mmpanfpn.testing import checkout_env
from mmpanfpn.utils import dependencies


def test_version():
    assert isinstance(mmpanfpn.__version__, str)
    assert mmpanfpn.version_info[:2] == tuple(
        int(x) for x in mmpanfpn.__version__.split('.')[:2])


def test_default_scope_and_resolution():
    assert DefaultScope.get_current_instance().scope_name == 'mmpanfpn'
    # our own module shadows mmdet's of the same name
    from mmpanfpn.datasets import CocoPanopticDataset
    assert DATASETS.get('CocoPanopticDataset') is CocoPanopticDataset
    assert TRANSFORMS.get('LoadPanopticAnnotations').__module__.startswith(
        'mmpanfpn')
    # plain mmdet names, explicit mmdet/mmseg scopes, mmengine's
    from mmdet.models import FPN, ResNet
    from mmseg.models.decode_heads import FPNHead
    assert MODELS.get('ResNet') is ResNet
    assert MODELS.get('mmdet.FPN') is FPN
    assert MODELS.get('mmseg.FPNHead') is FPNHead
    assert TRANSFORMS.get('PackDetInputs') is not None


def test_dependency_check_names_the_fix(monkeypatch):
    monkeypatch.setitem(dependencies.SUPPORTED, 'mmdet',
                        ('9.0.0', None, 'pip install mmdet==9'))
    with pytest.raises(
            ImportError,
            match=r'mmdet 3\.\d+\.\d+ is installed but '
            r'mmpanfpn needs >=9\.0\.0 \(fix: pip install mmdet==9'):
        dependencies.check_dependencies()
    monkeypatch.setitem(dependencies.SUPPORTED, 'surely-not-a-package',
                        ('1.0', None, 'pip install it'))
    with pytest.raises(
            ImportError, match='surely-not-a-package is not '
            'installed'):
        dependencies.check_dependencies()


class Untrusted:
    pass


def test_mmengine_checkpoint_loads_with_weights_only(tmp_path):
    """What MMEngine puts in a checkpoint's meta and message hub."""
    hub = MessageHub.get_instance('safe-load-test')
    hub.update_scalar('train/loss', 0.5)
    hub.update_scalar('train/loss', np.float64(0.25))
    hub.update_info('dataset_meta', dict(classes=('a', 'b')))
    ckpt = dict(
        meta=dict(
            epoch=1,
            iter=10,
            seed=np.int64(3),
            numbers=np.arange(4, dtype=np.float32),
            mask=np.array([True, False])),
        state_dict={'w': torch.ones(2)},
        message_hub=hub.state_dict())
    assert isinstance(ckpt['message_hub']['log_scalars']['train/loss'],
                      HistoryBuffer)
    path = tmp_path / 'epoch_1.pth'
    torch.save(ckpt, path)
    loaded = torch.load(path, weights_only=True)
    assert loaded['meta']['numbers'].tolist() == [0, 1, 2, 3]
    assert loaded['message_hub']['log_scalars']['train/loss'].current() == 0.25
    # mmengine's own loader (used by --resume and load_from)
    from mmengine.runner.checkpoint import _load_checkpoint
    assert _load_checkpoint(str(path))['meta']['iter'] == 10


def test_untrusted_type_is_refused(tmp_path):
    path = tmp_path / 'evil.pth'
    torch.save(dict(meta=dict(obj=Untrusted())), path)
    with pytest.raises(pickle.UnpicklingError, match='Untrusted'):
        torch.load(path, weights_only=True)


def test_getattr_is_served_only_for_history_buffer(tmp_path):
    """HistoryBuffer pickles ``getattr(HistoryBuffer, 'mean')``; nothing else
    may go through ``getattr``."""

    class Evil:

        def __reduce__(self):
            # would hand the loader a bound method of an allowed class
            return getattr, (np.ndarray, 'tofile')

    path = tmp_path / 'getattr.pth'
    torch.save(dict(meta=Evil()), path)
    with pytest.raises(pickle.UnpicklingError, match='allow-list'):
        torch.load(path, weights_only=True)


def test_model_zoo_layout_loads_into_our_config(tmp_path):
    """A checkpoint laid out as mmdet's model-zoo files are (``meta`` with
    ``mmdet_version``, ``CLASSES``, ``PALETTE``, the config text, epoch and
    iter; ``state_dict``; an SGD ``optimizer`` state) loads with
    ``weights_only=True`` through ``init_model``, the user's path."""
    import os.path as osp
    from collections import OrderedDict

    from mmpanfpn.apis import init_model

    config = osp.join(
        osp.dirname(osp.dirname(osp.abspath(__file__))), 'configs',
        'panoptic_fpn', 'panoptic-fpn_tiny_synthetic.py')
    model = init_model(config, device='cpu')
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    for value in state.values():
        if value.is_floating_point():
            value.uniform_(-1, 1)
    params = list(range(len(list(model.parameters()))))
    path = tmp_path / 'panoptic_fpn_zoo_layout.pth'
    torch.save(
        {
            'meta': {
                'mmdet_version':
                '2.16.0',
                'epoch':
                12,
                'iter':
                87960,
                'time':
                'Sat Aug 21 10:11:53 2021',
                'config':
                'model = dict()',
                'CLASSES':
                ('circle', 'square', 'triangle', 'sky', 'water', 'grass'),
                'PALETTE': [(220, 20, 60), (119, 11, 32), (0, 0, 142)],
                'hook_msgs': {
                    'last_ckpt': 'work_dirs/epoch_12.pth'
                },
            },
            'state_dict': state,
            'optimizer': {
                'state':
                {i: {
                    'momentum_buffer': torch.zeros(1)
                }
                 for i in params},
                'param_groups': [{
                    'lr': 0.0002,
                    'momentum': 0.9,
                    'weight_decay': 0.0001,
                    'params': params
                }],
            },
        }, path)
    loaded = init_model(config, str(path), device='cpu')
    for key, value in state.items():
        assert torch.equal(loaded.state_dict()[key], value), key


def test_import_changes_nothing_until_register_all_modules():
    """``import mmpanfpn`` (and its modules) leaves MMEngine's file backend and
    torch's allow-list alone; ``register_all_modules`` installs both."""
    code = '''
import torch
from mmengine.fileio import get_file_backend
from mmengine.fileio.backends import LocalBackend

import mmpanfpn, mmpanfpn.models, mmpanfpn.engine, mmpanfpn.evaluation
from mmpanfpn.datasets import CocoPanopticDataset
from mmpanfpn.engine import AtomicLocalBackend

def backend():
    return type(get_file_backend('x.pth', enable_singleton=False))

allowed = torch.serialization.get_safe_globals()
assert backend() is LocalBackend, backend()
from mmpanfpn.utils import register_all_modules
register_all_modules()
assert backend() is AtomicLocalBackend, backend()
assert len(torch.serialization.get_safe_globals()) > len(allowed)
print('ok')
'''
    proc = subprocess.run([sys.executable, '-c', code],
                          env=checkout_env(),
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0 and proc.stdout.strip() == 'ok', proc.stderr


def test_numpy_values_of_every_dtype_load_with_weights_only(tmp_path):
    """Scalars, arrays and empty arrays of every numpy dtype, and ``bytes``, as
    a metric or hook may leave them in ``meta``."""
    mmpanfpn.engine.register_checkpoint_safe_globals()
    codes = '?bBhHiIlLqQefdgFDGSUMm'
    values = {}
    for code in codes:
        dtype = np.dtype(code if code not in 'Mm' else code + '8[s]')
        array = np.zeros(3, dtype)
        values[code] = (array, array[:0], array[0])
    values['bytes'] = (b'', b'\x00\xff')
    torch.save(dict(meta=values), tmp_path / 'dtypes.pth')
    loaded = torch.load(tmp_path / 'dtypes.pth', weights_only=True)['meta']
    for code in codes:
        for got, saved in zip(loaded[code], values[code]):
            assert isinstance(got, np.ndarray) == isinstance(saved, np.ndarray)
            assert got.dtype == saved.dtype
            assert got.shape == saved.shape
    assert loaded['bytes'] == (b'', b'\x00\xff')


def test_code_in_a_checkpoint_is_still_refused(tmp_path):
    """Allowing ``bytes`` and every dtype lets no callable through: a pickle
    that would run a shell command is refused, and the command never runs."""
    mmpanfpn.engine.register_checkpoint_safe_globals()
    witness = tmp_path / 'ran'

    class Evil:

        def __reduce__(self):
            return os.system, (f'touch {witness}', )

    torch.save(dict(meta=dict(bytes=b'', obj=Evil())), tmp_path / 'evil.pth')
    with pytest.raises(pickle.UnpicklingError, match='system'):
        torch.load(tmp_path / 'evil.pth', weights_only=True)
    assert not witness.exists()
