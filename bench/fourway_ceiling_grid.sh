#!/bin/bash
# Issue 11's sub-code ceiling (bench/fourway_encoder_capacity.py --sub-codes) for many trunks and training sets at
# once, one process each, on a machine with a GPU and 16 cores (run on a lent H200, 2026-12-04). Which trunk can
# read expression, intensity and the pixel noise at 0.9 on validation people, and does more data or more
# depth/width get it there? Every row's JSON names its own command, which reruns it alone anywhere.
#
#   bench/fourway_ceiling_grid.sh OUT_DIR [SECONDS]     # SECONDS: each row's wall-clock limit (default 480)
#   python bench/fourway_ceiling_table.py OUT_DIR        # the table
set -uo pipefail
out=${1:?usage: bench/fourway_ceiling_grid.sh OUT_DIR [SECONDS]}
limit=${2:-480}
mkdir -p "$out"
export OMP_NUM_THREADS=1
# render each training set once, on every core, into the cache the rows then read
python - <<'EOF'
import sys
sys.path.insert(0, "bench")
from fourway_encoder_capacity import TRAIN, VALIDATION
from facelab.synthetic import SyntheticFaces
for spec in ({**TRAIN, "identities": 8000, "per_identity": 28}, {**TRAIN, "identities": 2000, "per_identity": 28},
             {**TRAIN, "identities": 1000, "per_identity": 28}, VALIDATION):
    SyntheticFaces(**spec, with_neutral=False, progress=False)
    print("rendered", spec, flush=True)
EOF
row() {  # row NAME IDENTITIES EPOCHS DEPTH CHANNELS... [--energy]
  local name=$1 people=$2 epochs=$3 depth=$4; shift 4
  timeout "$limit" python bench/fourway_encoder_capacity.py --sub-codes --threads 1 --identities "$people" \
    --per-identity 28 --epochs "$epochs" --depth "$depth" --channels "$@" --out "$out/$name.json" \
    > "$out/$name.log" 2>&1 &
}
row w16d0_8000x4 8000 4 0 16 32 64 128
row w16d1_8000x4 8000 4 1 16 32 64 128
row w16d2_8000x4 8000 4 2 16 32 64 128
row w16d3_8000x4 8000 4 3 16 32 64 128
row w32d0_8000x4 8000 4 0 32 64 128 256
row w32d1_8000x4 8000 4 1 32 64 128 256
row w32d2_8000x4 8000 4 2 32 64 128 256
row w32d2e_8000x4 8000 4 2 32 64 128 256 --energy
row w32d3_8000x4 8000 4 3 32 64 128 256
row w16d2_8000x8 8000 8 2 16 32 64 128
row w64d2_8000x4 8000 4 2 64 128 256 512
row w16d1_2000x16 2000 16 1 16 32 64 128
row w16d2_2000x16 2000 16 2 16 32 64 128
row w16d1_1000x8 1000 8 1 16 32 64 128   # the CPU row of 2026-12-03 (0.931 / 0.819 / 0.934), again on the GPU
wait
