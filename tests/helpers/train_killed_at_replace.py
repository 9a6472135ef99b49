"""``tools/train.py`` that SIGKILLs itself at one chosen ``os.replace``: the
moment a checkpoint or ``last_checkpoint`` written through a temp file is about
to be renamed into place, i.e. a kill in the middle of a save.

    KILL_AT_REPLACE=iter_4.pth python tests/helpers/train_killed_at_replace.py
        CONFIG [train.py args]

``KILL_AT_REPLACE`` is the target's basename, optionally followed by
``@TEXT``: then only a replace whose temp file contains TEXT (e.g.
``last_checkpoint@iter_4``) kills.
"""
import os
import os.path as osp
import runpy
import signal
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
target, _, text = os.environ['KILL_AT_REPLACE'].partition('@')
_replace = os.replace


def replace(src, dst, *args, **kwargs):
    if osp.basename(str(dst)) == target:
        with open(src, 'rb') as f:
            if text.encode() in f.read():
                os.kill(os.getpid(), signal.SIGKILL)
    return _replace(src, dst, *args, **kwargs)


os.replace = replace
sys.argv = [osp.join(ROOT, 'tools', 'train.py')] + sys.argv[1:]
runpy.run_path(sys.argv[0], run_name='__main__')
