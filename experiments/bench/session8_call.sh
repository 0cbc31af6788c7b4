#!/usr/bin/env bash
# Session 8's last device call, on a two-GPU machine (run through experiments/real/device_call.sh):
# GPU 1 alone: the CUDA kernel tests with every heads-per-program setting, tune_fused.py (now
# also over attn_heads), then the fused bench at batches 16,384 and 32,768 with the tuned
# launch settings. GPU 0 meanwhile: the queue's five-subject pure-transformer rows.
set -u
B="$OUT/bench"
mkdir -p "$B"
CUDA_VISIBLE_DEVICES=0 python3 experiments/real/queue.py --data "$AMPOSE_D" --sh-data "$AMPOSE_D" --budget "${QUEUE_BUDGET:-520}" \
  --out "$OUT" --workers 2 --only "$JOBS" > "$OUT/queue.txt" 2>&1 &
export CUDA_VISIBLE_DEVICES=1
python3 -m pytest -q -p no:cacheprovider tests/test_fused_kernels.py -k cuda_kernels > "$B/pytest.txt" 2>&1
tail -2 "$B/pytest.txt"
python3 experiments/bench/tune_fused.py --out "$B/tune_fused_h200_s8.json" > "$B/tune.txt" 2>&1
grep AMPOSE_FUSED_TUNING "$B/tune.txt"
AMPOSE_FUSED_TUNING=$(cat "$B/tuning.env") python3 -m ampose.bench --fused --sizes paper --seconds 2 \
  --batches 16384 32768 --out "$B/h200_fused_s8.json" > "$B/bench.txt" 2>&1
tail -25 "$B/bench.txt"
wait
tail -12 "$OUT/queue.txt"
