#!/usr/bin/env bash
# A quick probe of the bf16 stream on real Human3.6M (written in session 19; session 20 ran the rows of
# record themselves instead, ../real/queue.py --plan s20_bf16_rows, see README.md there):
# experiment=[h36m_gt17,fast_h36m] for 2 epochs with model.net.bf16_residual=false and =true, both at
# once on one GPU, the last weight average tested on S9/S11 (a comparison, not a result of record).
#   NO_SH=1 CALL_LIMIT=430 bash experiments/real/device_call.sh bash experiments/bench/bf16_residual_h36m_call.sh
# (carry .whl and .carry with h36m17_compact.npz and h36m_compact.py)
for v in false true; do
  timeout ${RUN_LIMIT:-330} python3 -m ampose.train "experiment=[h36m_gt17,fast_h36m]" data.root=$AMPOSE_D logger=csv num_pictures=0 \
    trainer.max_epochs=${EPOCHS:-2} test_ckpt=last model.net.bf16_residual=$v hydra.run.dir=$OUT/gt17_bf16res_$v > $OUT/gt17_$v.txt 2>&1 &
done
wait
for v in false true; do
  python3 -c "import json,sys; t=json.load(open(sys.argv[1]))['test_results']; print(sys.argv[1], round(t['mpjpe_action'],2), round(t['p_mpjpe_action'],2))" $OUT/gt17_bf16res_$v/metrics.json
  grep -h "samples_per_s" $OUT/gt17_bf16res_$v/csv/*/metrics.csv 2>/dev/null | head -1; tail -2 $OUT/gt17_$v.txt
done
find $OUT -name "*.ckpt" -delete
