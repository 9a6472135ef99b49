import pytest
from mmengine.registry import DefaultScope

from mmpanfpn.datasets.synthetic import make_synthetic_panoptic
from mmpanfpn.utils import register_all_modules

register_all_modules()


@pytest.fixture(autouse=True)
def mmpanfpn_scope():
    """Every test starts in the mmpanfpn scope, whatever scope an earlier test
    (an mmseg runner, say) left current: MMEngine builds plain type names in
    the current default scope."""
    with DefaultScope.overwrite_default_scope('mmpanfpn'):
        yield


@pytest.fixture(scope='session')
def synthetic_root(tmp_path_factory):
    """A small synthetic COCO-panoptic dataset shared by the whole session."""
    root = tmp_path_factory.mktemp('synthetic')
    return str(
        make_synthetic_panoptic(
            str(root), num_train=24, num_val=8, size=(64, 64), seed=0))
