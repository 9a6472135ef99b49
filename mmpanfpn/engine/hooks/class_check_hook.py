from mmengine.hooks import Hook

from mmpanfpn.registry import HOOKS


@HOOKS.register_module()
class PanopticClassCheckHook(Hook):
    """Check before training/testing that the model's thing/stuff class counts
    equal the dataset's (read from its annotation file).

    A model configured for COCO's 80 + 53 classes trained on a custom set
    would otherwise run and score PQ = 0; the error names the config keys
    and the annotation file instead.
    """

    def _check(self, runner, dataloader) -> None:
        model = runner.model.module if hasattr(runner.model,
                                               'module') else runner.model
        # Panoptic FPN: its semantic head; Panoptic FCN: the detector itself
        head = getattr(model, 'semantic_head', model)
        dataset = getattr(dataloader, 'dataset', None)
        meta = getattr(dataset, 'metainfo', {}) or {}
        if head is None or 'thing_classes' not in meta:
            return
        source = getattr(dataset, 'ann_file', 'the dataset')
        for kind in ('things', 'stuff'):
            in_model = getattr(head, f'num_{kind}_classes', None)
            in_data = len(meta[f'{"thing" if kind == "things" else kind}'
                               '_classes'])
            if in_model is not None and in_model != in_data:
                raise ValueError(
                    f'{source} has {in_data} {kind} classes but the model '
                    f'has num_{kind}_classes={in_model} (set the model\'s '
                    'class counts to match: model.num_*_classes for Panoptic '
                    'FCN; model.semantic_head, model.panoptic_fusion_head '
                    'and the RoI heads\' num_classes for Panoptic FPN)')

    def before_train(self, runner) -> None:
        self._check(runner, runner.train_dataloader)

    def before_val(self, runner) -> None:
        self._check(runner, runner.val_dataloader)

    def before_test(self, runner) -> None:
        self._check(runner, runner.test_dataloader)
