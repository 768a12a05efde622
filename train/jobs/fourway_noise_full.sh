#!/bin/bash
# The full fourway recipe with the pixel-noise readout back on, then leak nulling (issue 11; synthetic-fourway's
# LIMITS, 2026-12-03, night): the bundle of that night, runs/fw17. The bundle before it dropped the noise readout
# (--readout-skip noise); this reran its three commands without that option, with nulling at the bundle's
# threshold (n20) and at 0.015 (n15). Figures: python train/jobs/fourway_table.py OUT_DIR bundle n20 n15
#
#   train/jobs/fourway_noise_full.sh [OUT_DIR]      (default runs/fw17)
exec "$(dirname "$0")/fourway_full.sh" "${1:-runs/fw17}"
