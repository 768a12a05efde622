#!/bin/bash
# Issue 11's sub-code ceiling (bench/fourway_encoder_capacity.py --sub-codes) for nine trunks at once, one process
# each, on a machine with a GPU and 16 cores (run on a lent H200, 2026-12-04: 3 min). Which trunk reads expression,
# intensity and the pixel noise at 0.9 on validation people, and what does width or depth buy? Every row's JSON
# names its own command, which reruns it alone anywhere (on 2 CPU cores a row takes minutes to an hour).
#
#   bench/fourway_ceiling_grid.sh OUT_DIR [SECONDS]     # SECONDS: each row's wall-clock limit (default 190)
#   python bench/fourway_ceiling_table.py OUT_DIR --out bench/results/fourway_ceiling_grid.json
set -uo pipefail
out=${1:?usage: bench/fourway_ceiling_grid.sh OUT_DIR [SECONDS]}
limit=${2:-190}
mkdir -p "$out"
export OMP_NUM_THREADS=1
# Render the training and validation sets once, on every core, into the cache the rows then read. (`python -c`, not
# a script on stdin: the render's worker processes re-import the main script, and stdin has none. Read from stdin,
# this step failed on the GPU, every row rendered 8,000 people on its own, and none finished in 8 minutes.)
python -c "
import sys; sys.path.insert(0, 'bench')
from fourway_encoder_capacity import TRAIN, VALIDATION
from facelab.synthetic import SyntheticFaces
for spec in ({**TRAIN, 'identities': 2000, 'per_identity': 28}, VALIDATION):
    SyntheticFaces(**spec, with_neutral=False, progress=False)
print('rendered')"
row() {  # row NAME DEPTH CHANNELS... [--energy]
  local name=$1 depth=$2; shift 2
  timeout "$limit" python bench/fourway_encoder_capacity.py --sub-codes --threads 1 --identities 2000 \
    --per-identity 28 --epochs 6 --depth "$depth" --channels "$@" --out "$out/$name.json" > "$out/$name.log" 2>&1 &
}
row w16d1 1 16 32 64 128
row w16d2 2 16 32 64 128
row w16d3 3 16 32 64 128
row w32d1 1 32 64 128 256
row w32d2 2 32 64 128 256
row w32d3 3 32 64 128 256
row w32d2e 2 32 64 128 256 --energy
row w64d2 2 64 128 256 512
row w64d3 3 64 128 256 512
wait
