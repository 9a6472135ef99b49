"""benchmarks/bench_eval.py: its pieces on 2 tiny images give the same PQ as
mmdet's copy of panopticapi (the timings are not checked)."""
import sys

import pytest

from mmpanfpn.testing import load_tool
from mmpanfpn.testing import panopticapi_reference as standin


@pytest.fixture(scope='module')
def bench():
    return load_tool('benchmarks/bench_eval.py')


@pytest.fixture
def dataset(bench, tmp_path):
    return bench.write_dataset(
        str(tmp_path), num_images=2, seed=3, shape=(48, 64))


def test_offline_pq_agrees_with_the_reference(bench, dataset):
    with standin.panopticapi_standin():
        reference = bench.reference_offline(dataset,
                                            bench.load_annotation_set(dataset))
    ours = bench.ours_offline(dataset)
    assert ours.to_dict()  # something was counted
    assert bench.disagreements(reference, ours, dataset.categories) == []
    # and the check sees a difference
    cat_id = next(iter(ours.to_dict()))
    ours[cat_id].fp += 1
    assert bench.disagreements(reference, ours, dataset.categories)


def test_online_metrics_agree_with_the_reference(bench, dataset):
    num_images = len(dataset.image_ids)
    with standin.panopticapi_standin():
        reference = bench.reference_offline(dataset,
                                            bench.load_annotation_set(dataset))
        mmdet_metric = bench.make_mmdet_metric(dataset)
        bench.time_online(mmdet_metric,
                          lambda i: bench.mmdet_sample(dataset, i), num_images)
        mmdet_stat = bench.mmdet_online_stat(mmdet_metric)
    assert bench.disagreements(reference, standin.standin_as_ours(mmdet_stat),
                               dataset.categories) == []
    for metrics, full in (('pq', False), (['pq', 'bbox', 'segm',
                                           'miou'], True)):
        metric = bench.make_ours_metric(dataset, metrics)
        bench.time_online(metric,
                          lambda i: bench.ours_sample(dataset, i, full, 4),
                          num_images)
        assert bench.disagreements(reference, bench.ours_online_stat(metric),
                                   dataset.categories) == []


def test_run_benchmark_and_report(bench, dataset):
    with standin.panopticapi_standin():
        result = bench.run_benchmark(
            dataset, rounds=1, num_dets=4, log=lambda line: None)
    assert set(result['times']) == set(bench.METHODS)
    assert all(problems == [] for problems in result['problems'].values())
    report = bench.format_report(result)
    assert 'ours offline / decode floor' in report
    assert 'DISAGREES' not in report


def test_standin_is_removed_afterwards(bench):
    from mmdet.evaluation.functional import panoptic_utils
    from mmdet.evaluation.metrics import coco_panoptic_metric
    before = (panoptic_utils.PQStat, coco_panoptic_metric.panopticapi,
              'panopticapi' in sys.modules)
    with standin.panopticapi_standin():
        assert sys.modules['panopticapi.evaluation'].PQStat is \
            standin.StandinPQStat
        assert panoptic_utils.PQStat is standin.StandinPQStat
    assert (panoptic_utils.PQStat, coco_panoptic_metric.panopticapi,
            'panopticapi' in sys.modules) == before
