"""Cityscapes -> COCO panoptic format, loadable by CocoPanopticDataset.

Runs cityscapesscripts' ``createPanopticImgs`` (which writes
``gtFine/cityscapes_panoptic_{split}.json`` and the PNG folder next to it),
then prefixes every image ``file_name`` with its city folder, because the
images live in ``leftImg8bit/{split}/<city>/`` while the JSON names them
without the city.

    python tools/dataset_converters/cityscapes_panoptic.py data/cityscapes \
        [--splits train val]
"""
import argparse
import json
import os.path as osp

from mmpanfpn.utils.atomic_io import atomic_write


def add_city_folders(json_path: str) -> int:
    """Rewrite ``images[*].file_name`` as ``<city>/<file_name>`` in place.

    The file is replaced atomically; running it twice changes nothing. Returns
    the number of names changed.
    """
    with open(json_path) as f:
        content = json.load(f)
    changed = 0
    for i, img in enumerate(content.get('images', [])):
        name = img.get('file_name')
        if not name:
            raise ValueError(f'{json_path}: images[{i}] has no "file_name"')
        if '/' not in name:
            img['file_name'] = f'{name.split("_")[0]}/{name}'
            changed += 1
    atomic_write(json.dumps(content), json_path)
    return changed


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        'cityscapes_root', help='folder holding leftImg8bit/ and gtFine/')
    parser.add_argument('--splits', nargs='+', default=['train', 'val'])
    args = parser.parse_args()

    gt_dir = osp.join(args.cityscapes_root, 'gtFine')
    if not osp.isdir(gt_dir):
        raise SystemExit(f'{gt_dir}: not found (expected the Cityscapes '
                         'gtFine folder)')
    from cityscapesscripts.preparation.createPanopticImgs import \
        convert2panoptic
    convert2panoptic(
        cityscapesPath=gt_dir,
        outputFolder=gt_dir,
        useTrainId=False,
        setNames=args.splits)
    for split in args.splits:
        path = osp.join(gt_dir, f'cityscapes_panoptic_{split}.json')
        print(f'{path}: {add_city_folders(path)} image names prefixed '
              'with their city')


if __name__ == '__main__':
    main()
