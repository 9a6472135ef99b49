#!/usr/bin/env bash
# Usage: tools/dist_train.sh CONFIG NPROC [train.py args]
# Adapted from mmdetection's tools/dist_train.sh (https://github.com/open-mmlab/
# mmdetection, Apache-2.0, Copyright (c) OpenMMLab).
# One process per GPU (or per CPU worker with the gloo backend when no GPU is
# present). Multi-node: set NNODES, NODE_RANK, MASTER_ADDR, PORT.
set -euo pipefail
CONFIG=$1
NPROC=$2
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}

PYTHONPATH="$(dirname "$0")/..":${PYTHONPATH:-} \
python -m torch.distributed.run \
    --nnodes="$NNODES" \
    --node_rank="$NODE_RANK" \
    --master_addr="$MASTER_ADDR" \
    --nproc_per_node="$NPROC" \
    --master_port="$PORT" \
    "$(dirname "$0")/train.py" \
    $CONFIG \
    --launcher pytorch "${@:3}"
