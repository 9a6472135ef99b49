"""Scripts of a source checkout (``tools/``, ``benchmarks/``) for the tests:

loaded as modules, or run in a fresh interpreter that imports this checkout.
"""
import importlib.util
import os
import os.path as osp
from types import ModuleType

# the checkout this package lies in
REPO_ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def load_tool(path: str) -> ModuleType:
    """The script at ``path`` (relative to the checkout, e.g.
    ``'tools/eval_panoptic.py'``) as a module, run once per call; its ``if
    __name__ == '__main__'`` block does not run."""
    full = osp.join(REPO_ROOT, path)
    if not osp.isfile(full):
        raise FileNotFoundError(f'{full}: no such script (load_tool needs a '
                                'source checkout)')
    name = osp.splitext(osp.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, full)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def checkout_env() -> dict:
    """``os.environ`` with this checkout first on ``PYTHONPATH``, for a
    subprocess that must import it (not an installed copy)."""
    env = dict(os.environ)
    env['PYTHONPATH'] = os.pathsep.join(
        [REPO_ROOT] + [p for p in [env.get('PYTHONPATH')] if p])
    return env
