#!/usr/bin/env bash
# Slurm training: bash tools/slurm_train.sh PARTITION JOB_NAME CONFIG [WORK_DIR] [train.py args]
# GPU tasks (one per GPU): GPUS (total, default 8), GPUS_PER_NODE (default min(GPUS, 8)).
# CPU tasks: GPUS=0 NTASKS=N (default 1), NTASKS_PER_NODE (optional): no --gres, no GPU visible;
#   the tasks join with gloo, e.g. GPUS=0 NTASKS=2 CPUS_PER_TASK=4 bash tools/slurm_train.sh ...
# Both: CPUS_PER_TASK (default 5), MASTER_PORT (default 29500), SRUN_ARGS (extra srun options),
# PYTHON (default python).
set -euo pipefail
PARTITION=$1
JOB_NAME=$2
CONFIG=$3
WORK_DIR=${4:-}
GPUS=${GPUS:-8}
CPUS_PER_TASK=${CPUS_PER_TASK:-5}
SRUN_ARGS=${SRUN_ARGS:-}
PYTHON=${PYTHON:-python}
EXTRA=("${@:5}")
[ -n "$WORK_DIR" ] && EXTRA=(--work-dir "$WORK_DIR" "${EXTRA[@]}")
if [ "$GPUS" -gt 0 ]; then
  GPUS_PER_NODE=${GPUS_PER_NODE:-$(( GPUS < 8 ? GPUS : 8 ))}
  TASKS=(--gres=gpu:"$GPUS_PER_NODE" --ntasks="$GPUS" --ntasks-per-node="$GPUS_PER_NODE")
else
  TASKS=(--ntasks="${NTASKS:-1}")
  [ -n "${NTASKS_PER_NODE:-}" ] && TASKS+=(--ntasks-per-node="$NTASKS_PER_NODE")
  export CUDA_VISIBLE_DEVICES=  # a CPU job on a GPU node keeps off its GPUs
fi
cd "$(dirname "$0")/.."
# shellcheck disable=SC2086
exec srun -p "$PARTITION" --job-name="$JOB_NAME" "${TASKS[@]}" \
  --cpus-per-task="$CPUS_PER_TASK" --kill-on-bad-exit=1 $SRUN_ARGS \
  "$PYTHON" -u tools/train.py "$CONFIG" --launcher slurm "${EXTRA[@]}"
