"""Evaluate COCO-panoptic predictions offline: PQ, SQ and RQ.

Example::

    python tools/eval_panoptic.py \
        --gt-json data/coco/annotations/panoptic_val2017.json \
        --gt-dir data/coco/annotations/panoptic_val2017 \
        --pred-json work_dirs/results.panoptic.json \
        --pred-dir work_dirs/results/panoptic --out pq.json --classwise

The metric follows the COCO panoptic reference evaluation; see
``mmpanfpn/evaluation/functional/pq.py`` for the definition. Needs numpy and
OpenCV only (no torch, no OpenMMLab package), and hotcoco for ``--engine
fast`` (the default): it counts with hotcoco's engine, the same counts several
times faster, where they are the same (see
``mmpanfpn/evaluation/functional/hotcoco_pq.py``); ``--engine ours`` counts
with our numpy core, which also compares the JSON areas with the pixels.
"""
import warnings

# setuptools' notice, raised by imports inside the OpenMMLab stack
warnings.filterwarnings('ignore', 'pkg_resources is deprecated')

import argparse
import json
import sys

from mmpanfpn.evaluation.functional.panoptic_files import (
    default_nproc, evaluate_panoptic_files)
from mmpanfpn.evaluation.functional.pq import PQStatCat, percent_metrics
from mmpanfpn.evaluation.functional.tables import (pq_classwise_table,
                                                   pq_summary_table)
from mmpanfpn.utils.atomic_io import atomic_write

# how many JSON/PNG area disagreements to print before summarising
MAX_AREA_WARNINGS = 5


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        '--gt-json', required=True, help='ground-truth COCO panoptic JSON')
    parser.add_argument(
        '--gt-dir', required=True, help='folder of the ground-truth PNGs')
    parser.add_argument(
        '--pred-json', required=True, help='predicted COCO panoptic JSON')
    parser.add_argument(
        '--pred-dir', required=True, help='folder of the predicted PNGs')
    parser.add_argument('--out', help='write the metrics to this JSON file')
    parser.add_argument(
        '--nproc',
        type=int,
        default=default_nproc(),
        help='worker processes; 1 evaluates in this process '
        '(default: min(CPU count, 8))')
    parser.add_argument(
        '--engine',
        choices=['fast', 'ours'],
        default='fast',
        help='fast: hotcoco\'s engine where its counts are ours (else ours); '
        'ours: the numpy core, which also checks the JSON areas against the '
        'pixels (default: fast)')
    parser.add_argument(
        '--classwise',
        action='store_true',
        help='also print and save per-category results')
    args = parser.parse_args(argv)
    if args.nproc < 1:
        parser.error('--nproc must be >= 1')
    return args


def run(args) -> dict:
    result = evaluate_panoptic_files(
        args.gt_json,
        args.gt_dir,
        args.pred_json,
        args.pred_dir,
        nproc=args.nproc,
        engine=args.engine)
    summary = result.stat.summarize(
        result.categories, classwise=args.classwise)
    metrics = percent_metrics(summary, result.categories)
    if args.classwise:
        for cat_id, cat in result.categories.items():
            counts = result.stat.per_cat.get(cat_id, PQStatCat())
            metrics['classwise'][cat['name']].update(
                TP=counts.tp, FP=counts.fp, FN=counts.fn)

    for line in result.area_mismatches[:MAX_AREA_WARNINGS]:
        print(f'warning: {line}', file=sys.stderr)
    if result.area_mismatches:
        print(
            f'warning: {len(result.area_mismatches)} segment(s) have a '
            'JSON "area" that differs from their pixel count; PQ uses the '
            'pixel counts',
            file=sys.stderr)

    if result.engine != args.engine:
        print(
            'note: counted by our engine (hotcoco\'s counts would differ '
            'or it rejected the data)',
            file=sys.stderr)
    print(pq_summary_table(metrics, summary))
    if args.classwise:
        print(pq_classwise_table(result.stat, result.categories))
        print('-: no ground truth and no prediction, left out of the means')
    metrics.update(
        num_images=result.num_images,
        num_categories=len(result.categories),
        num_things=sum(c['isthing'] == 1 for c in result.categories.values()),
        num_evaluated=summary['All']['n'],
        num_evaluated_th=summary['Things']['n'],
        num_evaluated_st=summary['Stuff']['n'],
        # None: not checked (hotcoco's engine does not compare areas)
        num_area_mismatches=(len(result.area_mismatches)
                             if result.engine == 'ours' else None),
        engine=result.engine,
    )
    if args.out:
        atomic_write(json.dumps(metrics, indent=2), args.out)
        print(f'metrics written to {args.out}')
    return metrics


def main(argv=None) -> int:
    args = parse_args(argv)
    try:
        run(args)
    except (ValueError, OSError) as err:  # OSError: FileNotFoundError too
        print(f'error: {err}', file=sys.stderr)
        return 1
    return 0


if __name__ == '__main__':
    sys.exit(main())
