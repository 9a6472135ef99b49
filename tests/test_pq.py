"""Panoptic Quality: hand-checkable cases, then random cases against a slow
reference written from the definition.

In the grids below a digit is a segment id and 0 is void; the segment lists say
which category each id has.
"""
import json

import numpy as np
import pytest

from mmpanfpn.evaluation.functional.pq import (PQStat, PQStatCat,
                                               SegmentsError, area_mismatches,
                                               pq_single)

PERSON, CAR, SKY, TREE = 1, 2, 3, 4
CATEGORIES = {
    PERSON: {
        'id': PERSON,
        'name': 'person',
        'isthing': 1
    },
    CAR: {
        'id': CAR,
        'name': 'car',
        'isthing': 1
    },
    SKY: {
        'id': SKY,
        'name': 'sky',
        'isthing': 0
    },
    TREE: {
        'id': TREE,
        'name': 'tree',
        'isthing': 0
    },
}


def grid(text: str) -> np.ndarray:
    return np.array([[int(v) for v in row.split()]
                     for row in text.strip().splitlines()],
                    dtype=np.int64)


def segments(categories: dict, crowd=()) -> list:
    """``{segment_id: category_id}`` -> a ``segments_info`` list."""
    return [{
        'id': i,
        'category_id': c,
        'iscrowd': int(i in crowd)
    } for i, c in categories.items()]


def evaluate(gt, gt_cats, pred, pred_cats, crowd=()):
    stat = pq_single(
        grid(gt), segments(gt_cats, crowd), grid(pred), segments(pred_cats),
        CATEGORIES).stat
    return stat, stat.summarize(CATEGORIES, classwise=True)


def counts(stat: PQStat, cat_id: int) -> tuple:
    s = stat[cat_id]
    return s.tp, s.fp, s.fn


GT_PERSON_AND_SKY = """
1 1 2 2
1 1 2 2
2 2 2 2
2 2 2 2
"""

# --------------------------------------------------------------------------
# Hand-made cases
# --------------------------------------------------------------------------


def test_perfect_match():
    stat, summary = evaluate(GT_PERSON_AND_SKY, {
        1: PERSON,
        2: SKY
    }, GT_PERSON_AND_SKY, {
        1: PERSON,
        2: SKY
    })
    assert counts(stat, PERSON) == counts(stat, SKY) == (1, 0, 0)
    for group, n in (('All', 2), ('Things', 1), ('Stuff', 1)):
        assert summary[group] == {'pq': 1.0, 'sq': 1.0, 'rq': 1.0, 'n': n}


def test_iou_exactly_half_does_not_match():
    # person: |gt| = 4, |pred| = 8, intersection 4, union 8 -> IoU 0.5,
    #   not > 0.5: one FN and one FP (the prediction is not on void).
    # sky: |gt| = 12, |pred| = 8, intersection 8, union 12 -> IoU 2/3.
    stat, summary = evaluate(
        GT_PERSON_AND_SKY, {
            1: PERSON,
            2: SKY
        }, """
        1 1 1 1
        1 1 1 1
        2 2 2 2
        2 2 2 2""", {
            1: PERSON,
            2: SKY
        })
    assert counts(stat, PERSON) == (0, 1, 1)
    assert counts(stat, SKY) == (1, 0, 0)
    assert summary['classwise'][SKY]['pq'] == pytest.approx(2 / 3)
    # All = (0 + 2/3) / 2
    assert summary['All']['pq'] == pytest.approx(1 / 3)
    assert summary['All']['n'] == 2


def test_iou_just_over_half_matches_and_things_stuff_split():
    # person: |gt| = 4, |pred| = 7, intersection 4 -> IoU 4/7 > 0.5.
    # sky: |gt| = 12, |pred| = 9, intersection 9 -> IoU 9/12 = 3/4.
    stat, summary = evaluate(
        GT_PERSON_AND_SKY, {
            1: PERSON,
            2: SKY
        }, """
        1 1 1 2
        1 1 1 2
        1 2 2 2
        2 2 2 2""", {
            1: PERSON,
            2: SKY
        })
    assert stat[PERSON].iou == pytest.approx(4 / 7)
    assert summary['Things'] == pytest.approx({
        'pq': 4 / 7,
        'sq': 4 / 7,
        'rq': 1.0,
        'n': 1
    })
    assert summary['Stuff'] == pytest.approx({
        'pq': 3 / 4,
        'sq': 3 / 4,
        'rq': 1.0,
        'n': 1
    })
    assert summary['All']['pq'] == pytest.approx((4 / 7 + 3 / 4) / 2)


def test_prediction_pixels_on_void_are_left_out_of_the_union():
    # person: |pred| = 8, 4 of them on void; union = 8 + 4 - 4 - 4 = 4
    #   -> IoU 1 (it would be 4/8 = 0.5, no match, if void counted).
    stat, summary = evaluate(
        """
        1 1 0 0
        1 1 0 0
        2 2 2 2
        2 2 2 2""", {
            1: PERSON,
            2: SKY
        }, """
        1 1 1 1
        1 1 1 1
        2 2 2 2
        2 2 2 2""", {
            1: PERSON,
            2: SKY
        })
    assert counts(stat, PERSON) == (1, 0, 0)
    assert stat[PERSON].iou == 1.0
    assert summary['All']['pq'] == 1.0


def test_crowd_is_never_a_false_negative_nor_matched():
    # gt 1 is a person crowd, gt 2 a person. pred 1 lies on the crowd: not
    # matched (crowd never is) but not an FP either (4/4 on same-category
    # crowd); the crowd is not an FN. person: TP 1 (pred 2), FP 0, FN 0.
    gt = """
        1 1 2 2
        1 1 2 2
        3 3 3 3
        3 3 3 3"""
    stat, summary = evaluate(
        gt, {
            1: PERSON,
            2: PERSON,
            3: SKY
        },
        gt, {
            1: PERSON,
            2: PERSON,
            3: SKY
        },
        crowd={1})
    assert counts(stat, PERSON) == (1, 0, 0)
    assert summary['All'] == {'pq': 1.0, 'sq': 1.0, 'rq': 1.0, 'n': 2}

    # the same prediction as a car: a person crowd does not excuse it
    stat, summary = evaluate(
        gt, {
            1: PERSON,
            2: PERSON,
            3: SKY
        },
        gt, {
            1: CAR,
            2: PERSON,
            3: SKY
        },
        crowd={1})
    assert counts(stat, CAR) == (0, 1, 0)
    assert summary['classwise'][CAR]['pq'] == 0.0
    assert summary['All']['n'] == 3  # car now counts: (0 + 1 + 1) / 3
    assert summary['All']['pq'] == pytest.approx(2 / 3)


def test_prediction_mostly_on_void_is_not_a_false_positive():
    gt = """
        1 1 0 0
        1 1 0 0
        2 2 2 2
        2 2 2 2"""
    # car: 3 pixels, all on void -> 3/3 > 0.5, ignored
    stat, _ = evaluate(
        gt, {
            1: PERSON,
            2: SKY
        }, """
        1 1 3 3
        1 1 3 0
        2 2 2 2
        2 2 2 2""", {
            1: PERSON,
            2: SKY,
            3: CAR
        })
    assert counts(stat, CAR) == (0, 0, 0)
    # car: 4 pixels, 2 on void -> 2/4 = 0.5, not > 0.5: an FP.
    # sky: |gt| = 8, |pred| = 6 -> IoU 6/8.
    stat, summary = evaluate(
        gt, {
            1: PERSON,
            2: SKY
        }, """
        1 1 3 3
        1 1 0 0
        3 3 2 2
        2 2 2 2""", {
            1: PERSON,
            2: SKY,
            3: CAR
        })
    assert counts(stat, CAR) == (0, 1, 0)
    assert summary['classwise'][SKY]['pq'] == pytest.approx(0.75)


def test_wrong_class_is_a_false_positive_and_a_false_negative():
    # person: FN 1 -> PQ 0; car: FP 1 -> PQ 0; sky: IoU 1 -> PQ 1.
    stat, summary = evaluate(GT_PERSON_AND_SKY, {
        1: PERSON,
        2: SKY
    }, GT_PERSON_AND_SKY, {
        1: CAR,
        2: SKY
    })
    assert counts(stat, PERSON) == (0, 0, 1)
    assert counts(stat, CAR) == (0, 1, 0)
    assert summary['All']['pq'] == pytest.approx(1 / 3)  # (0 + 0 + 1) / 3
    assert summary['Things'] == {'pq': 0.0, 'sq': 0.0, 'rq': 0.0, 'n': 2}


def test_category_without_gt_and_prediction_is_left_out():
    _, summary = evaluate(GT_PERSON_AND_SKY, {
        1: PERSON,
        2: SKY
    }, GT_PERSON_AND_SKY, {
        1: PERSON,
        2: SKY
    })
    # car and tree have nothing: n = 2 and the mean stays 1, not 2/4
    assert summary['All']['n'] == 2
    assert summary['All']['pq'] == 1.0
    assert summary['classwise'][TREE] == {'pq': 0.0, 'sq': 0.0, 'rq': 0.0}
    # nothing at all: zeros instead of a division by zero
    assert PQStat().summarize(CATEGORIES)['All'] == {
        'pq': 0.0,
        'sq': 0.0,
        'rq': 0.0,
        'n': 0
    }


def test_per_class_formulas():
    stat = PQStat()
    stat[PERSON] += PQStatCat(tp=2, fp=1, fn=1, iou=1.5)
    stat[CAR] += PQStatCat(tp=0, fp=3, fn=0, iou=0.0)
    summary = stat.summarize(CATEGORIES, classwise=True)
    # person: PQ = 1.5 / (2 + 0.5 + 0.5), SQ = 1.5 / 2, RQ = 2 / 3
    assert summary['classwise'][PERSON] == pytest.approx({
        'pq': 0.5,
        'sq': 0.75,
        'rq': 2 / 3
    })
    assert summary['classwise'][CAR] == {'pq': 0.0, 'sq': 0.0, 'rq': 0.0}
    assert summary['Things']['n'] == 2
    assert summary['Stuff']['n'] == 0


def test_stats_add_up_over_images():
    # image A: person matched with IoU 1; image B: person missed.
    # person: TP 1, FN 1 -> PQ = 1 / (1 + 0.5) = 2/3
    gt_cats = {1: PERSON, 2: SKY}
    stat_a, _ = evaluate(GT_PERSON_AND_SKY, gt_cats, GT_PERSON_AND_SKY,
                         gt_cats)
    stat_b, _ = evaluate(
        GT_PERSON_AND_SKY, gt_cats, """
        2 2 2 2
        2 2 2 2
        2 2 2 2
        2 2 2 2""", {2: SKY})
    total = stat_a + stat_b
    assert counts(total, PERSON) == (1, 0, 1)
    summary = total.summarize(CATEGORIES, classwise=True)
    assert summary['classwise'][PERSON]['pq'] == pytest.approx(2 / 3)
    assert PQStat.from_dict(json.loads(json.dumps(total.to_dict()))) == total


def test_area_mismatches():
    ids = grid(GT_PERSON_AND_SKY)
    segs = [{'id': 1, 'area': 4}, {'id': 2, 'area': 11}, {'id': 3}]
    pixel_ids, pixels = np.unique(ids, return_counts=True)  # 1: 4, 2: 12
    areas = dict(zip(pixel_ids.tolist(), pixels.tolist()))
    assert area_mismatches(segs, areas) == [(2, 11, 12)]


# --------------------------------------------------------------------------
# Inconsistent inputs
# --------------------------------------------------------------------------


def test_png_id_missing_from_json():
    with pytest.raises(
            SegmentsError, match=r'\[2\].*not in segments_info') as err:
        pq_single(
            grid(GT_PERSON_AND_SKY), segments({1: PERSON}),
            grid(GT_PERSON_AND_SKY), segments({
                1: PERSON,
                2: SKY
            }), CATEGORIES)
    assert err.value.side == 'gt'
    with pytest.raises(ValueError, match=r'predicted segment ids \[2\]'):
        pq_single(
            grid(GT_PERSON_AND_SKY), segments({
                1: PERSON,
                2: SKY
            }), grid(GT_PERSON_AND_SKY), segments({1: PERSON}), CATEGORIES)


def test_json_segment_missing_from_png():
    with pytest.raises(SegmentsError, match=r'\[7\].*not in the PNG') as err:
        pq_single(
            grid(GT_PERSON_AND_SKY), segments({
                1: PERSON,
                2: SKY
            }), grid(GT_PERSON_AND_SKY), segments({
                1: PERSON,
                2: SKY,
                7: CAR
            }), CATEGORIES)
    assert err.value.side == 'pred'


def test_unknown_prediction_category():
    with pytest.raises(
            ValueError, match='segment 2 has unknown category_id '
            '99'):
        pq_single(
            grid(GT_PERSON_AND_SKY), segments({
                1: PERSON,
                2: SKY
            }), grid(GT_PERSON_AND_SKY), segments({
                1: PERSON,
                2: 99
            }), CATEGORIES)


def test_repeated_id_void_id_and_shape():
    gt = grid(GT_PERSON_AND_SKY)
    good = segments({1: PERSON, 2: SKY})
    with pytest.raises(ValueError, match=r'\[1\] are listed more than once'):
        pq_single(gt, good, gt, good + good[:1], CATEGORIES)
    with pytest.raises(ValueError, match='reserved for void'):
        pq_single(gt, good, gt, good + segments({0: SKY}), CATEGORIES)
    with pytest.raises(ValueError, match='shape'):
        pq_single(gt, good, gt[:3], good, CATEGORIES)


# --------------------------------------------------------------------------
# Random cases against a reference transcribed from the definition
# --------------------------------------------------------------------------

RANDOM_CATEGORIES = {
    c: {
        'id': c,
        'name': f'c{c}',
        'isthing': int(c < 5)
    }
    for c in (1, 2, 3, 4, 5, 6, 7)
}


def reference_pq(gt_ids, gt_segments, pred_ids, pred_segments):
    """Boolean masks and plain loops: the definition, slowly."""
    stat = {}

    def cat(c):
        return stat.setdefault(c, {'tp': 0, 'fp': 0, 'fn': 0, 'iou': 0.0})

    void = gt_ids == 0
    gt_mask = {g['id']: gt_ids == g['id'] for g in gt_segments}
    pred_mask = {p['id']: pred_ids == p['id'] for p in pred_segments}
    matched = set()
    for g in gt_segments:
        is_tp = False
        for p in pred_segments:
            if g['iscrowd'] or g['category_id'] != p['category_id']:
                continue
            both = gt_mask[g['id']] & pred_mask[p['id']]
            # the union leaves out the prediction's pixels on void
            either = gt_mask[g['id']] | (pred_mask[p['id']] & ~void)
            iou = both.sum() / either.sum()
            if iou > 0.5:
                cat(g['category_id'])['tp'] += 1
                cat(g['category_id'])['iou'] += iou
                matched.add(p['id'])
                is_tp = True
        if not is_tp and not g['iscrowd']:
            cat(g['category_id'])['fn'] += 1
    ignored = 0
    for p in pred_segments:
        if p['id'] in matched:
            continue
        excused = void.copy()
        for g in gt_segments:
            if g['iscrowd'] and g['category_id'] == p['category_id']:
                excused |= gt_mask[g['id']]
        mask = pred_mask[p['id']]
        if (mask & excused).sum() / mask.sum() > 0.5:
            ignored += 1
        else:
            cat(p['category_id'])['fp'] += 1
    return stat, ignored


def paint_rectangles(rng, id_map, ids):
    h, w = id_map.shape
    for seg_id in ids:
        y0, x0 = rng.integers(0, h), rng.integers(0, w)
        y1, x1 = y0 + rng.integers(1, h + 1), x0 + rng.integers(1, w + 1)
        id_map[y0:y1, x0:x1] = seg_id


def present(id_map, segs):
    ids = set(np.unique(id_map).tolist())
    return [s for s in segs if s['id'] in ids]


def random_case(rng):
    """GT painted with overlapping (occluding) rectangles, void holes and
    crowd; the prediction relabels it, shifts it, paints spurious segments over
    it, adds pixel noise and swaps some classes.

    Ids go beyond 2^24.
    """
    h, w = rng.integers(4, 24, size=2)
    cats = list(RANDOM_CATEGORIES)
    gt = np.zeros((h, w), np.int64)
    gt_id_pool = rng.choice(2**40, size=8, replace=False) + 1
    paint_rectangles(rng, gt, gt_id_pool[:rng.integers(1, 9)])
    paint_rectangles(rng, gt, [0] * rng.integers(0, 3))  # void
    gt_segs = present(gt, [{
        'id': int(i),
        'category_id': int(rng.choice(cats)),
        'iscrowd': int(rng.random() < 0.2)
    } for i in gt_id_pool])

    pred_ids = rng.choice(2**40, size=16, replace=False) + 1
    relabel = {0: 0}
    for k, seg in enumerate(gt_segs):
        relabel[seg['id']] = int(pred_ids[k])
    pred = np.vectorize(relabel.get, otypes=[np.int64])(gt)
    if rng.random() < 0.5:  # shift the whole map
        pred = np.roll(pred, rng.integers(-2, 3, size=2), axis=(0, 1))
    if rng.random() < 0.3:  # the void of the prediction
        paint_rectangles(rng, pred, [0])
    paint_rectangles(rng, pred, pred_ids[8:8 + rng.integers(0, 4)])
    noise = rng.random((h, w)) < 0.1
    pred[noise] = rng.choice(pred_ids[:12], size=noise.sum())
    gt_cat = {relabel[s['id']]: s['category_id'] for s in gt_segs}
    pred_segs = present(pred, [{
        'id':
        int(i),
        'category_id':
        gt_cat[i] if i in gt_cat and rng.random() < 0.8 else int(
            rng.choice(cats))
    } for i in pred_ids.tolist()])
    rng.shuffle(pred_segs)
    return gt, gt_segs, pred, pred_segs


@pytest.fixture(scope='module')
def random_cases():
    rng = np.random.default_rng(20190402)
    return [random_case(rng) for _ in range(200)]


def assert_same_stats(stat: PQStat, expected: dict):
    got = stat.to_dict()
    expected = {
        c: v
        for c, v in expected.items() if v['tp'] or v['fp'] or v['fn']
    }
    assert got.keys() == expected.keys()
    for cat_id, values in expected.items():
        for key in ('tp', 'fp', 'fn'):
            assert got[cat_id][key] == values[key], (cat_id, key)
        assert abs(got[cat_id]['iou'] - values['iou']) < 1e-9


def test_random_cases_match_the_reference(random_cases):
    total, expected_total = PQStat(), PQStat()
    num_ignored = 0
    for gt, gt_segs, pred, pred_segs in random_cases:
        stat = pq_single(gt, gt_segs, pred, pred_segs, RANDOM_CATEGORIES).stat
        expected, ignored = reference_pq(gt, gt_segs, pred, pred_segs)
        assert_same_stats(stat, expected)
        total += stat
        expected_total += PQStat.from_dict(expected)
        num_ignored += ignored
    # the generator exercises every branch
    counted = total.to_dict().values()
    assert min(sum(v[k] for v in counted) for k in ('tp', 'fp', 'fn')) > 50
    assert num_ignored > 20
    got = total.summarize(RANDOM_CATEGORIES, classwise=True)
    want = expected_total.summarize(RANDOM_CATEGORIES, classwise=True)
    for group in ('All', 'Things', 'Stuff'):
        assert got[group]['n'] == want[group]['n']
        for key in ('pq', 'sq', 'rq'):
            assert abs(got[group][key] - want[group][key]) < 1e-9
    # PQ = SQ * RQ for every class
    for r in got['classwise'].values():
        assert abs(r['pq'] - r['sq'] * r['rq']) < 1e-12


def test_segment_ids_and_order_do_not_matter(random_cases):
    rng = np.random.default_rng(0)
    for gt, gt_segs, pred, pred_segs in random_cases[:50]:
        stat = pq_single(gt, gt_segs, pred, pred_segs, RANDOM_CATEGORIES).stat
        maps = []
        for id_map, segs in ((gt, gt_segs), (pred, pred_segs)):
            new_ids = rng.choice(2**62, size=len(segs), replace=False) + 1
            old_to_new = {s['id']: int(n) for s, n in zip(segs, new_ids)}
            old_to_new[0] = 0
            new_map = np.vectorize(old_to_new.get, otypes=[np.int64])(id_map)
            new_segs = [dict(s, id=old_to_new[s['id']]) for s in segs]
            rng.shuffle(new_segs)
            maps += [new_map, new_segs]
        permuted = pq_single(*maps, RANDOM_CATEGORIES).stat
        assert_same_stats(permuted, stat.to_dict())


def test_merging_halves_equals_the_whole(random_cases):
    stats = [
        pq_single(gt, gs, pred, ps, RANDOM_CATEGORIES).stat
        for gt, gs, pred, ps in random_cases
    ]
    whole, first, second = PQStat(), PQStat(), PQStat()
    for k, stat in enumerate(stats):
        whole += stat
        if k < len(stats) // 2:
            first += stat
        else:
            second += stat
    # as two distributed ranks would: through plain dicts and JSON
    merged = PQStat.from_dict(json.loads(json.dumps(first.to_dict())))
    merged += PQStat.from_dict(json.loads(json.dumps(second.to_dict())))
    assert_same_stats(merged, whole.to_dict())
