"""The table of a ``bench/fourway_ceiling_grid.sh`` run: each row's own sub-code readings on validation people.

    python bench/fourway_ceiling_table.py OUT_DIR [--out bench/results/fourway_ceiling_grid.json]

Reads every ``OUT_DIR/*.json`` that ``bench/fourway_encoder_capacity.py --sub-codes`` wrote, prints one line per
row (issue 11's bar: every own reading ≥ 0.9) and writes them together, each with the command that made it.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

SHOWN = ("expression", "intensity", "noise", "yaw", "pitch", "background", "light")


def rows_of(folder: Path) -> list[dict]:
    rows = []
    for path in sorted(folder.glob("*.json")):
        result = json.loads(path.read_text())
        if result.get("mode") != "sub-codes":
            continue
        for row in result["rows"]:
            spec = result["training_set"]
            rows.append({"name": path.stem, "people": spec["identities"], "per_identity": spec["per_identity"],
                         "device": result.get("device", "cpu"), "command": result["command"], **row})
    return rows


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("folder")
    p.add_argument("--out", default=None, help="write the rows together here (JSON)")
    args = p.parse_args(argv)
    rows = rows_of(Path(args.folder))
    print(f"{'row':16s} {'trunk':16s} {'d':>2s} {'people x ep':>11s} "
          + " ".join(f"{f[:10]:>10s}" for f in SHOWN) + f" {'other max':>9s} {'int. train':>10s} {'s':>5s}")
    for r in rows:
        own = r["probe_own"]
        trained = r.get("probe_own_training_people", {}).get("intensity", float("nan"))
        print(f"{r['name']:16s} {'-'.join(map(str, r['channels'])) + ('+E' if r.get('energy') else ''):16s} "
              f"{r['depth']:2d} {str(r['people']) + ' x ' + str(r['epochs']):>11s} "
              + " ".join(f"{own[f]:10.3f}" for f in SHOWN)
              + f" {max(r['probe_other_max'].values()):9.3f} {trained:10.3f} {r['seconds']:5.0f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"rows": rows}, indent=1) + "\n")
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
