"""Head pose from five landmarks (facelab/pose.py): its error where the truth is known.

    python bench/pose_estimate.py                 # 400 generator faces, about a minute on one core
    python bench/pose_estimate.py --faces 1000 --size 160

Rows (mean absolute error in degrees of yaw, pitch and roll; ``slope``: least-squares slope of
the estimated yaw against the true one, 1 when the magnitudes are right):

- ``template + noise``: the generic template itself, rotated, projected and jittered by
  ``--noise`` pixels at the faces' eye distance: the estimator's own precision when the face is
  the template's shape;
- ``generator landmarks``: the generator's exact landmark positions (:func:`facelab.synthetic.landmarks`)
  of faces drawn with ``--pose-range``/``--roll-range``, fitted with the generic human template and
  with a template refitted (:func:`facelab.pose.fit_template`) on the other half of the faces;
- ``MTCNN``: facenet-pytorch's MTCNN run on the rendered faces (``--size`` pixels), the landmarks a
  photo would give, with both templates (faces MTCNN misses are counted, not scored).

The generator is a cartoon, not a human head: its features are painted on a shallow ellipsoid, so
they move less with a turn than a real face's, and eye spacing varies between its people by ±10 %,
which a weak-perspective fit confuses with foreshortening. Writes bench/results/pose_estimate.json.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import write_results  # noqa: E402
from facelab.pose import GENERIC_TEMPLATE, estimate_poses, fit_template, project  # noqa: E402
from facelab.synthetic import factor_labels, landmarks, pose_ranges, render_batch, sample_factors  # noqa: E402


def row(name: str, estimate: np.ndarray, truth: np.ndarray, n_faces: int | None = None) -> dict:
    ok = np.isfinite(estimate).all(1)
    err = np.abs(estimate[ok] - truth[ok])
    slope = float(np.polyfit(truth[ok, 0], estimate[ok, 0], 1)[0]) if ok.sum() > 2 else float("nan")
    return {"name": name, "faces": int(n_faces if n_faces is not None else len(truth)), "scored": int(ok.sum()),
            "yaw_mae": float(err[:, 0].mean()), "pitch_mae": float(err[:, 1].mean()),
            "roll_mae": float(err[:, 2].mean()), "yaw_slope": slope,
            "yaw_bias": float((estimate[ok, 0] - truth[ok, 0]).mean()),
            "pitch_bias": float((estimate[ok, 1] - truth[ok, 1]).mean())}


def mtcnn_landmarks(images: np.ndarray) -> np.ndarray:
    """(N, 5, 2) landmarks of the most confident face per image, NaN where MTCNN finds none."""
    from PIL import Image

    from facelab.align import MTCNNDetector

    detector = MTCNNDetector(device="cpu", min_face_size=20)
    out = np.full((len(images), 5, 2), np.nan)
    for i, image in enumerate(images):
        found = detector.detect(Image.fromarray(image))
        if found:
            out[i] = max(found, key=lambda d: d.score).landmarks
    return out


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--faces", type=int, default=400)
    p.add_argument("--size", type=int, default=128, help="render size for MTCNN (pixels)")
    p.add_argument("--pose-range", type=float, default=35.0)
    p.add_argument("--roll-range", type=float, default=15.0)
    p.add_argument("--noise", type=float, default=0.5, help="landmark jitter (pixels) for the template row")
    p.add_argument("--no-mtcnn", action="store_true")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(Path(__file__).parent / "results" / "pose_estimate.json"))
    args = p.parse_args(argv)
    t0 = time.perf_counter()
    rng = np.random.default_rng(args.seed)
    ranges = pose_ranges(args.pose_range, 0.0, args.roll_range)
    factors = sample_factors(args.faces, range(10_000, 10_000 + args.faces), rng, pose=ranges, seed=1)
    truth = factor_labels(factors)["pose"].astype(np.float64)
    half = args.faces // 2
    rows = []

    eye = 0.32 * args.size  # the generator's eye distance at this size, roughly
    scale = eye / (2 * GENERIC_TEMPLATE[1, 0])
    template_pts = np.stack([project(GENERIC_TEMPLATE, *t, scale=scale, translation=(args.size / 2, args.size / 2))
                             for t in truth]) + rng.normal(0, args.noise, (args.faces, 5, 2))
    rows.append(row(f"template + {args.noise:g} px noise", estimate_poses(template_pts), truth))

    exact = np.stack([landmarks(f, args.size) for f in factors])
    rows.append(row("generator landmarks, generic template", estimate_poses(exact[half:]), truth[half:]))
    fitted = fit_template(exact[:half], truth[:half])
    rows.append(row("generator landmarks, template fitted on the generator", estimate_poses(exact[half:], fitted),
                    truth[half:]))
    result = {"faces": args.faces, "size": args.size, "pose_ranges_deg": list(ranges), "noise_px": args.noise,
              "generic_template": GENERIC_TEMPLATE.tolist(), "generator_template": fitted.tolist()}

    if not args.no_mtcnn:
        images = render_batch(factors, args.size)
        detected = mtcnn_landmarks(images)
        found = np.isfinite(detected).all(axis=(1, 2))
        result["mtcnn_detected"] = float(found.mean())
        rows.append(row("MTCNN, generic template", estimate_poses(detected[half:]), truth[half:]))
        mtcnn_fitted = fit_template(detected[:half], truth[:half])
        result["mtcnn_generator_template"] = mtcnn_fitted.tolist()
        rows.append(row("MTCNN, template fitted on the generator", estimate_poses(detected[half:], mtcnn_fitted),
                        truth[half:]))
        offset = np.linalg.norm(detected - exact, axis=2)[found]
        result["mtcnn_landmark_error_px"] = float(offset.mean())

    result["rows"] = rows
    result["wall_time_s"] = round(time.perf_counter() - t0, 1)
    print(f"{args.faces} generator faces, yaw ±{ranges[0]:g}°, pitch ±{ranges[1]:g}°, roll ±{ranges[2]:g}°; "
          f"scored on the second half where a template is fitted on the first")
    print(f"{'':<55} {'faces':>6} {'yaw MAE':>8} {'pitch MAE':>9} {'roll MAE':>8} {'yaw slope':>9}")
    for r in rows:
        print(f"{r['name']:<55} {r['scored']:>6} {r['yaw_mae']:>7.2f}° {r['pitch_mae']:>8.2f}° "
              f"{r['roll_mae']:>7.2f}° {r['yaw_slope']:>9.2f}")
    if "mtcnn_detected" in result:
        print(f"MTCNN found a face in {result['mtcnn_detected']:.1%} of the renders; its landmarks are "
              f"{result['mtcnn_landmark_error_px']:.2f} px from the generator's on average ({args.size} px images)")
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
