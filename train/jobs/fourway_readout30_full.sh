#!/bin/bash
# synthetic-fourway as bundled from 2026-12-05 until 2026-12-06 (fw36; issue 11; synthetic-fourway's LIMITS, "The
# weights before these"): fw34's recipe (train/jobs/fourway_prototype_full.sh with the person prototypes x3, the
# expression triplet x6, the magnitude readout, the pose loss x6 and the style triplet x3 in step 2) with the code
# readout x30 in step 2 and the nulling (the recipe's x10). Two x10 runs kept the pixel noise through step 1 and lost
# it early in step 2 (0.96-0.97 -> 0.83-0.86 on validation seed 2); x30 held it (0.947, mean of four validation sets;
# runs/fw36). About 72 min alone on 2 CPU cores by the stage clocks, from a fresh network (fw36 copied step 1 from fw34's rerun,
# runs/fw34/a, made by the same options and seed). The weights: OUT_DIR/p4e8/synthetic-fourway. Figures:
# python train/jobs/fourway_table.py OUT_DIR bundle p4e8
# Other variables pass through to fourway_prototype_full.sh (EXTRA_OPTIONS, ARM, ...); EXTRA_STEP2_OPTIONS is
# appended after this recipe's, so it overrides it.
#
#   train/jobs/fourway_readout30_full.sh [OUT_DIR]      (default runs/fw36)
export PROTOTYPE_WEIGHT=3
export EXTRA_STEP2_OPTIONS="--expression-weight 6 --readout-magnitude --pose-weight 6 --style-weight 3 --code-readout-weight 30 ${EXTRA_STEP2_OPTIONS:-}"
exec "$(dirname "$0")/fourway_prototype_full.sh" "${1:-runs/fw36}"
