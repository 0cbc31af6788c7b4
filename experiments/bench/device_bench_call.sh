#!/usr/bin/env bash
# Issue 10's bench beside queue jobs, on a two-GPU machine (through experiments/real/device_call.sh):
#   JOBS=a,b,a_flip QUEUE_BUDGET=520 bash experiments/real/device_call.sh bash experiments/bench/device_bench_call.sh
# On a one-GPU machine (nvidia-h100-x1) the steps below run on GPU 0 and JOBS must be empty.
# GPU 1 alone: the CUDA tests of the Triton kernels (KERNEL_TESTS= skips them); tune_fused.py (the kernels' launch settings op
# by op; TUNE= skips it); the fused bench at batch 16,384 (BATCHES=...) with the tuned settings.
# GPU 0 meanwhile: the queue jobs in JOBS (none if JOBS is empty).
# Each step has a time limit: in session 8 one step without one ran a whole call out.
set -u
B="$OUT/bench"
mkdir -p "$B"
if [ -n "${JOBS:-}" ]; then
  CUDA_VISIBLE_DEVICES=0 python3 experiments/real/queue.py --data "$AMPOSE_D" --sh-data "$AMPOSE_D" --budget "${QUEUE_BUDGET:-520}" \
    --out "$OUT" --workers "${QUEUE_WORKERS:-2}" --only "$JOBS" > "$OUT/queue.txt" 2>&1 &
fi
NGPU=$(nvidia-smi --query-gpu=name --format=csv,noheader | wc -l)
G=$(( NGPU > 1 ? 1 : 0 ))
if [ "$G" = 0 ] && [ -n "${JOBS:-}" ]; then echo "JOBS needs a second GPU; this machine has $NGPU" >&2; exit 2; fi
export CUDA_VISIBLE_DEVICES=$G
if [ -n "${KERNEL_TESTS-1}" ]; then
  timeout 90 python3 -m pytest -q -p no:cacheprovider tests/test_fused_kernels.py -k cuda > "$B/pytest.txt" 2>&1
  tail -3 "$B/pytest.txt"
fi
if [ -n "${TUNE-1}" ]; then
  timeout 80 python3 experiments/bench/tune_fused.py --out "$B/tune_fused.json" > "$B/tune.txt" 2>&1
  grep AMPOSE_FUSED_TUNING "$B/tune.txt"
fi
# the tuner's settings, else AMPOSE_FUSED_TUNING as given (else fused.TUNING's defaults)
[ ! -f "$B/tuning.env" ] || export AMPOSE_FUSED_TUNING=$(cat "$B/tuning.env")
GPU_NAME=$(nvidia-smi --query-gpu=name --format=csv,noheader -i $G | head -1 | tr -c 'A-Za-z0-9\n' '_')
# VARIANTS: one bench per word, "plain" (the default network) and/or "bf16res" (--bf16-residual)
for v in ${VARIANTS:-plain}; do
  flag=""; [ "$v" = plain ] || flag="--bf16-residual"
  timeout ${BENCH_LIMIT:-160} python3 -m ampose.bench --fused --sizes paper --seconds 2 --batches ${BATCHES:-16384} \
    $flag --out "$B/${GPU_NAME}_fused_$v.json" > "$B/bench_$v.txt" 2>&1
  echo "== $v"; tail -12 "$B/bench_$v.txt"
done
wait
[ -z "${JOBS:-}" ] || tail -12 "$OUT/queue.txt"
