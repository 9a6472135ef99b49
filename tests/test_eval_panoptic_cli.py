"""tools/eval_panoptic.py on a tiny COCO-panoptic folder checked by hand."""
import json
import os
import os.path as osp
import runpy
import subprocess
import sys

import cv2
import numpy as np
import pytest

from mmpanfpn.datasets.panoptic_format import id2rgb
from mmpanfpn.testing import checkout_env, load_tool

REPO = osp.dirname(osp.dirname(osp.abspath(__file__)))
TOOL = osp.join(REPO, 'tools', 'eval_panoptic.py')

PERSON, CAR, SKY, TREE = 1, 2, 3, 4
CATEGORIES = [
    {
        'id': PERSON,
        'name': 'person',
        'isthing': 1
    },
    {
        'id': CAR,
        'name': 'car',
        'isthing': 1
    },
    {
        'id': SKY,
        'name': 'sky',
        'isthing': 0
    },
    {
        'id': TREE,
        'name': 'tree',
        'isthing': 0
    },
]
# ids above 255 use the G and B channels of the PNG
P, S = 1000, 70000
# both images: a 2x2 person (P) in a corner, sky (S) everywhere else
GT_IDS = np.array([[P, P, S, S], [P, P, S, S], [S, S, S, S]])
GT_SEGMENTS = [{
    'id': P,
    'category_id': PERSON,
    'iscrowd': 0,
    'area': 4
}, {
    'id': S,
    'category_id': SKY,
    'iscrowd': 0,
    'area': 8
}]
# image 1: predicted exactly. image 2: the person predicted as a car.
PRED_SEGMENTS = {
    1: [{
        'id': P,
        'category_id': PERSON
    }, {
        'id': S,
        'category_id': SKY
    }],
    2: [{
        'id': P,
        'category_id': CAR
    }, {
        'id': S,
        'category_id': SKY
    }],
}
# person: TP 1 (IoU 1), FN 1 -> PQ 1/1.5 = 2/3, SQ 1, RQ 2/3
# car:    FP 1               -> PQ 0, SQ 0, RQ 0
# sky:    TP 2 (IoU 1 + 1)   -> PQ 1, SQ 1, RQ 1
# tree:   nothing            -> left out of the means
EXPECTED = {
    'PQ': 100 * (2 / 3 + 0 + 1) / 3,
    'SQ': 100 * (1 + 0 + 1) / 3,
    'RQ': 100 * (2 / 3 + 0 + 1) / 3,
    'PQ_th': 100 * (2 / 3 + 0) / 2,
    'SQ_th': 100 * (1 + 0) / 2,
    'RQ_th': 100 * (2 / 3 + 0) / 2,
    'PQ_st': 100.0,
    'SQ_st': 100.0,
    'RQ_st': 100.0,
    'num_images': 2,
    'num_categories': 4,
    'num_evaluated': 3,
    'num_evaluated_th': 2,
    'num_evaluated_st': 1,
}


def write_png(path, id_map):
    assert cv2.imwrite(str(path), id2rgb(id_map)[..., ::-1])  # RGB -> BGR


def write_dataset(root):
    """``root/{gt,pred}/*.png`` and ``root/{gt,pred}.json``; returns the CLI
    arguments that read them."""
    gt_anns, pred_anns = [], []
    for folder in ('gt', 'pred'):
        os.makedirs(root / folder)
    for image_id in (1, 2):
        file_name = f'{image_id:06d}.png'
        write_png(root / 'gt' / file_name, GT_IDS)
        write_png(root / 'pred' / file_name, GT_IDS)
        gt_anns.append({
            'image_id': image_id,
            'file_name': file_name,
            'segments_info': GT_SEGMENTS
        })
        pred_anns.append({
            'image_id': image_id,
            'file_name': file_name,
            'segments_info': PRED_SEGMENTS[image_id]
        })
    (root / 'gt.json').write_text(
        json.dumps({
            'images': [{
                'id': i,
                'file_name': f'{i:06d}.jpg',
                'height': 3,
                'width': 4
            } for i in (1, 2)],
            'annotations':
            gt_anns,
            'categories':
            CATEGORIES
        }))
    (root / 'pred.json').write_text(json.dumps({'annotations': pred_anns}))
    return [
        '--gt-json',
        str(root / 'gt.json'), '--gt-dir',
        str(root / 'gt'), '--pred-json',
        str(root / 'pred.json'), '--pred-dir',
        str(root / 'pred')
    ]


def run_cli(args):
    """The CLI in a fresh interpreter, as a user runs it."""
    return subprocess.run(
        [sys.executable, TOOL] + args,
        cwd=REPO,
        env=checkout_env(),
        capture_output=True,
        text=True,
        timeout=120)


def run_cli_here(args, monkeypatch) -> int:
    """The CLI as ``__main__`` in this process (a fresh interpreter costs
    seconds of imports); returns its exit status."""
    monkeypatch.setattr(sys, 'argv', [TOOL] + args)
    with pytest.raises(SystemExit) as exit_info:
        runpy.run_path(TOOL, run_name='__main__')
    return exit_info.value.code


@pytest.fixture(scope='module')
def tool():
    """The CLI module, to call ``main(argv)`` in this process."""
    return load_tool('tools/eval_panoptic.py')


def test_cli_matches_hand_computed_values(tmp_path, monkeypatch, capsys):
    args = write_dataset(tmp_path) + ['--classwise']
    # a worker pool, in a fresh interpreter; the default engine (hotcoco's)
    proc = run_cli(args + ['--nproc', '2', '--out', str(tmp_path / 'a.json')])
    assert proc.returncode == 0, proc.stderr
    assert 'person' in proc.stdout and 'Things' in proc.stdout
    # no pool, each engine
    for engine in ('fast', 'ours'):
        assert run_cli_here(
            args + [
                '--nproc', '1', '--engine', engine, '--out',
                str(tmp_path / f'{engine}.json')
            ], monkeypatch) == 0
        assert 'person' in capsys.readouterr().out
    with_pool, fast, ours = (
        json.loads((tmp_path / name).read_text())
        for name in ('a.json', 'fast.json', 'ours.json'))
    assert not [f for f in os.listdir(tmp_path) if f.endswith('.tmp')]
    # hotcoco's engine does not compare the JSON areas with the pixels
    for metrics in (with_pool, fast):
        assert metrics['engine'] == 'fast'
        assert metrics['num_area_mismatches'] is None
    assert (ours['engine'], ours['num_area_mismatches']) == ('ours', 0)
    for metrics in (with_pool, fast, ours):
        check_hand_computed(metrics)


def check_hand_computed(metrics: dict) -> None:
    for key, value in EXPECTED.items():
        assert metrics[key] == pytest.approx(value), key
    assert metrics['classwise']['person'] == pytest.approx({
        'PQ': 200 / 3,
        'SQ': 100.0,
        'RQ': 200 / 3,
        'TP': 1,
        'FP': 0,
        'FN': 1
    })
    assert metrics['classwise']['car'] == {
        'PQ': 0.0,
        'SQ': 0.0,
        'RQ': 0.0,
        'TP': 0,
        'FP': 1,
        'FN': 0
    }
    assert metrics['classwise']['tree'] == {
        'PQ': 0.0,
        'SQ': 0.0,
        'RQ': 0.0,
        'TP': 0,
        'FP': 0,
        'FN': 0
    }


# what the offline evaluator must run without: numpy and OpenCV suffice
NOT_NEEDED = ('torch', 'torchvision', 'mmengine', 'mmcv', 'mmdet', 'mmseg',
              'pycocotools', 'prettytable')


def test_cli_runs_with_numpy_and_opencv_only(tmp_path):
    """The PQ core and the CLI, with torch and the OpenMMLab stack made
    unimportable (``sys.modules[name] = None`` makes ``import name`` fail)."""
    args = write_dataset(tmp_path) + ['--out', str(tmp_path / 'pq.json')]
    code = '\n'.join([
        'import runpy, sys',
        f'sys.modules.update(dict.fromkeys({NOT_NEEDED!r}))',
        'import mmpanfpn.evaluation.functional.pq',
        f'sys.argv = [{TOOL!r}] + {args!r}',
        f'runpy.run_path({TOOL!r}, run_name="__main__")',
    ])
    proc = subprocess.run([sys.executable, '-c', code],
                          cwd=REPO,
                          env=checkout_env(),
                          capture_output=True,
                          text=True,
                          timeout=120)
    assert proc.returncode == 0, proc.stderr
    metrics = json.loads((tmp_path / 'pq.json').read_text())
    for key, value in EXPECTED.items():
        assert metrics[key] == pytest.approx(value), key


def test_cli_error_exits_1_naming_the_file(tmp_path, monkeypatch, capsys):
    args = write_dataset(tmp_path)
    pred = json.loads((tmp_path / 'pred.json').read_text())
    del pred['annotations'][1]
    (tmp_path / 'pred.json').write_text(json.dumps(pred))
    assert run_cli_here(args + ['--nproc', '1'], monkeypatch) == 1
    err = capsys.readouterr().err
    assert 'pred.json' in err and 'image_id 2' in err
    assert 'Traceback' not in err and len(err.strip().splitlines()) == 1


def test_prediction_for_unknown_image(tmp_path, tool, capsys):
    args = write_dataset(tmp_path)
    pred = json.loads((tmp_path / 'pred.json').read_text())
    pred['annotations'].append(dict(pred['annotations'][0], image_id=7))
    (tmp_path / 'pred.json').write_text(json.dumps(pred))
    assert tool.main(args + ['--nproc', '1']) == 1
    assert 'image_id 7' in capsys.readouterr().err


def test_png_id_not_in_json_names_the_png(tmp_path, tool, capsys):
    args = write_dataset(tmp_path)
    write_png(tmp_path / 'pred' / '000002.png', GT_IDS + 1)
    assert tool.main(args + ['--nproc', '1']) == 1
    err = capsys.readouterr().err
    assert osp.join('pred', '000002.png') in err
    assert '[1001, 70001]' in err


def test_missing_png_and_bad_json_name_the_file(tmp_path, tool, capsys):
    args = write_dataset(tmp_path)
    os.remove(tmp_path / 'gt' / '000001.png')
    assert tool.main(args + ['--nproc', '2']) == 1  # raised in a worker
    assert osp.join('gt', '000001.png') in capsys.readouterr().err

    (tmp_path / 'gt.json').write_text('{"annotations": [')
    assert tool.main(args) == 1
    assert 'gt.json' in capsys.readouterr().err


def test_area_mismatch_is_reported(tmp_path, tool, capsys):
    args = write_dataset(tmp_path)
    gt = json.loads((tmp_path / 'gt.json').read_text())
    gt['annotations'][0]['segments_info'][1]['area'] = 9  # 8 pixels
    (tmp_path / 'gt.json').write_text(json.dumps(gt))
    out = tmp_path / 'pq.json'
    assert tool.main(args +
                     ['--nproc', '1', '--engine', 'ours', '--out',
                      str(out)]) == 0
    assert 'segment 70000 has "area" 9 in JSON but 8 pixels' in (
        capsys.readouterr().err)
    metrics = json.loads(out.read_text())
    assert metrics['num_area_mismatches'] == 1
    assert metrics['PQ'] == pytest.approx(EXPECTED['PQ'])
