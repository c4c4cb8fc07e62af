#!/usr/bin/env bash
# Usage: tools/benchmarks/dist_transfer.sh {mmdet|mmseg} CFG PRETRAIN GPUS [train.py args...]
# (called by mmdet_train.sh / mmseg_train.sh). PRETRAIN is an extracted backbone
# (tools/model_converters/extract_backbone.py), or a full pretraining checkpoint with PREFIX=backbone.
# GPUS processes on this node through torchrun (--launcher pytorch); GPUS=0 runs one process without a
# launcher. Without CUDA the processes are CPU processes (gloo) running mmspatial's tools/train.py.
# Env: NNODES (1), NODE_RANK (0), PORT (29500), MASTER_ADDR (127.0.0.1), PYTHON (python),
#      PREFIX (init_cfg.prefix, unset = none), WORK_DIR (work_dirs/benchmarks/<cfg>/<pretrain>),
#      MMSPATIAL_TRAIN_SCRIPT (library|mmspatial|path, see train_transfer.py).
set -euo pipefail
if [ $# -lt 4 ]; then
    echo "usage: $0 {mmdet|mmseg} CFG PRETRAIN GPUS [train.py args...]" >&2
    exit 2
fi
LIB=$1
CFG=$2
PRETRAIN=$3
GPUS=$4
NNODES=${NNODES:-1}
NODE_RANK=${NODE_RANK:-0}
PORT=${PORT:-29500}
MASTER_ADDR=${MASTER_ADDR:-"127.0.0.1"}
PYTHON=${PYTHON:-python}
PREFIX=${PREFIX:-}
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK_DIR=${WORK_DIR:-"work_dirs/benchmarks/$(basename "$CFG" .py)/$(basename "$PRETRAIN" .pth)"}

if [ ! -f "$PRETRAIN" ]; then
    echo "$0: pretrained checkpoint not found: $PRETRAIN" >&2
    exit 1
fi
OPTS=("model.backbone.init_cfg.checkpoint=$PRETRAIN")
if [ -n "$PREFIX" ]; then OPTS+=("model.backbone.init_cfg.prefix=$PREFIX"); fi
if [ "$LIB" = "mmseg" ]; then OPTS+=("model.pretrained=None"); fi

export PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}"
ENTRY=("$ROOT/tools/benchmarks/train_transfer.py" "$LIB" "$CFG" --work-dir "$WORK_DIR")
if [ "$GPUS" = "0" ]; then
    "$PYTHON" "${ENTRY[@]}" --cfg-options "${OPTS[@]}" "${@:5}"
else
    "$PYTHON" -m torch.distributed.run \
        --nnodes="$NNODES" \
        --node_rank="$NODE_RANK" \
        --master_addr="$MASTER_ADDR" \
        --nproc_per_node="$GPUS" \
        --master_port="$PORT" \
        "${ENTRY[@]}" --launcher pytorch --cfg-options "${OPTS[@]}" "${@:5}"
fi
