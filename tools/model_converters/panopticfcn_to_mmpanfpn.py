"""Convert an official Panoptic FCN checkpoint (yanwei-li/PanopticFCN,
detectron2 ``.pth`` or ``.pkl``) to an mmpanfpn checkpoint.

    python tools/model_converters/panopticfcn_to_mmpanfpn.py \\
        panoptic_fcn_r50_1x.pth panoptic-fcn_r50_fpn_1x_coco.pth \\
        [--config configs/panoptic_fcn/panoptic-fcn_r50_fpn_1x_coco.py]

Every official key is renamed (see ``mmpanfpn.models.panoptic_fcn_checkpoint``
for the families) and checked against the model the config builds; an unknown,
missing or mis-shaped key is an error naming it and the file, and nothing is
written. Optimizer, scheduler and iteration entries are left out (listed).
Without ``--config`` the weights pick one: the "*" config if the encoder is
deformable, the R50 1x one if the position head is, else the no-DCN one (pass
``--config`` for R101 or Cityscapes weights).
"""
import argparse
import io
import sys

import torch

from mmpanfpn.engine import atomic_write
from mmpanfpn.models.panoptic_fcn_checkpoint import (ConversionError,
                                                     convert_checkpoint)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('src', help='official checkpoint (.pth or .pkl)')
    parser.add_argument('dst', help='mmpanfpn checkpoint to write')
    parser.add_argument('--config', help='our config the weights are for')
    args = parser.parse_args()
    try:
        checkpoint = convert_checkpoint(args.src, args.config)
    except ConversionError as err:
        print(f'error: {err}', file=sys.stderr)
        return 1
    buffer = io.BytesIO()
    torch.save(checkpoint, buffer)
    atomic_write(buffer.getvalue(), args.dst)
    meta = checkpoint['meta']
    print(f'{args.dst}: {len(checkpoint["state_dict"])} tensors for '
          f'{meta["config"]}, {len(meta["dataset_meta"]["classes"])} classes' +
          (f'; left out {meta["ignored_entries"]}'
           if meta['ignored_entries'] else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
