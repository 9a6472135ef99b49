"""CocoPanopticMetric on two ranks (gloo, CPU) equals one process, exactly.

Each rank processes half of a fixed set of imperfect predictions on the
synthetic dataset through mmengine's Evaluator, which gathers the per-image
records with ``collect_results``; rank 0's metrics must be bit-identical to a
single-process run over all images.
"""
import os
import pickle
import socket

import numpy as np
import torch.distributed as dist
import torch.multiprocessing as mp
from mmengine.evaluator import Evaluator

from mmpanfpn.evaluation import CocoPanopticMetric

NUM_IMAGES = 10
WORLD_SIZE = 2
BATCH_SIZE = 2


def evaluate(samples: list, size: int, dataset_meta: dict,
             metric_cfg: dict) -> dict:
    """Process ``samples`` in batches, then evaluate ``size`` images."""
    evaluator = Evaluator(CocoPanopticMetric(**metric_cfg))
    evaluator.dataset_meta = dataset_meta
    for start in range(0, len(samples), BATCH_SIZE):
        evaluator.process(samples[start:start + BATCH_SIZE])
    return evaluator.evaluate(size)


def worker(rank: int, port: int, halves: list, dataset_meta: dict,
           metric_cfg: dict, out_file: str) -> None:
    # spawned: only what the metric needs is imported here, which keeps the
    # start-up of each rank short
    os.environ.update(MASTER_ADDR='127.0.0.1', MASTER_PORT=str(port))
    dist.init_process_group('gloo', rank=rank, world_size=WORLD_SIZE)
    try:
        size = sum(len(half) for half in halves)
        metrics = evaluate(halves[rank], size, dataset_meta, metric_cfg)
        if rank == 0:
            with open(out_file, 'wb') as f:
                pickle.dump(metrics, f)
    finally:
        dist.destroy_process_group()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(('127.0.0.1', 0))
        return sock.getsockname()[1]


def test_two_ranks_equal_one_process_exactly(tmp_path):
    # the fixed samples: the GT of each image, perturbed with a seeded rng
    from test_panoptic_metric import synthetic_dataset, synthetic_predictions

    from mmpanfpn.datasets.synthetic import make_synthetic_panoptic

    root = make_synthetic_panoptic(
        str(tmp_path / 'data'), num_train=0, num_val=NUM_IMAGES, size=(48, 64))
    dataset, evaluator_cfg = synthetic_dataset(root)
    samples = synthetic_predictions(dataset, np.random.RandomState(0))
    metric_cfg = {k: v for k, v in evaluator_cfg.items() if k != 'type'}
    single = evaluate(samples, len(samples), dataset.metainfo,
                      dict(metric_cfg, collect_dir=str(tmp_path / 'one')))

    # contiguous halves, not the sampler's interleaving: the result must
    # not depend on which rank saw which image
    half = NUM_IMAGES // WORLD_SIZE
    halves = [samples[:half], samples[half:]]
    out_file = str(tmp_path / 'rank0.pkl')
    mp.spawn(
        worker,
        args=(free_port(), halves, dataset.metainfo,
              dict(metric_cfg,
                   collect_dir=str(tmp_path / 'collect')), out_file),
        nprocs=WORLD_SIZE,
        join=True)
    with open(out_file, 'rb') as f:
        distributed = pickle.load(f)

    assert distributed == single  # exact, not approximate
    # all three metrics are there, and the predictions are imperfect
    for key in ('coco_panoptic/PQ', 'coco/bbox_mAP', 'coco/segm_mAP',
                'sem_seg/mIoU'):
        assert 0 < single[key] < (1 if key.startswith('coco/') else 100)
