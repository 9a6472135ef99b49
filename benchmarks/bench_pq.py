"""Time the PQ matching of one image against the cost of reading its PNGs.

Generates synthetic 640x480 GT / prediction pairs in memory (about 20
segments each), then prints milliseconds per image for ``pq_single`` and for
the floor every evaluation pays anyway: decoding the two PNGs and turning
their colours into ids.

    python benchmarks/bench_pq.py --num-images 50
"""
import argparse
import time

import cv2
import numpy as np

from mmpanfpn.datasets.panoptic_format import id2rgb, rgb2id
from mmpanfpn.evaluation.pq import pq_single

HEIGHT, WIDTH = 480, 640
NUM_STUFF, NUM_THINGS = 8, 12
CATEGORIES = {c: {'id': c, 'isthing': int(c <= 80)} for c in range(1, 134)}


def synthetic_pair(rng: np.random.Generator):
    """A GT map (stuff regions under thing rectangles) and a prediction that
    is the GT shifted by a few pixels, with noise and some class errors."""
    ids = rng.choice(256**3 - 1, size=NUM_STUFF + NUM_THINGS,
                     replace=False) + 1
    # stuff: blocky regions from a coarse random grid, upsampled
    coarse = rng.integers(0, NUM_STUFF, size=(6, 8))
    gt = ids[cv2.resize(coarse.astype(np.uint8), (WIDTH, HEIGHT),
                        interpolation=cv2.INTER_NEAREST)]
    for seg_id in ids[NUM_STUFF:]:
        y, x = rng.integers(0, HEIGHT - 40), rng.integers(0, WIDTH - 40)
        h, w = rng.integers(20, 200, size=2)
        gt[y:y + h, x:x + w] = seg_id
    gt[rng.random((HEIGHT, WIDTH)) < 0.02] = 0  # void
    category = {int(i): int(rng.integers(81, 134)) for i in ids[:NUM_STUFF]}
    category.update({int(i): int(rng.integers(1, 81))
                     for i in ids[NUM_STUFF:]})
    present = set(np.unique(gt).tolist())
    gt_segments = [{'id': i, 'category_id': c, 'iscrowd': 0}
                   for i, c in category.items() if i in present]

    pred = np.roll(gt, tuple(rng.integers(-8, 9, size=2)), axis=(0, 1))
    noise = rng.random((HEIGHT, WIDTH)) < 0.05
    pred[noise] = rng.choice(ids, size=int(noise.sum()))
    present = set(np.unique(pred).tolist())
    pred_segments = [
        {'id': i, 'category_id': c if rng.random() < 0.9 else
         int(rng.integers(1, 134))}
        for i, c in category.items() if i in present]
    return gt, gt_segments, pred, pred_segments


def encode_png(id_map: np.ndarray) -> np.ndarray:
    ok, buf = cv2.imencode('.png', id2rgb(id_map)[..., ::-1])
    assert ok
    return buf


def decode_png(buf: np.ndarray) -> np.ndarray:
    return rgb2id(cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=50)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    pairs = [synthetic_pair(rng) for _ in range(args.num_images)]
    pngs = [(encode_png(gt), encode_png(pred)) for gt, _, pred, _ in pairs]
    segments = np.mean([len(p[1]) + len(p[3]) for p in pairs]) / 2

    start = time.perf_counter()
    for gt, gt_segments, pred, pred_segments in pairs:
        pq_single(gt, gt_segments, pred, pred_segments, CATEGORIES)
    pq_ms = 1000 * (time.perf_counter() - start) / len(pairs)

    start = time.perf_counter()
    for gt_png, pred_png in pngs:
        decode_png(gt_png)
        decode_png(pred_png)
    decode_ms = 1000 * (time.perf_counter() - start) / len(pairs)

    print(f'{len(pairs)} images of {WIDTH}x{HEIGHT}, {segments:.1f} '
          'segments each on average')
    print(f'pq_single:                {pq_ms:7.2f} ms/image')
    print(f'decode 2 PNGs + rgb2id:   {decode_ms:7.2f} ms/image')
    print(f'ratio pq_single / decode: {pq_ms / decode_ms:7.2f}')


if __name__ == '__main__':
    main()
