"""Load a script of a source checkout (``tools/``, ``benchmarks/``) as a
module, so that a test can call its functions."""
import importlib.util
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
