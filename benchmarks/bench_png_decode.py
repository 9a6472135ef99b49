"""Where the time of offline PQ goes: PNG decoders, inflate, our PQ core.

    python benchmarks/bench_png_decode.py [--num-images 40] [--rounds 5]

On ``benchmarks/bench_eval.py``'s generated 640x480 pairs
(written by OpenCV, as our and mmdet's submissions are), per image (two
PNGs), one thread, best of ``--rounds``: reading the bytes; decoding them
with OpenCV (``cv2.imread``; ``cv2.imdecode`` is what
:func:`~mmpanfpn.datasets.panoptic_format.read_panoptic_png` runs, timed
whole too, with its RGB -> id step), PIL,
and, when installed, pyspng (libspng) and imagecodecs; inflating the IDAT
stream alone with zlib and, when installed, isal and libdeflate (``deflate``);
our numpy PQ core on the decoded maps; our whole offline path and hotcoco's
(``RAYON_NUM_THREADS=1``). Every decoder's id map is checked against
OpenCV's.
"""
import argparse
import contextlib
import functools
import io
import json
import os
import os.path as osp
import struct
import sys
import tempfile
import time
import zlib

import cv2
import numpy as np
from PIL import Image

from mmpanfpn.datasets.panoptic_format import read_panoptic_png
from mmpanfpn.evaluation.functional import evaluate_panoptic_files, pq_single
from mmpanfpn.evaluation.functional.hotcoco_pq import hotcoco_pq_stat
from mmpanfpn.testing import load_tool

# the generated panoptic folders
bench_eval = load_tool('benchmarks/bench_eval.py')


def ids_of_rgb(rgb: np.ndarray) -> np.ndarray:
    rgb = rgb.astype(np.uint32)
    return rgb[..., 0] | rgb[..., 1] << 8 | rgb[..., 2] << 16


def idat(data: bytes) -> bytes:
    """The concatenated IDAT chunks of a PNG."""
    pos, parts = 8, []
    while pos < len(data):
        length, kind = struct.unpack('>I4s', data[pos:pos + 8])
        if kind == b'IDAT':
            parts.append(data[pos + 8:pos + 8 + length])
        pos += 12 + length
    return b''.join(parts)


def decoders() -> dict:
    """``{name: (decode, to_rgb)}`` of the decoders installed here: ``decode``
    (timed) takes the PNG bytes, ``to_rgb`` (for the check) makes its output
    an (H, W, 3) RGB array."""
    found = {
        'cv2.imdecode':
        (lambda d: cv2.imdecode(np.frombuffer(d, np.uint8), cv2.IMREAD_COLOR),
         lambda a: a[..., ::-1]),
        'PIL': (lambda d: np.asarray(Image.open(io.BytesIO(d))), np.asarray),
    }
    with contextlib.suppress(ImportError):
        import pyspng
        found['pyspng (libspng)'] = (pyspng.load, np.asarray)
    with contextlib.suppress(ImportError):
        import imagecodecs
        found['imagecodecs.png_decode'] = (imagecodecs.png_decode, np.asarray)
    return found


def inflaters(size: int) -> dict:
    found = {'zlib': zlib.decompress}
    with contextlib.suppress(ImportError):
        from isal import isal_zlib
        found['isal'] = isal_zlib.decompress
    with contextlib.suppress(ImportError):
        import deflate
        found['libdeflate'] = lambda z: deflate.zlib_decompress(z, size)
    return found


def best_ms(fn, items, rounds: int, per: int) -> float:
    best = float('inf')
    for _ in range(rounds):
        start = time.perf_counter()
        for item in items:
            fn(item)
        best = min(best, time.perf_counter() - start)
    return 1000 * best / per


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument('--num-images', type=int, default=40)
    parser.add_argument('--rounds', type=int, default=5)
    args = parser.parse_args(argv)
    # hotcoco's thread pool reads it when it starts, at the first evaluation
    os.environ.setdefault('RAYON_NUM_THREADS', '1')
    cv2.setNumThreads(1)
    n = args.num_images
    with tempfile.TemporaryDirectory() as tmp:
        ds = bench_eval.write_dataset(tmp, n)
        files = [
            osp.join(folder, f'{i:012d}.png') for i in ds.image_ids
            for folder in (ds.gt_dir, ds.pred_dir)
        ]
        png_bytes = [open(f, 'rb').read() for f in files]
        rows = [('read the bytes',
                 best_ms(lambda f: open(f, 'rb').read(), files, args.rounds,
                         n)),
                ('cv2.imread', best_ms(cv2.imread, files, args.rounds, n))]
        read_ids = functools.partial(read_panoptic_png, dtype=np.uint32)
        rows.append(('read_panoptic_png (bytes + cv2 + ids; ours)',
                     best_ms(read_ids, files, args.rounds, n)))
        reference = [read_ids(f) for f in files]
        for name, (decode, to_rgb) in decoders().items():
            if not all(
                    np.array_equal(ids_of_rgb(to_rgb(decode(d))), r)
                    for d, r in zip(png_bytes, reference)):
                print(f'{name}: id maps differ from OpenCV\'s')
                return 1
            rows.append((name, best_ms(decode, png_bytes, args.rounds, n)))
        streams = [idat(d) for d in png_bytes]
        size = bench_eval.HEIGHT * (1 + 3 * bench_eval.WIDTH)
        for name, inflate in inflaters(size).items():
            rows.append((f'inflate only, {name}',
                         best_ms(inflate, streams, args.rounds, n)))
        with open(ds.gt_json) as f:
            gt = json.load(f)
        with open(ds.pred_json) as f:
            pred = json.load(f)
        categories = {c['id']: c for c in gt['categories']}
        maps = [
            (reference[2 * k].astype(np.int64),
             reference[2 * k + 1].astype(np.int64), g['segments_info'],
             p['segments_info']) for k, (
                 g,
                 p) in enumerate(zip(gt['annotations'], pred['annotations']))
        ]
        rows.append(
            ('our PQ core on decoded maps',
             best_ms(lambda m: pq_single(m[0], m[2], m[1], m[3], categories),
                     maps, args.rounds, n)))
        rows.append(('our offline path (engine ours, nproc 1)',
                     best_ms(
                         lambda _: evaluate_panoptic_files(
                             ds.gt_json,
                             ds.gt_dir,
                             ds.pred_json,
                             ds.pred_dir,
                             nproc=1,
                             progress=False), [0], args.rounds, n)))
        rows.append(('hotcoco PanopticEval (1 thread)',
                     best_ms(
                         lambda _: hotcoco_pq_stat(ds.gt_json, ds.pred_json, ds
                                                   .gt_dir, ds.pred_dir), [0],
                         args.rounds, n)))
    width = max(len(name) for name, _ in rows)
    print(f'{n} images of {bench_eval.WIDTH}x{bench_eval.HEIGHT} '
          f'(2 PNGs each), best of {args.rounds}, load average '
          f'{os.getloadavg()[0]:.2f}')
    for name, ms in rows:
        print(f'{name:<{width}}  {ms:7.2f} ms/image')
    return 0


if __name__ == '__main__':
    sys.exit(main())
