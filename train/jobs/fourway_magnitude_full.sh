#!/bin/bash
# synthetic-fourway as bundled from 2026-12-06 (twenty-sixth sitting) until the thirtieth (issue 11; its LIMITS, "The
# weights before these"; train/jobs/fourway_channels_last_full.sh is today's): fw36's recipe
# (train/jobs/fourway_readout30_full.sh) with intensity's readout weighed on its own
# (--magnitude-readout-weight 22.5) in step 2, then one more joint epoch on its own one-cycle schedule with that
# weight at 60 and the person prototypes x5, then the nulling (the arm p4e8's). Step 2 alone lifted intensity and
# cost the person (fw37); the extra epoch gave the person back (xc, xp5). Not in the paper.
# About 90 min alone on 2 CPU cores by the stage clocks (89.8 in runs/fw37), about 99 min from the first command's
# start to the last weights (start-ups and renders; train/jobs/run_clocks.py), from a fresh
# network (runs/fw37 copied step 1 from runs/fw36/a, made by the same options and seed). The weights:
# OUT_DIR/xm60p5p4e8/synthetic-fourway (the names as in runs/fw37). The job scores validation seeds 2 and 3:
# python train/jobs/fourway_table.py OUT_DIR bundle xm60p5p4e8
#
# EXTEND (default 1) sets the extra epochs' count, EXTEND_NAME and ARM their and the nulling's names, EXTEND_OPTIONS
# the extra epochs' options (default this recipe's).
#
#   [EXTEND=1] [EXTEND_NAME=xm60p5] [EXTEND_OPTIONS=..] [ARM=xm60p5p4e8] train/jobs/fourway_magnitude_full.sh [OUT_DIR]
#   (default OUT_DIR runs/fw37)
export EXTEND=${EXTEND:-1} EXTEND_NAME=${EXTEND_NAME:-xm60p5} ARM=${ARM:-xm60p5p4e8}
export EXTEND_OPTIONS=${EXTEND_OPTIONS:-"--magnitude-readout-weight 60 --person-prototype-weight 5"}
export EXTRA_STEP2_OPTIONS="--magnitude-readout-weight 22.5"
exec "$(dirname "$0")/fourway_readout30_full.sh" "${1:-runs/fw37}"
