#!/bin/bash
# The synthetic-fourway bundled first on 2026-12-05 (fw27; the bundle since is train/jobs/fourway_prototype_full.sh),
# from a fresh network (issue 11; synthetic-fourway's LIMITS): the encoder twice as wide as G with one extra conv per
# stage, 6 warm-up epochs with the code readouts, no autoencoder epoch, 4 joint epochs with the swap targets x6 and
# factor probes on the pose columns, then the leak nulling with a floor of 4 dimensions and 4 protected readers per
# own class factor (the arm p4; runs/fw27).
# About 80 min alone on 2 CPU cores. The weights: OUT_DIR/p4/synthetic-fourway. Figures:
# python train/jobs/fourway_table.py OUT_DIR bundle p4
#
#   train/jobs/fourway_wide_full.sh [OUT_DIR]      (default runs/fw27)
export OPTIONS="--encoder-channels 32 64 128 256 --encoder-depth 1 --warmup-readout-weight 10"
export STEP2_OPTIONS="--swap-target-weight 6 --factor-probe-weight 20 --factor-probe-columns yaw pitch roll"
export IDENTITIES=2000 WARMUP=6 AUTOENCODER=0 JOINT=4 ARMS="p4:0.02"
export ARM_OPTIONS="--nulling-class-draw 48 --nulling-fill --nulling-keep 0.125 --nulling-protect-directions 4"
exec "$(dirname "$0")/fourway_full.sh" "${1:-runs/fw27}"
