#!/bin/bash
# synthetic-fourway as bundled early in the thirty-first sitting, 2026-12-06 (issue 11; synthetic-fourway's LIMITS,
# "The weights before these"; train/jobs/fourway_new_draw_full.sh is today's): the recipe of
# train/jobs/fourway_channels_last_full.sh with its extra joint epoch made 1.5 epochs long (two epochs' one-cycle
# schedule fitted to 1,180 steps by --max-steps; about 787 steps an epoch), from training seed 1. Not in the paper.
# 83.7 min on 2 CPU cores from the first command's start to the last weights, from a fresh network and an empty cache
# (runs/fw47; python train/jobs/run_clocks.py runs/fw47/x15m60p10p4e8/synthetic-fourway). The weights:
# OUT_DIR/x15m60p10p4e8/synthetic-fourway. The job scores validation seeds 2 and 3:
# python train/jobs/fourway_table.py OUT_DIR x15m60p10p4e8
#
# Other variables pass through to fourway_channels_last_full.sh and the scripts it calls.
#
#   [FACELAB_CACHE=..] train/jobs/fourway_long_extra_full.sh [OUT_DIR]      (default runs/fw47)
export EXTRA_OPTIONS="--seed 1 ${EXTRA_OPTIONS:-}" EXTEND=${EXTEND:-2}
export EXTEND_NAME=${EXTEND_NAME:-x15m60p10} ARM=${ARM:-x15m60p10p4e8}
export EXTEND_OPTIONS=${EXTEND_OPTIONS:-"--magnitude-readout-weight 60 --person-prototype-weight 10 --max-steps 1180"}
exec "$(dirname "$0")/fourway_channels_last_full.sh" "${1:-runs/fw47}"
