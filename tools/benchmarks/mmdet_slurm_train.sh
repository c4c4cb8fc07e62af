#!/usr/bin/env bash
# Usage: tools/benchmarks/mmdet_slurm_train.sh PARTITION JOB_NAME CFG PRETRAIN [train.py args...]
# Env (GPUS, GPUS_PER_NODE, CPUS_PER_TASK, SRUN_ARGS, PREFIX, WORK_DIR): tools/benchmarks/slurm_transfer.sh.
exec bash "$(dirname "$0")/slurm_transfer.sh" mmdet "$@"
