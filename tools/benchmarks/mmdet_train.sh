#!/usr/bin/env bash
# Usage: tools/benchmarks/mmdet_train.sh CFG PRETRAIN GPUS [train.py args...]
# Fine-tune configs/benchmarks/mmdet/CFG from PRETRAIN on GPUS processes (torchrun; GPUS=0: one process
# without launcher; no CUDA: CPU processes). Env and details: tools/benchmarks/dist_transfer.sh.
exec bash "$(dirname "$0")/dist_transfer.sh" mmdet "$@"
