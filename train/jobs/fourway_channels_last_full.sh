#!/bin/bash
# synthetic-fourway as bundled in the thirtieth sitting, 2026-12-06 (issue 11; synthetic-fourway's LIMITS, "The
# weights before these"; train/jobs/fourway_long_extra_full.sh is today's): the recipe of
# train/jobs/fourway_magnitude_full.sh in fp32 with --channels-last in every command (convolution tensors stored
# NHWC: the same arithmetic in another memory order, 1.25-1.37x faster on this CPU), and the person prototypes x10
# rather than x5 in the extra joint epoch (xm60p10). Not in the paper. 80.5 min on 2 CPU cores from the first
# command's start to the last weights, from a fresh network and an empty cache (runs/fw44 made steps 1 and 2,
# runs/fw45 the extra epoch and the nulling from them: python train/jobs/run_clocks.py
# runs/fw45/xm60p10p4e8/synthetic-fourway). The weights: OUT_DIR/xm60p10p4e8/synthetic-fourway. The job scores
# validation seeds 2 and 3: python train/jobs/fourway_table.py OUT_DIR xm60p10p4e8
#
# Other variables pass through to fourway_magnitude_full.sh (EXTEND, EXTEND_NAME, EXTEND_OPTIONS, ARM, ...).
#
#   [FACELAB_CACHE=..] train/jobs/fourway_channels_last_full.sh [OUT_DIR]      (default runs/fw45)
export EXTRA_OPTIONS="--channels-last ${EXTRA_OPTIONS:-}"
export EXTEND_NAME=${EXTEND_NAME:-xm60p10} ARM=${ARM:-xm60p10p4e8}
export EXTEND_OPTIONS=${EXTEND_OPTIONS:-"--magnitude-readout-weight 60 --person-prototype-weight 10"}
exec "$(dirname "$0")/fourway_magnitude_full.sh" "${1:-runs/fw45}"
