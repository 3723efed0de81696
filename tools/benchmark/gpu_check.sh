#!/usr/bin/env bash
# Device checks, in priority order, for one GPU session (~12 min on an H200).
# Run from the repository root with the project's venv:
#     PYTHON=~/.cache/bocb_mm/venv/bin/python OUT=work_dirs/gpu_check bash tools/benchmark/gpu_check.sh
# Every step writes its own file under $OUT, so a run cut short keeps what it measured.
# BUDGET_S (default 660) stops starting new steps once spent (the last steps are skipped first).
set -uo pipefail
PY=${PYTHON:-python}
OUT=${OUT:-work_dirs/gpu_check}
BUDGET_S=${BUDGET_S:-660}
mkdir -p "$OUT"
START=$(date +%s)
R50=configs/cifar100/resnet50/resnet50_adamw_1xb100-200e_cifar100.py
DEIT=configs/cifar100/deit-small/deit-small_adamw_1xb100-200e_cifar100.py
CNX=configs/cifar100/convnext-tiny/convnext-tiny_adamw_1xb100-200e_cifar100.py
TP=tools/benchmark/train_throughput.py

step() {  # step NAME TIMEOUT_S COMMAND...
    local name=$1 limit=$2; shift 2
    local left=$(( BUDGET_S - ($(date +%s) - START) ))
    if (( left < 30 )); then echo "skip $name (budget spent)" | tee -a "$OUT/summary.txt"; return; fi
    (( limit > left )) && limit=$left
    echo "== $name (limit ${limit}s)" | tee -a "$OUT/summary.txt"
    timeout "$limit" "$@" > "$OUT/$name.txt" 2> "$OUT/$name.err"
    echo "   rc=$? after $(( $(date +%s) - START ))s" | tee -a "$OUT/summary.txt"
    tail -n 12 "$OUT/$name.txt" >> "$OUT/summary.txt"
}

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv > "$OUT/gpu.txt" 2>&1
# the GPUs `bocb_sweep run --runs-per-gpu N` would pack runs onto
$PY -c 'from bocb_mm.sweep.local import gpu_slots, visible_gpus; g = visible_gpus(); print("visible GPUs:", g, "slots at 4 per GPU:", gpu_slots(g, 4))' >> "$OUT/gpu.txt" 2>&1
# 1. the batched ops on CUDA against the CPU transforms (same tests as on CPU)
step augment_cuda 120 env BOCB_TEST_DEVICE=cuda $PY -m pytest -q -x tests/datasets/test_gpu_augment.py
# 2. optimizer steps, ResNet-50 shapes, CUDA fp32, every custom optimizer and its peers
step optimizer_step_cuda 120 $PY tools/benchmark/optimizer_step.py --device cuda --models resnet50 --repeats 30
# 3. R-50 CIFAR, one run: CPU pipeline vs GPU data path, then the throughput options
step r50_cpu_data 60 $PY $TP $R50 --runs 1 --iters 40 --warmup 15 --json "$OUT/r50_cpu_data.json"
step r50_gpu_data 60 $PY $TP $R50 --runs 1 --iters 40 --warmup 15 --gpu-data --cudnn-benchmark --json "$OUT/r50_gpu_data.json"
step r50_bf16_cl 60 $PY $TP $R50 --runs 1 --iters 40 --warmup 15 --gpu-data --cudnn-benchmark --amp bf16 --channels-last --json "$OUT/r50_bf16_cl.json"
step r50_compile 150 $PY $TP $R50 --runs 1 --iters 60 --warmup 30 --gpu-data --cudnn-benchmark --amp bf16 --channels-last --compile --json "$OUT/r50_compile.json"
# 4. packing (each run CUDA_VISIBLE_DEVICES-pinned as by bocb_sweep --runs-per-gpu): 1..8 runs on
#    the one GPU with the GPU data path, the CPU pipeline packed, DeiT-S 224 packed
step r50_packed 150 $PY $TP $R50 --runs 1 2 4 8 --iters 40 --warmup 15 --gpu-data --cudnn-benchmark --amp bf16 --channels-last --json "$OUT/r50_packed.json"
step r50_packed_cpu_data 90 $PY $TP $R50 --runs 4 8 --iters 40 --warmup 15 --json "$OUT/r50_packed_cpu_data.json"
step deit_packed 120 $PY $TP $DEIT --runs 1 2 4 --iters 30 --warmup 10 --gpu-data --amp bf16 --json "$OUT/deit_packed.json"
# 5. a ConvNeXt and the CUDA graphs variant
step cnx_gpu_bf16_cl 60 $PY $TP $CNX --runs 1 --iters 30 --warmup 10 --gpu-data --amp bf16 --channels-last --json "$OUT/cnx_gpu_bf16_cl.json"
step r50_compile_graphs 150 $PY $TP $R50 --runs 1 --iters 60 --warmup 30 --gpu-data --amp bf16 --channels-last --compile reduce-overhead --json "$OUT/r50_compile_graphs.json"
echo "done in $(( $(date +%s) - START ))s" | tee -a "$OUT/summary.txt"
