#!/bin/bash
# fw41 (issue 11; synthetic-fourway's LIMITS): fw40's bf16 recipe (train/jobs/fourway_bf16_full.sh) with the extra
# joint epochs after step 2 two instead of one, on one one-cycle schedule (the magnitude readout x60 and the person
# prototypes x5 there, as in the bundled recipe), then the nulling as the arm p4e8. bf16 ran fw40 in 71.2 min end to
# end, where the person read 0.917 on validation (fp32 0.947); in fp32 the extra epoch was what gave the person back,
# so this spends about 11 of the 19 min bf16 freed on a second one. runs/fw41 copied steps 1 and 2 from runs/fw40
# (the same options and seed). The weights: OUT_DIR/x2p5p4e8/synthetic-fourway. Validation seeds 2 and 3 are scored
# by the job; python train/jobs/fourway_table.py OUT_DIR x2p5p4e8
#
#   train/jobs/fourway_bf16_x2_full.sh [OUT_DIR]      (default runs/fw41)
export EXTEND=2 EXTEND_NAME=x2p5 ARM=x2p5p4e8
exec "$(dirname "$0")/fourway_bf16_full.sh" "${1:-runs/fw41}"
