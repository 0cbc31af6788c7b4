#!/usr/bin/env bash
# Does AMPose(bf16_residual=True) buy speed without costing accuracy? One call on one GPU, through
# experiments/real/device_call.sh (NO_DATA=1):
#   NO_DATA=1 CALL_LIMIT=590 bash experiments/real/device_call.sh bash experiments/bench/bf16_residual_call.sh
# 1. ampose-bench --fused at batch 16,384, the default network and the bf16 stream, one after the other
#    (device_bench_call.sh; TUNE= skips the tuner unless TUNE is set).
# 2. Accuracy (ACC= skips it): experiment=fast, paper-sized, 20 epochs on the synthetic data, raw weights,
#    each variant with seeds 1 and 2, the four runs at once; test MPJPE of the last weights.
set -u
# On an H100 the mixing kernel's launch settings tuned on one in session 3 (fused.TUNING's defaults were tuned on an H200)
if [ -z "${AMPOSE_FUSED_TUNING:-}" ] && nvidia-smi --query-gpu=name --format=csv,noheader | grep -q H100; then
  export AMPOSE_FUSED_TUNING="mix_block_c=256,mix_warps=2"
fi
TUNE="${TUNE-}" KERNEL_TESTS= VARIANTS="plain bf16res" BENCH_LIMIT="${BENCH_LIMIT:-170}" bash experiments/bench/device_bench_call.sh
if [ -n "${ACC-1}" ]; then
  A="$OUT/acc"
  mkdir -p "$A"
  python3 -m ampose.data.cli synth "$A/syn" > "$A/synth.txt" 2>&1
  for seed in 1 2; do
    for v in plain bf16res; do
      flag=false; [ "$v" = plain ] || flag=true
      timeout "${ACC_LIMIT:-240}" python3 -m ampose.train experiment=fast logger=csv "data.root=$A/syn" model=ampose_paper \
        num_pictures=0 model.ema_decay=null trainer.max_epochs=20 test_ckpt=last seed=$seed \
        model.net.bf16_residual=$flag "hydra.run.dir=$A/${v}_s$seed" > "$A/${v}_s$seed.txt" 2>&1 &
    done
  done
  wait
  for f in "$A"/*/metrics.json; do
    python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['test_results']; print(sys.argv[1], round(t['mpjpe_action'],2), round(t['p_mpjpe_action'],2))" "$f"
  done
  tail -n 3 "$A"/*_s*.txt | grep -i -E "error|samples" | head -20
fi
