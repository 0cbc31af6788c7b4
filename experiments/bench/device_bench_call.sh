#!/usr/bin/env bash
# Issue 10's bench beside queue jobs, on a two-GPU machine (through experiments/real/device_call.sh):
#   JOBS=a,b,a_flip QUEUE_BUDGET=520 bash experiments/real/device_call.sh bash experiments/bench/device_bench_call.sh
# GPU 1 alone: the CUDA kernel tests, tune_fused.py, then the fused bench at batches 16,384 and
# 32,768 with the tuned launch settings. GPU 0 meanwhile: the queue jobs in JOBS.
# Each step has a time limit: in session 8 the kernel tests (then with an 8-heads-per-program
# variant) ran the whole call out and nothing after them ran.
set -u
B="$OUT/bench"
mkdir -p "$B"
CUDA_VISIBLE_DEVICES=0 python3 experiments/real/queue.py --data "$AMPOSE_D" --sh-data "$AMPOSE_D" --budget "${QUEUE_BUDGET:-520}" \
  --out "$OUT" --workers 2 --only "$JOBS" > "$OUT/queue.txt" 2>&1 &
export CUDA_VISIBLE_DEVICES=1
timeout 120 python3 -m pytest -q -p no:cacheprovider tests/test_fused_kernels.py -k cuda_kernels > "$B/pytest.txt" 2>&1
tail -2 "$B/pytest.txt"
timeout 150 python3 experiments/bench/tune_fused.py --out "$B/tune_fused_h200_s8.json" > "$B/tune.txt" 2>&1
grep AMPOSE_FUSED_TUNING "$B/tune.txt"
AMPOSE_FUSED_TUNING=$(cat "$B/tuning.env" 2>/dev/null) timeout 300 python3 -m ampose.bench --fused --sizes paper --seconds 2 \
  --batches 16384 32768 --out "$B/h200_fused_s8.json" > "$B/bench.txt" 2>&1
tail -25 "$B/bench.txt"
wait
tail -12 "$OUT/queue.txt"
