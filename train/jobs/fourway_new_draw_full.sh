#!/bin/bash
# The bundled synthetic-fourway since 2026-12-06 (thirty-first sitting; issue 11; synthetic-fourway's LIMITS, "These
# weights"): the recipe of train/jobs/fourway_long_extra_full.sh with its extra joint epoch (1.5 epochs) trained on a
# new draw of the training set: the same 2,000 people with new expressions, intensities, poses and nuisances (data
# seed 1), rendered with its swap targets inside that command. The steps before it had fitted their own images
# (intensity read 0.961 on them, 0.917 on new images of the same people). Not in the paper. 87.0 min on 2 CPU cores
# from the first command's start to the last weights, from a fresh network and an empty cache (runs/fw47 made steps
# 1 and 2, runs/fw48 the rest from them: python train/jobs/run_clocks.py runs/fw48/x15newp4e8/synthetic-fourway).
# The weights: OUT_DIR/x15newp4e8/synthetic-fourway. The job scores validation seeds 2 and 3:
# python train/jobs/fourway_table.py OUT_DIR x15newp4e8
#
# Other variables pass through to fourway_long_extra_full.sh and the scripts it calls.
#
#   [FACELAB_CACHE=..] train/jobs/fourway_new_draw_full.sh [OUT_DIR]      (default runs/fw48)
new_draw=synthetic:identities=2000,per_identity=28,seed=1,min_intensity=0.25,pose_range=35,roll_range=15
export EXTEND_NAME=${EXTEND_NAME:-x15new} ARM=${ARM:-x15newp4e8}
export EXTEND_OPTIONS=${EXTEND_OPTIONS:-"--magnitude-readout-weight 60 --person-prototype-weight 10 --max-steps 1180 --data $new_draw"}
exec "$(dirname "$0")/fourway_long_extra_full.sh" "${1:-runs/fw48}"
