"""Offline PQ by hotcoco's engine ('fast'): our numpy core is the reference.

Generated folders (:mod:`mmpanfpn.testing.panoptic_folders`) must give the same
TP / FP / FN and IoU sums (to 1e-9) through both engines; on the one case where
the counts differ by design (several crowd segments of a category in an image),
and on data hotcoco rejects, our core counts.
"""
import json

import numpy as np
import pytest

from mmpanfpn.evaluation.functional import PQStat, evaluate_panoptic_files
from mmpanfpn.evaluation.functional.hotcoco_pq import (hotcoco_pq_stat,
                                                       needs_our_engine)
from mmpanfpn.testing.panoptic_folders import (random_pair,
                                               write_panoptic_folders)


def assert_same_counts(fast: PQStat, ours: PQStat) -> None:
    fast, ours = fast.to_dict(), ours.to_dict()
    assert fast.keys() == ours.keys()
    for cat_id, counts in ours.items():
        for key in ('tp', 'fp', 'fn'):
            assert fast[cat_id][key] == counts[key], (cat_id, key)
        assert abs(fast[cat_id]['iou'] - counts['iou']) < 1e-9, cat_id


@pytest.fixture(scope='module')
def folders(tmp_path_factory):
    rng = np.random.default_rng(0)
    pairs = [
        random_pair(rng, tuple(rng.integers(4, 40, size=2))) for _ in range(40)
    ]
    return write_panoptic_folders(str(tmp_path_factory.mktemp('pq')), pairs)


def test_fast_engine_counts_as_ours(folders):
    ours = evaluate_panoptic_files(*folders, nproc=1, progress=False)
    fast = evaluate_panoptic_files(
        *folders, nproc=1, progress=False, engine='fast')
    assert (ours.engine, fast.engine) == ('ours', 'fast')
    counted = ours.stat.to_dict()
    # the generated set exercises TP, FP and FN of things and stuff
    assert all(
        sum(c[k] for c in counted.values()) > 10 for k in ('tp', 'fp', 'fn'))
    assert_same_counts(fast.stat, ours.stat)
    summary = fast.stat.summarize(fast.categories)
    expected = ours.stat.summarize(ours.categories)
    assert expected['Things']['n'] and expected['Stuff']['n']
    for group in ('All', 'Things', 'Stuff'):
        assert summary[group]['n'] == expected[group]['n']
        for key in ('pq', 'sq', 'rq'):
            assert abs(summary[group][key] - expected[group][key]) < 1e-9


def test_fast_engine_asked_for_workers_in_a_process_that_used_hotcoco(folders):
    """hotcoco's thread pool does not survive a fork, so this process (which
    has imported hotcoco) counts on its own; forked workers from a fresh
    interpreter: ``tests/test_eval_panoptic_cli.py``, ``--nproc 2``."""
    ours = evaluate_panoptic_files(*folders, nproc=1, progress=False)
    fast = evaluate_panoptic_files(
        *folders, nproc=2, progress=False, engine='fast')
    assert fast.engine == 'fast'
    assert_same_counts(fast.stat, ours.stat)


def two_crowds_case(tmp_path):
    """Category 1: two crowd regions (ids 1 and 2) and one person (id 3); the
    prediction finds the person and puts a person (id 9) on crowd 1.

    GT          prediction 1 1 0 2 2   9 9 0 0 0 1 1 0 2 2   9 9 0 0 0 3 3 3 0
    0   3 3 3 0 0
    """
    gt = np.array([[1, 1, 0, 2, 2], [1, 1, 0, 2, 2], [3, 3, 3, 0, 0]])
    pred = np.array([[9, 9, 0, 0, 0], [9, 9, 0, 0, 0], [3, 3, 3, 0, 0]])
    gt_segments = [
        dict(id=1, category_id=1, iscrowd=1),
        dict(id=2, category_id=1, iscrowd=1),
        dict(id=3, category_id=1, iscrowd=0)
    ]
    pred_segments = [dict(id=9, category_id=1), dict(id=3, category_id=1)]
    return write_panoptic_folders(
        str(tmp_path), [(gt, gt_segments, pred, pred_segments)])


def test_several_crowds_of_a_category_are_counted_by_ours(tmp_path):
    gt_json, gt_dir, pred_json, pred_dir = two_crowds_case(tmp_path)
    result = evaluate_panoptic_files(
        gt_json, gt_dir, pred_json, pred_dir, nproc=1, engine='fast')
    assert result.engine == 'ours'
    # ours: person 3 matched (TP, IoU 1); 9 lies on crowd 1: not an FP
    assert result.stat.to_dict() == {1: dict(tp=1, fp=0, fn=0, iou=1.0)}
    # the reference (and hotcoco) keep only the last crowd region listed
    # (2), so 9 would be an FP there
    with open(gt_json) as f:
        gt_content = json.load(f)
    with open(pred_json) as f:
        pred_content = json.load(f)
    assert needs_our_engine(
        list(zip(gt_content['annotations'], pred_content['annotations']))) == (
            'image_id 1 has 2 crowd segments of category 1')
    hotcoco = hotcoco_pq_stat(gt_content, pred_content, gt_dir, pred_dir)
    assert hotcoco.to_dict() == {1: dict(tp=1, fp=1, fn=0, iou=1.0)}


def test_data_hotcoco_rejects_gets_our_error(folders, tmp_path):
    gt_json, gt_dir, pred_json, pred_dir = folders
    with open(pred_json) as f:
        pred = json.load(f)
    dropped = pred['annotations'][3]['segments_info'].pop(0)
    bad_json = str(tmp_path / 'pred.json')
    with open(bad_json, 'w') as f:
        json.dump(pred, f)
    with pytest.raises(ValueError) as error:
        evaluate_panoptic_files(
            gt_json, gt_dir, bad_json, pred_dir, nproc=1, engine='fast')
    # ours names the PNG and the id
    assert 'pred/000004.png' in str(error.value)
    assert str(dropped['id']) in str(error.value)


def test_unknown_engine():
    with pytest.raises(ValueError, match="'rust'"):
        evaluate_panoptic_files(
            'gt.json', 'gt', 'pred.json', 'pred', engine='rust')


def test_what_goes_to_our_engine():

    def ann(*segments, image_id=1):
        return dict(image_id=image_id, segments_info=list(segments))

    person = dict(id=1, category_id=1)
    crowd_a = dict(id=2, category_id=1, iscrowd=1)
    crowd_b = dict(id=3, category_id=1, iscrowd=1)
    crowd_car = dict(id=4, category_id=2, iscrowd=1)
    # one crowd per category: hotcoco counts as ours
    assert needs_our_engine([(ann(person, crowd_a, crowd_car), ann(person))
                             ]) is None
    assert needs_our_engine([
        (ann(crowd_a, crowd_b), ann(person))
    ]) == ('image_id 1 has 2 crowd segments of category 1')
    # ours refuses these (naming the file), hotcoco would count them
    assert 'repeats' in needs_our_engine([(ann(person), ann(person, person))])
    assert 'void id' in needs_our_engine([(ann(dict(id=0, category_id=1)),
                                           ann(person))])
