#!/bin/bash
# The bundled synthetic-fourway's recipe (train/jobs/fourway_magnitude_full.sh) with bf16 autocast in every step
# (--precision bf16; the weights stay fp32). On this CPU (AMX-BF16) a joint step took 0.74 s against 1.18 s in fp32
# (30 steps each, 2026-12-06), while the fp32 recipe took about 99 min from the first command's start to the last
# weights (issue 11; synthetic-fourway's LIMITS). bf16 rounds the convolutions' and products' inputs, so the weights
# are not the fp32 recipe's: judge them on validation people. The weights: OUT_DIR/xm60p5p4e8/synthetic-fourway.
#
#   train/jobs/fourway_bf16_full.sh [OUT_DIR]      (default runs/fw40)
export EXTRA_OPTIONS="--precision bf16 ${EXTRA_OPTIONS:-}"
exec "$(dirname "$0")/fourway_magnitude_full.sh" "${1:-runs/fw40}"
