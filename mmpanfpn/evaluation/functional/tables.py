"""The text tables of the panoptic metrics, for the log and the offline
evaluator alike (standard library only)."""
from typing import Dict, List, Sequence

from .pq import PQStat

# (summary group, key suffix) of the three PQ rows
PQ_GROUPS = (('All', ''), ('Things', '_th'), ('Stuff', '_st'))


def format_table(header: Sequence[str], rows: List[Sequence]) -> str:
    """A bordered text table, as ``prettytable`` draws one.

    Args:
        header (Sequence[str]): The column names.
        rows (list[Sequence]): The cells, printed with ``str``.

    Returns:
        str: ``+---+`` rules around the header and the rows, ``| a | b |``
        lines, cells centred.
    """
    cells = [[str(c) for c in header]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header))]
    rule = '+' + '+'.join('-' * (w + 2) for w in widths) + '+'

    def line(row):
        return '| ' + ' | '.join(c.center(w)
                                 for c, w in zip(row, widths)) + ' |'

    return '\n'.join([rule, line(cells[0]), rule] +
                     [line(row) for row in cells[1:]] + [rule])


def pq_summary_table(metrics: Dict[str, float], summary: Dict[str,
                                                              dict]) -> str:
    """PQ, SQ and RQ (percent) of all categories, things and stuff.

    Args:
        metrics (dict): :func:`~.pq.percent_metrics`' ``PQ``, ``SQ_th``...
        summary (dict): :meth:`~.pq.PQStat.summarize`'s result, for the
            number of categories averaged.
    """
    return format_table(
        ['', 'PQ', 'SQ', 'RQ', 'categories'],
        [[group] + [f'{metrics[k + suffix]:.3f}'
                    for k in ('PQ', 'SQ', 'RQ')] + [summary[group]['n']]
         for group, suffix in PQ_GROUPS])


def pq_classwise_table(stat: PQStat, categories: Dict[int, dict]) -> str:
    """A per-category table: PQ, SQ, RQ (percent) and TP, FP, FN.

    Args:
        stat (PQStat): The summed counts.
        categories (dict): ``{category_id: {'name', 'isthing'}}``.

    Returns:
        str: The table; ``-`` marks categories with no GT and no prediction,
        left out of the means.
    """
    summary = stat.summarize(categories, classwise=True)['classwise']
    rows = []
    for cat_id, cat in categories.items():
        counts = stat.per_cat.get(cat_id)
        counted = counts is not None and counts.tp + counts.fp + counts.fn
        rows.append([cat['name'], 'thing' if cat['isthing'] else 'stuff'] + [
            f'{100 * summary[cat_id][k]:.3f}' if counted else '-'
            for k in ('pq', 'sq', 'rq')
        ] + ([counts.tp, counts.fp, counts.fn] if counts else [0, 0, 0]))
    return format_table(
        ['category', 'kind', 'PQ', 'SQ', 'RQ', 'TP', 'FP', 'FN'], rows)


def iou_classwise_table(names: Sequence[str], iou: Sequence[float],
                        acc: Sequence[float]) -> str:
    """Per-class IoU and accuracy (fractions, printed in percent)."""
    return format_table(['Class', 'IoU', 'Acc'],
                        [[name, f'{100 * i:.2f}', f'{100 * a:.2f}']
                         for name, i, a in zip(names, iou, acc)])
