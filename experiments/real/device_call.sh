#!/usr/bin/env bash
# One call on the lent GPU machine: install the carried wheels, unpack the carried data once into
# outputs/D (git-ignored, so it survives between calls while the machine stays warm), then run
# the commands given as arguments, e.g.
#   CALL_LIMIT=590 bash experiments/real/device_call.sh python3 experiments/real/queue.py --budget 500 --only a,b
set -euo pipefail
# CALL_LIMIT: the call's limit in seconds (the run tool's limit_s: timeout_s or the device time
# left, whichever is less). queue.py stops 40 s before it, so its results are always packed.
export AMPOSE_CALL_DEADLINE=$(( $(date +%s) + ${CALL_LIMIT:-590} ))
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
export PYTHONPATH=/tmp/site:src PYTHONUNBUFFERED=1
D=outputs/D
mkdir -p "$D"
if [ -z "${NO_DATA:-}" ]; then  # NO_DATA=1: benchmarks only; NO_SH=1: no detections needed
# The detections unpack beside the 3D and its GT 2D (about 40 s each on a cold machine, session 13).
sh_pid=""
if [ -z "${NO_SH:-}" ] && [ ! -f "$D/data_2d_h36m_sh.npz" ]; then
    python3 .carry/h36m_compact.py unpack-sh .carry/h36m_sh_compact.npz "$D/data_2d_h36m_sh.npz" &
    sh_pid=$!
fi
[ -f "$D/data_3d_h36m.npz" ] || python3 .carry/h36m_compact.py unpack .carry/h36m17_compact.npz "$D/data_3d_h36m.npz"
[ -f "$D/data_2d_h36m_gt.npz" ] || python3 -m ampose.data.cli gt2d "$D/data_3d_h36m.npz" "$D/data_2d_h36m_gt.npz"
[ -z "$sh_pid" ] || wait "$sh_pid"  # its failure stops the call (set -e)
fi
export AMPOSE_D="$PWD/$D"
"$@"
