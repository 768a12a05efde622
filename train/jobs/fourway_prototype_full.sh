#!/bin/bash
# synthetic-fourway as bundled from 2026-12-05 (later) until fw36 (issue 11; its LIMITS, fw29's section): the
# recipe of train/jobs/fourway_wide_full.sh with the person prototypes in step 2 (--person-prototype-weight 1: each
# image's person scored among all training people by cosine to their running mean identity codes), from a fresh
# network: step 1 (6 warm-up epochs), step 2 (4 joint epochs), then the leak nulling as the arm p4e8 (runs/fw29):
# 4 protected readers for the person, all of theirs for the expressions.
# About 79 min alone on 2 CPU cores. The weights: OUT_DIR/p4e8/synthetic-fourway. Figures:
# python train/jobs/fourway_table.py OUT_DIR bundle p4e8
# PROTOTYPE_WEIGHT (default 1, fw29's) sets the prototype term's weight; EXTRA_STEP2_OPTIONS adds train options
# to step 2 and the arms (after its own, so they override them: e.g. --expression-weight 6); ARM (default p4e8) names
# the arm, LEAK (default 0.02) its leak threshold, and EXTRA_ARM_OPTIONS adds nulling options to it (a repeated
# --nulling-protect-for replaces the one before). EXTRA_OPTIONS adds train options to every stage: e.g. --seed 1,
# which must reach every stage (a fine-tune keeps its start point's seed, which draws the validation part).
# fw30, the prototypes x3 (not bundled; the card's LIMITS): PROTOTYPE_WEIGHT=3 train/jobs/fourway_prototype_full.sh
# runs/fw30, then the same with ARM=p6e8 EXTRA_ARM_OPTIONS="--nulling-protect-for expression=8 identity=6" and with
# ARM=p4e8pp EXTRA_ARM_OPTIONS=--nulling-protect-points (each reuses the steps before).
#
#   [PROTOTYPE_WEIGHT=1] [EXTRA_OPTIONS=..] [EXTRA_STEP2_OPTIONS=..] [ARM=p4e8] [LEAK=0.02] [EXTRA_ARM_OPTIONS=..] \
#     train/jobs/fourway_prototype_full.sh [OUT_DIR]      (default runs/fw29)
export OPTIONS="--encoder-channels 32 64 128 256 --encoder-depth 1 --warmup-readout-weight 10 ${EXTRA_OPTIONS:-}"
export STEP2_OPTIONS="--swap-target-weight 6 --factor-probe-weight 20 --factor-probe-columns yaw pitch roll --person-prototype-weight ${PROTOTYPE_WEIGHT:-1} ${EXTRA_STEP2_OPTIONS:-}"
export IDENTITIES=2000 WARMUP=6 AUTOENCODER=0 JOINT=4 ARMS="${ARM:-p4e8}:${LEAK:-0.02}"
export ARM_OPTIONS="--nulling-class-draw 48 --nulling-fill --nulling-keep 0.125 --nulling-protect-directions 4 --nulling-protect-for expression=8 ${EXTRA_ARM_OPTIONS:-}"
exec "$(dirname "$0")/fourway_full.sh" "${1:-runs/fw29}"
