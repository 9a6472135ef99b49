"""MMEngine's ``CheckpointHook`` made safe against a kill at any moment.

MMEngine's hook (0.10) saves a checkpoint in three steps that a SIGKILL can
split badly:

1. it first deletes the oldest checkpoint beyond ``max_keep_ckpts``, then
   saves the new one: with ``max_keep_ckpts=1`` a kill during the save leaves
   no checkpoint at all;
2. it writes ``work_dir/last_checkpoint`` with ``open(..., 'w')``: a kill
   between the truncation and the write leaves it empty, and ``--resume``
   then silently starts from scratch.

Here the new checkpoint is written first (atomically, through
:class:`~mmpanfpn.engine.atomic_io.AtomicLocalBackend`, selected by the
hook's ``backend_args`` for a local ``out_dir`` without any, so also in a
runner that our tools did not start), then
``last_checkpoint`` is replaced atomically (temp file + rename), and only
then are the old checkpoints removed. At every instant ``last_checkpoint``
names a complete checkpoint.

It is registered as ``CheckpointHook`` in the ``mmpanfpn`` scope, so that
the ``default_hooks.checkpoint`` of every config run in that scope (mmdet's
``dict(type='CheckpointHook', ...)`` included) builds this one.
"""
import os.path as osp

from mmengine.dist import is_main_process
from mmengine.hooks import CheckpointHook as _MMEngineCheckpointHook

from mmpanfpn.engine.atomic_io import atomic_backend_args, atomic_write
from mmpanfpn.engine.safe_load import register_checkpoint_safe_globals
from mmpanfpn.registry import HOOKS


@HOOKS.register_module(name='CheckpointHook')
class AtomicCheckpointHook(_MMEngineCheckpointHook):
    """``CheckpointHook`` whose save order survives a kill (module doc)."""

    def before_run(self, runner) -> None:
        """What saving and resuming need, whoever started the runner (our
        tools, mmseg's, a script): the allow-list that ``--resume`` loads with
        (``weights_only=True``), and atomic writes of this hook's checkpoints
        to a local ``out_dir`` given no ``backend_args``."""
        register_checkpoint_safe_globals()
        out_dir = self.out_dir or runner.work_dir
        if (self.backend_args is None and self.file_client_args is None
                and '://' not in str(out_dir)):
            self.backend_args = atomic_backend_args()

    # Adapted from mmengine.hooks.CheckpointHook._save_checkpoint_with_step
    # (https://github.com/open-mmlab/mmengine, Apache-2.0, Copyright (c)
    # OpenMMLab), with the save first and the removals last.
    def _save_checkpoint_with_step(self, runner, step, meta):
        ckpt_filename = self.filename_tmpl.format(step)
        self.last_ckpt = self.file_backend.join_path(self.out_dir,
                                                     ckpt_filename)
        runner.message_hub.update_info('last_ckpt', self.last_ckpt)

        # the ids kept after this save go into the checkpoint itself
        to_remove = []
        if self.max_keep_ckpts > 0 and not (self.keep_ckpt_ids and
                                            self.keep_ckpt_ids[-1] == step):
            self.keep_ckpt_ids.append(step)
            while len(self.keep_ckpt_ids) > self.max_keep_ckpts:
                to_remove.append(self.keep_ckpt_ids.popleft())
            runner.message_hub.update_info('keep_ckpt_ids',
                                           list(self.keep_ckpt_ids))

        runner.save_checkpoint(
            self.out_dir,
            ckpt_filename,
            self.file_client_args,
            save_optimizer=self.save_optimizer,
            save_param_scheduler=self.save_param_scheduler,
            meta=meta,
            by_epoch=self.by_epoch,
            backend_args=self.backend_args,
            **self.args)

        if not is_main_process():
            return
        atomic_write(self.last_ckpt,
                     osp.join(runner.work_dir, 'last_checkpoint'))
        for old_step in to_remove:
            path = self.file_backend.join_path(
                self.out_dir, self.filename_tmpl.format(old_step))
            if self.file_backend.isfile(path):
                self.file_backend.remove(path)
            elif self.file_backend.isdir(path):
                # checkpoints saved by deepspeed are directories
                self.file_backend.rmtree(path)
