#!/usr/bin/env bash
# Usage: tools/benchmarks/slurm_transfer.sh {mmdet|mmseg} PARTITION JOB_NAME CFG PRETRAIN [train.py args...]
# (called by mmdet_slurm_train.sh / mmseg_slurm_train.sh).
# Env: GPUS (8), GPUS_PER_NODE (8), CPUS_PER_TASK (5), SRUN_ARGS (""), PYTHON (python),
#      PREFIX (init_cfg.prefix), WORK_DIR (work_dirs/benchmarks/<cfg>/<pretrain>),
#      MMSPATIAL_TRAIN_SCRIPT (library|mmspatial|path, see train_transfer.py).
set -x
LIB=$1
PARTITION=$2
JOB_NAME=$3
CFG=$4
PRETRAIN=$5
GPUS=${GPUS:-8}
GPUS_PER_NODE=${GPUS_PER_NODE:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-""}
PYTHON=${PYTHON:-python}
PREFIX=${PREFIX:-}
PY_ARGS=("${@:6}")
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
WORK_DIR=${WORK_DIR:-"work_dirs/benchmarks/$(basename "$CFG" .py)/$(basename "$PRETRAIN" .pth)"}

OPTS=("model.backbone.init_cfg.checkpoint=$PRETRAIN")
if [ -n "$PREFIX" ]; then OPTS+=("model.backbone.init_cfg.prefix=$PREFIX"); fi
if [ "$LIB" = "mmseg" ]; then OPTS+=("model.pretrained=None"); fi

# SRUN_ARGS is intentionally unquoted: it holds several srun options.
# shellcheck disable=SC2086
PYTHONPATH="$ROOT${PYTHONPATH:+:$PYTHONPATH}" \
srun -p "${PARTITION}" \
    --job-name="${JOB_NAME}" \
    --gres=gpu:"${GPUS_PER_NODE}" \
    --ntasks="${GPUS}" \
    --ntasks-per-node="${GPUS_PER_NODE}" \
    --cpus-per-task="${CPUS_PER_TASK}" \
    --kill-on-bad-exit=1 \
    ${SRUN_ARGS} \
    "$PYTHON" -u "$ROOT/tools/benchmarks/train_transfer.py" "$LIB" "${CFG}" --work-dir="${WORK_DIR}" \
    --launcher="slurm" --cfg-options "${OPTS[@]}" "${PY_ARGS[@]}"
