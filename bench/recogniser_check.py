"""Is dlib's face recogniser a valid judge of 64-px facelab crops? Measures the fixed chip and checks it.

    python bench/recogniser_check.py [--data ../shared/data/london] [--size 64] [--threads 1]
                                     [--out bench/results/recogniser_check.json]

On every photo of the London set (102 people neutral + smiling, 40 Canada people neutral), aligned
by facelab (MTCNN, default 5-point template) to ``--size`` px, the script

1. measures where dlib's own pipeline puts its 150-px chip on these crops: the crop upscaled to
   256 px, dlib's HOG detector box (or the whole crop when it finds nothing), its 5-point shape
   predictor, ``get_face_chip_details(shape, 150, 0.25)``; median and spread of the chip box as
   fractions of the crop side (``facelab.recogniser.CHIP_BOX`` holds the median);
2. checks identification with :func:`facelab.recogniser.descriptors` (that fixed chip): each view
   of a person with two views, its nearest other view by descriptor distance (leave-one-out) is
   the same person — over all people and over the 29 people real-disvae held out; the same with
   dlib's per-image landmark pipeline for comparison; same-person vs different-person distances;
3. checks :func:`facelab.recogniser.face_found` on the views;
4. calibrates: each view degraded (downscaled to 32 / 16 px and back, or made grey) and identified
   among the sharp views (its own included) — the protocol ``train.evaluate --recogniser`` applies
   to reconstructions — so a reconstruction's figure can be read against known degradations;
5. shows why face finding scans several upscalings: on ``--checkpoint``'s reconstructions of its
   held-out people, the rate at each single side and for the union (:data:`FIND_SIDES`, plus 128 and
   320 px), and on 200 smoothed-noise images (false positives).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run as a script from anywhere

import numpy as np  # noqa: E402
from PIL import Image  # noqa: E402

from common import write_results  # noqa: E402  (bench/ is on sys.path when run as a script)


def main(argv=None) -> dict:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data", default=str(ROOT.parent / "shared" / "data" / "london"))
    p.add_argument("--size", type=int, default=64)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--checkpoint", default=str(ROOT / "checkpoints" / "real-disvae"),
                   help="photo model whose held-out reconstructions test the face finder ('' to skip)")
    p.add_argument("--out", default=str(ROOT / "bench" / "results" / "recogniser_check.json"))
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(args.threads)
    from facelab import datasets
    from facelab import recogniser as R

    t0 = time.perf_counter()
    ds = datasets.load([f"london:{args.data}"], size=args.size, progress=False)
    views = np.stack([ds.image_array(i) for i in range(len(ds))])
    people = np.array([r.identity for r in ds.records])
    held_out = np.zeros(len(ds), bool)
    held_out[datasets.training_splits(ds, 0.2, 0.0, seed=0)["test"]] = True  # real-disvae's test people
    two = np.array([(people == p).sum() >= 2 for p in people])

    # 1. dlib's own chip on these crops
    dlib, net, detector = R._dlib()
    predictor = dlib.shape_predictor(str(R.model_files() / "shape_predictor_5_face_landmarks.dat"))
    side = 256
    boxes, landmark_desc = [], []
    t = time.perf_counter()
    for im in views:
        big = np.ascontiguousarray(np.asarray(Image.fromarray(im).resize((side, side), Image.Resampling.BICUBIC)))
        found = detector(big, 0)
        rect = found[0] if len(found) else dlib.rectangle(0, 0, side - 1, side - 1)
        shape = predictor(big, rect)
        chip = dlib.get_face_chip_details(shape, R.CHIP_SIZE, 0.25)
        r = chip.rect
        boxes.append([r.left() / side, r.top() / side, r.right() / side, r.bottom() / side, np.degrees(chip.angle)])
        landmark_desc.append(np.asarray(net.compute_face_descriptor(big, shape)))
    landmark_s = time.perf_counter() - t
    boxes = np.asarray(boxes)
    landmark_desc = np.asarray(landmark_desc, dtype=np.float32)

    # 2. identification with the fixed chip
    t = time.perf_counter()
    desc = R.descriptors(views)
    descriptor_s = (time.perf_counter() - t) / len(views)

    def loo_top1(d: np.ndarray, mask: np.ndarray) -> float:
        sub, who = d[mask], people[mask]
        dist = R.distances(sub, sub)
        np.fill_diagonal(dist, np.inf)
        ok = who[dist.argmin(1)] == who
        counted = np.array([(who == w).sum() >= 2 for w in who])
        return float(ok[counted].mean())

    dist = R.distances(desc, desc)
    same = people[:, None] == people[None]
    off = ~np.eye(len(people), dtype=bool)
    t = time.perf_counter()
    found = R.face_found(views)
    find_s = (time.perf_counter() - t) / len(views)

    # 4. calibration: degraded views identified among the sharp ones (own view included)
    def degrade(kind: str) -> np.ndarray:
        if kind == "grey":
            g = np.asarray([np.asarray(Image.fromarray(v).convert("L").convert("RGB")) for v in views])
            return g
        small = int(kind)
        return np.asarray([np.asarray(Image.fromarray(v).resize((small, small), Image.Resampling.BICUBIC)
                                      .resize((args.size, args.size), Image.Resampling.BICUBIC)) for v in views])

    calibration = {}
    for kind in ("32", "16", "grey"):
        d = R.descriptors(degrade(kind))
        nn = R.nearest(d, desc)
        calibration[f"{kind}px" if kind != "grey" else "grey"] = {
            "identified_all": float((people[nn] == people).mean()),
            "identified_held_out": float((people[nn] == people)[held_out].mean()),
            "face_found": float(R.face_found(degrade(kind)).mean()),
            "mean_distance_to_own_view": float(np.linalg.norm(d - desc, axis=1).mean()),
        }

    # 5. face finding: single sides vs the union, on a model's blurry reconstructions and on noise
    finding = {}
    rng = np.random.default_rng(0)
    noise = [np.asarray(Image.fromarray(rng.integers(0, 255, (8, 8, 3), dtype=np.uint8))
                        .resize((args.size, args.size), Image.Resampling.BICUBIC)) for _ in range(200)]
    finding["noise_union"] = float(R.face_found(noise).mean())
    if args.checkpoint:
        import facelab
        from facelab.face_model import join_codes

        model = facelab.load(args.checkpoint)
        x = torch.as_tensor(views[held_out].transpose(0, 3, 1, 2).astype(np.float32) / 255)
        recon = model.decode_tensor(join_codes(model.encode_tensor(x), model.config.latents)).numpy()
        for sides in ((128,), (160,), (192,), (224,), (256,), (320,), R.FIND_SIDES, (128, *R.FIND_SIDES, 320)):
            finding["recon_" + "+".join(map(str, sides))] = float(R.face_found(recon, sides).mean())
        finding["checkpoint"] = args.checkpoint

    result = {
        "data": args.data, "size": args.size, "n_views": int(len(views)), "n_people": int(len(set(people))),
        "n_views_of_people_with_two": int(two.sum()), "held_out_views": int(held_out.sum()),
        "held_out_people": int(len(set(people[held_out]))),
        "chip_box_median": [round(float(v), 4) for v in np.median(boxes[:, :4], 0)],
        "chip_box_std": [round(float(v), 4) for v in boxes[:, :4].std(0)],
        "chip_angle_deg_median": float(np.median(boxes[:, 4])), "chip_angle_deg_std": float(boxes[:, 4].std()),
        "chip_box_used": list(R.CHIP_BOX),
        "identified_loo_all": loo_top1(desc, np.ones(len(people), bool)),
        "identified_loo_held_out": loo_top1(desc, held_out),
        "identified_loo_all_landmark_pipeline": loo_top1(landmark_desc, np.ones(len(people), bool)),
        "identified_loo_held_out_landmark_pipeline": loo_top1(landmark_desc, held_out),
        "fixed_vs_landmark_distance_mean": float(np.linalg.norm(desc - landmark_desc, axis=1).mean()),
        "same_person_distance_mean": float(dist[same & off].mean()),
        "different_person_distance_mean": float(dist[~same].mean()),
        "same_person_below_0.6": float((dist[same & off] < R.SAME_PERSON_DISTANCE).mean()),
        "different_person_below_0.6": float((dist[~same] < R.SAME_PERSON_DISTANCE).mean()),
        "face_found_views": float(found.mean()),
        "calibration_degraded_views": calibration,
        "face_finding_by_side": finding,
        "descriptor_ms_per_image": round(descriptor_s * 1e3, 1),
        "face_found_ms_per_image": round(find_s * 1e3, 1),
        "landmark_pipeline_ms_per_image": round(landmark_s / len(views) * 1e3, 1),
        "wall_time_s": round(time.perf_counter() - t0, 1),
        "threads": args.threads, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, {platform.system()}",
        "command": "python bench/recogniser_check.py " + " ".join(argv if argv is not None else sys.argv[1:]),
    }
    for k, v in result.items():
        print(f"{k}: {v}")
    write_results(result, args.out)
    return result


if __name__ == "__main__":
    main()
