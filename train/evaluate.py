"""Evaluate a checkpoint on a labelled dataset; print a table, write JSON and plots, optionally the card.

    python -m train.evaluate --checkpoint checkpoints/synthetic-disvae --card
    python -m train.evaluate --checkpoint checkpoints/synthetic-disvae --data ckplus:../shared/data/ckplus \\
        --folds 10 --out ckplus-10fold.json

Without ``--folds`` the checkpoint itself is scored on people it has not seen (the held-out part of
its training data, or the default held-out synthetic people). With ``--folds K`` the
subject-independent K-fold protocol runs on the whole ``--data`` set (GroupKFold by identity: no
person in both train and test of a fold): the checkpoint's method is trained from scratch per fold
with the checkpoint's training settings and method options (``--fold-epochs``/``--max-steps``
override them), or fine-tuned from ``--init CHECKPOINT`` (DisVAE: stage 1 skipped), and every figure
is reported as mean ± std over the folds, with per-fold progress and the wall time printed. This is
how published tables (e.g. 10-fold CK+) are matched.

JSON keys (flat; rates in [0, 1]):
  expression_accuracy            the model's own classifier on z_exp (accuracy)
  expression_balanced_accuracy   same, mean per-class recall
  expression_probe_accuracy      fresh linear probe on z_exp, identity-disjoint split
  leakage_<attr>_accuracy        expression read off sub-code <attr> (every sub-code but expression's)
                                 by a linear probe (identity-disjoint split)
  leakage_<attr>_mlp_accuracy    same with a small MLP probe (one hidden layer of 64)
  leakage_accuracy               the worst (highest) leakage_<attr>_accuracy; leakage_mlp_accuracy likewise
  majority_rate                  share of the majority class in the probes' test part (chance level)
  identity_auc                   identity verification ROC AUC, cosine similarity of z_id
  identity_auc_<attr>_code       same from each other sub-code, e.g. identity_auc_expression_code (ideally ~0.5)
  identity_top1                  share of images whose nearest other image (cosine of z_id, leave-one-out
                                 over the evaluated set) is the same person; identity_top1_chance: a random one's
  rmse, psnr, ssim               reconstruction of the inputs (psnr in dB)
  confusion                      row-normalised confusion matrix (rows: true, columns: predicted
                                 class, in the checkpoint's expression order)
  confusion_counts               the same as raw counts
  n_images                       images evaluated
  on the synthetic generator also:
  swap_expression_accuracy       share of swaps (A's identity + B's expression, B's class ≠ A's) whose
                                 re-encoded expression code the model classifies as B's expression
  noswap_expression_accuracy     the same for A's unchanged reconstruction (the baseline)
  swap_identity_kept             share of swaps (A, B different people) whose re-encoded z_id is closer
                                 (cosine) to A's z_id than to B's; noswap_identity_kept: same for A's
                                 unchanged reconstruction (the baseline)
  swap_rmse, swap_psnr           decode(A's identity + B's expression) vs the true render
  noswap_rmse, noswap_psnr       A's reconstruction, unchanged, vs that target (the swap should beat it)
  render_noswap_psnr             A's render itself vs that target
  swap_psnr_gain                 swap_psnr − noswap_psnr
  photo_swap_psnr, photo_swap_psnr_gain
                                 the same swap drawn on A's render (facelab.photo_layer, the app's
                                 "Show edits on the photo"): PSNR vs the target, and its gain over
                                 render_noswap_psnr (A's render unchanged)
  photo_swap_read_as_b, photo_swap_identity_kept
                                 that drawn swap re-encoded: classified as B's expression, and its
                                 z_id closer to A's than to B's (as swap_expression_accuracy and
                                 swap_identity_kept for the decoded swap)
  recon_rmse, recon_psnr         the model's own reconstruction error on A; swap_pairs (count)
  mig, sap                       MIG and SAP of the full code against the generator factors
  dci_disentanglement, dci_completeness, dci_informativeness
  dci_importance                 the DCI importance matrix (code dimensions × factors)
  dimensions, factors            its row labels (identity[0], ...) and column labels
with --folds, every figure F above becomes:
  F_mean, F_std                  mean and sample std (ddof=1) over the folds
  (confusion/confusion_counts are pooled over all folds' test images; dci_importance is fold
  dci_importance_fold's (the first), as separately trained models' dimensions do not correspond)
  folds                          one object per fold: fold, n_train, n_test, n_train_identities,
                                 n_test_identities, test_identities (the held-out people),
                                 train_time_s, eval_time_s and that fold's figures
  k, fold_seed, n_identities, init (bool), fold_time_s_mean
  fold_training                  the per-fold training settings: stage_epochs (the method's epoch options;
                                 null for a stage a fine-tune skips), batch_size, max_steps, init checkpoint
metadata: data, checkpoint, method, mirror_expression and refine (the settings evaluated), command, title, description, wall_time_s, and plots (name →
{html, png, caption}; paths relative to the JSON file's folder).

With ``--recogniser`` (photo models) the outputs are judged by an independent face recogniser, dlib's
ResNet face descriptor and HOG face detector (``facelab.recogniser``; needs ``dlib-bin`` and
``face-recognition-models``, a training/evaluation dependency only), on the checkpoint's held-out
people of its identity-labelled data (or ``--data`` it never saw), and FER2013's test split when
the checkpoint's data or ``--data`` include FER2013:

    python -m train.evaluate --checkpoint checkpoints/real-disvae --recogniser --card

writes ``evaluation-recogniser.json`` (keys: ``facelab.photo_eval``'s docstring: recon_identified,
view_identified, recon_face_found, psnr, colour_kept, swap_identified_as_a, swap_expression_accuracy,
slider_end_face_found, fer2013_balanced100_accuracy, fer2013_test_accuracy, ...) and its card section.

Plots (--plots DIR; default <checkpoint>/plots with --card, file names prefixed by --name or
"<K>fold-"): confusion (confusion matrix), traversal-<attribute> (a traversal grid per
sub-vector: its top 6 dimensions by variance × 7 values from the low end of each dimension's range
through the mean to its high end (the app's slider range, ``FaceModel.code_bounds``),
for one evaluated face — held out unless --folds — decoded by the checkpoint; for photo models the
mean training code instead, in one unprefixed file that every evaluation shares), dci-importance
(DCI heatmap, synthetic data only); each as .html (loading plotly.min.js from the same folder)
and .png (kaleido + Chrome/Chromium; skipped with a note when missing; traversal grids are
written with PIL).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import shlex
import sys
import time
from pathlib import Path

import numpy as np
import torch

import facelab
from facelab import datasets
from facelab.card import format_value, rows_for, write_card
from facelab.config import ConfigError, ModelConfig, TrainConfig
from facelab.face_model import Code
from facelab.evaluate import (
    attribute_scores,
    cross_validate,
    disentanglement_scores,
    encode_dataset,
    representation_scores,
    swap_fidelity,
    synthetic_view,
)
from train.configure import add_refine_arguments, refine_setting


# New people: identity seed space 1 never appears in training (which uses space 0).
HELD_OUT_SYNTHETIC = "synthetic:identities=48,per_identity=28,identity_seed=1,seed=1,min_intensity=0.25"
TRAVERSAL_DIMS, TRAVERSAL_STEPS = 6, 7


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--checkpoint", required=True, help="checkpoint directory or bundled name")
    p.add_argument("--data", action="append", default=None,
                   help="NAME[:PATH][?options]; repeat to mix (default: held-out synthetic identities)")
    p.add_argument("--out", default=None, help="JSON file (default: <checkpoint>/evaluation.json with --card)")
    p.add_argument("--card", action="store_true",
                   help="save as <checkpoint>/evaluation[-NAME].json and regenerate the README.md model card")
    p.add_argument("--name", default=None,
                   help="section name for --card (e.g. fer2013-test; default with --folds: <K>fold)")
    p.add_argument("--split", choices=("test", "val", "train", "all"), default="test",
                   help="which part of the checkpoint's split to evaluate: test (held out), val (kept out of "
                        "training with --validation, for choices made before looking at test), train, all "
                        "(default: test; ignored with --folds)")
    p.add_argument("--holdout", type=float, default=None,
                   help="held-out identity fraction (default: the checkpoint's training holdout; 0 = all data; "
                        "ignored with --folds)")
    p.add_argument("--mirror-expression", action=argparse.BooleanOptionalAction, default=None,
                   help="evaluate with z_exp averaged over the face and its mirror image on (or off), whatever "
                        "the checkpoint's config says (default: the checkpoint's setting)")
    add_refine_arguments(p)  # evaluate a refine setting without writing it into the checkpoint
    p.add_argument("--folds", type=int, default=None, metavar="K",
                   help="subject-independent K-fold cross-validation on the whole --data set, training per fold")
    p.add_argument("--init", default=None, metavar="CHECKPOINT",
                   help="with --folds: fine-tune every fold from this pre-trained checkpoint (DisVAE: stage 1 skipped)")
    p.add_argument("--fold-epochs", type=int, default=None, metavar="N",
                   help="with --folds: N training epochs per fold in all, split between the method's stages in the "
                        "checkpoint's ratio (all N to the last stage with --init); default: the checkpoint's epochs")
    p.add_argument("--max-steps", type=int, default=None,
                   help="with --folds: at most this many steps per stage and fold (smoke tests)")
    p.add_argument("--swap-pairs", type=int, default=256,
                   help="(A, B) pairs for the swap figures on synthetic data (per fold with --folds), and for "
                        "--recogniser's swaps (all pairs when there are fewer)")
    p.add_argument("--recogniser", action="store_true",
                   help="photo models: judge reconstructions, expression swaps and slider edits with dlib's face "
                        "recogniser on held-out people, plus FER2013 test accuracy (100 per class and all); "
                        "--card saves evaluation-recogniser.json. Needs dlib-bin + face-recognition-models")
    p.add_argument("--fer-per-class", type=int, default=100,
                   help="with --recogniser: FER2013 test faces per class for the balanced accuracy (default 100)")
    p.add_argument("--plots", default=None, metavar="DIR",
                   help="write plots (HTML + PNG) here (default: <checkpoint>/plots with --card)")
    p.add_argument("--no-png", action="store_true", help="write the plots as HTML only")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads (default: torch's choice)")
    p.add_argument("--seed", type=int, default=0, help="seed of the probes, pair sampling and fold assignment")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    return p.parse_args(argv)


def _jsonable(v):
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, (np.floating, np.integer)):
        return v.item()
    if isinstance(v, Path):
        return str(v)
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    return v


def write_json(path: Path, figures: dict) -> None:
    """Write ``figures`` whole or raise: through a temporary file, so a failed write leaves no half file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(json.dumps(_jsonable(figures), indent=2) + "\n")
    os.replace(tmp, path)


def print_table(figures: dict) -> None:
    rows = rows_for(figures)
    width = max(len(label) for _, label, _ in rows)
    if "folds" in figures:
        print(f"{'':<{width}}  mean ± std over {figures['k']} folds")
    for key, label, fmt in rows:
        text = format_value(figures, key, fmt)
        if text is not None:
            print(f"{label:<{width}}  {text}")


def epoch_fields(options) -> list[str]:
    """The options' stage-epoch fields (int fields ending in ``epochs``: ``epochs``, or DisVAE's
    ``identity_epochs`` and ``disvae_epochs``), in stage order."""
    return [f.name for f in dataclasses.fields(options)
            if f.name.endswith("epochs") and isinstance(getattr(options, f.name), int)]


def split_epochs(options, total: int, weights: dict[str, float] | None = None, minimum: int = 1):
    """``options`` with ``total`` epochs split over its epoch fields in proportion to ``weights``
    (default: the options' own values): each field but the last gets the floor (at least
    ``minimum``; 0 where its weight is 0), the last the rest, so every method sees the same number of
    passes over the data."""
    fields = epoch_fields(options)
    if not fields:
        raise ValueError(f"{type(options).__name__} has no epoch options to set")
    weights = weights or {f: getattr(options, f) for f in fields}
    share = sum(weights.get(f, 0) for f in fields) or 1
    # a stage the weights leave out (an optional stage set to 0) stays out
    epochs = {f: max(minimum, int(total * weights.get(f, 0) // share)) if weights.get(f, 0) > 0 else 0
              for f in fields[:-1]}
    epochs[fields[-1]] = max(minimum, total - sum(epochs.values()))
    return dataclasses.replace(options, **epochs)


def fold_train_config(model_config: ModelConfig, training: TrainConfig | None, specs, fold_epochs: int | None,
                      max_steps: int | None, init: bool) -> tuple[ModelConfig, TrainConfig]:
    """The checkpoint's settings for one fold: its data specs, no holdout, and ``fold_epochs`` in all
    split over the method's stages in the checkpoint's ratio (with ``init``, all to the last stage:
    a fine-tune skips DisVAE's identity pre-training, and the other methods have one stage)."""
    config = dataclasses.replace(training or TrainConfig(), data=tuple(specs), holdout=0.0)
    options = model_config.options
    if fold_epochs is not None:
        if fold_epochs < 1:
            raise SystemExit("--fold-epochs must be at least 1")
        if init:
            options = dataclasses.replace(options, **{epoch_fields(options)[-1]: fold_epochs})
        else:
            options = split_epochs(options, fold_epochs)
    if max_steps is not None:
        config = dataclasses.replace(config, max_steps=max_steps)
    return dataclasses.replace(model_config, options=options), config


def stage_epochs(options, init: bool) -> dict[str, int | None]:
    """Epochs per stage field, ``None`` for the stages a fine-tune skips."""
    fields = epoch_fields(options)
    return {f: (None if init and f != fields[-1] else getattr(options, f)) for f in fields}


def make_plots(model, figures: dict, dataset, directory: Path, prefix: str, png: bool = True) -> dict:
    """Confusion matrix, a traversal grid per sub-vector (one face of ``dataset``, decoded by
    ``model``) and, with DCI figures, the importance heatmap; → {name: {html, png, caption}}."""
    from facelab import plots

    directory.mkdir(parents=True, exist_ok=True)
    stem = lambda name: directory / f"{prefix}{name}"  # noqa: E731
    made, figs = {}, []
    if figures.get("confusion") is not None:
        pooled = f"pooled over {figures['k']} folds, " if "folds" in figures else ""
        n = int(np.asarray(figures.get("confusion_counts", 0)).sum())
        caption = f"Expression confusion matrix, the model's classifier on z_exp ({pooled}{n} images)"
        figs.append(("confusion", caption, plots.confusion_figure(
            figures["confusion"], model.expressions, title=caption, counts=figures.get("confusion_counts"))))
    if figures.get("dci_importance") is not None:
        caption = "DCI importance of each code dimension for each generator factor" + (
            f" (fold {figures['dci_importance_fold']}'s model on its held-out people)" if "folds" in figures else "")
        figs.append(("dci-importance", caption, plots.importance_figure(
            figures["dci_importance"], figures["dimensions"], figures["factors"], title=caption)))
    if figures.get("probe_matrix") is not None:
        caption = "Each factor read from each sub-code by a linear probe (0 = chance, 1 = perfect)"
        figs.append(("probe-matrix", caption, plots.probe_figure(
            figures["probe_matrix"], figures["probe_factors"], figures["probe_codes"], title=caption)))
    for (name, caption, _), saved in zip(figs, plots.save_figures([(f, stem(n)) for n, _, f in figs], png=png)):
        made[name] = {**saved, "caption": caption}

    if synthetic_view(dataset) is not None:  # a rendered, held-out generator face
        image = torch.as_tensor(dataset[0]["image"])[None]
        code = Code({k: v[0] for k, v in model.encode_tensor(image).items()})
        source, traversal_stem = "one evaluated face", stem
    else:  # photos: traverse the mean code, so no real person's face is decoded into the repository
        code = Code({name: model.code_range(name)[0] for name in model.attributes})
        # The mean code does not depend on the evaluated data: every evaluation shares one file.
        source, traversal_stem = "the mean training code", (lambda name: directory / name)
    positions = np.linspace(-1.0, 1.0, TRAVERSAL_STEPS)
    columns = ["low end" if p == -1 else "high end" if p == 1 else "mean" if abs(p) < 1e-9 else f"{p:+.2f}"
               for p in positions]
    for attribute in model.attributes:
        dims = model.top_dimensions(attribute, TRAVERSAL_DIMS)
        values = np.stack([plots.traversal_values(model, attribute, d, TRAVERSAL_STEPS) for d in dims])
        grid = plots.traversal_grid(model, code, attribute, dims, values)
        rows = [f"{attribute}[{d}]" for d in dims]
        caption = (f"{attribute} traversals of {source} by this checkpoint: rows {', '.join(rows)} "
                   f"(top {len(dims)} by variance); columns from the low end of each dimension's range to the "
                   f"high end, the mean in the middle (the app's slider range: {model.bounds_source})")
        name = f"traversal-{attribute}"
        html = plots.save_figures([(plots.traversal_figure(grid, rows, columns, title=f"{attribute} traversals"),
                                    traversal_stem(name))], png=False)[0]["html"]
        made[name] = {"html": html, "png": plots.save_image(grid, traversal_stem(name)), "caption": caption}
    return made


def _relative(plots: dict, base: Path | None) -> dict:
    def rel(p):
        if p is None:
            return None
        return os.path.relpath(p, base) if base is not None else str(p)

    return {name: {"html": rel(v["html"]), "png": rel(v["png"]), "caption": v["caption"]} for name, v in plots.items()}


def _same_data(a: str, b: str) -> bool:
    """Two ``--data`` specs name the same dataset: same loader and options, wherever its folder is.

    The path is not compared: a checkpoint trained on a copy (``.devdata/london``, made for a lent GPU
    machine) and evaluated on the original (``../shared/data/london``) saw those people, and taking
    the original for unseen data would score training people as new ones. Another folder in the
    same layout is at worst split as if seen, which only holds more people out."""
    (na, _, oa), (nb, _, ob) = datasets.parse_data_arg(a), datasets.parse_data_arg(b)
    return na == nb and dict(oa) == dict(ob)


def _is_fer2013(spec: str) -> bool:
    return datasets.parse_data_arg(spec)[0] == "fer2013"


def evaluate_recogniser(args, argv, model, t0: float) -> dict:
    """``--recogniser``: the photo figures of :mod:`facelab.photo_eval` on unseen faces, and FER2013 test."""
    from facelab.photo_eval import fer2013_scores, recogniser_scores

    training = model.training
    specs = list(args.data or (training.data if training else []))
    if not args.data and specs and all(s.startswith("synthetic") for s in specs) and not training.holdout:
        specs = [HELD_OUT_SYNTHETIC]  # generator data with no held-out people: brand-new generator people
    if not specs:
        raise SystemExit("--recogniser needs --data (aligned photos with person labels): the checkpoint records none")
    fer_specs = [s for s in specs if _is_fer2013(s)]
    face_specs = [s for s in specs if not _is_fer2013(s)]
    if not face_specs:
        raise SystemExit("--recogniser needs photos with person labels in --data (e.g. london:../shared/data/london)")
    trained_on = list(training.data) if training else []
    seen = [s for s in face_specs if any(_same_data(s, t) for t in trained_on)]
    size = model.config.image_size
    holdout = args.holdout if args.holdout is not None else (training.holdout if training else 0.0)
    if seen and args.split != "all":
        if args.split == "val" and training.validation == 0:
            raise SystemExit(f"{args.checkpoint} was trained without --validation: it has no validation split")
        if holdout == 0 and args.split == "test":
            raise SystemExit(f"{args.checkpoint} was trained on every image of {', '.join(seen)} (no --holdout): "
                             "nothing held out; pass --data with photos it never saw")
        if len(seen) != len(face_specs):
            raise SystemExit(f"mix of data the checkpoint trained on ({', '.join(seen)}) and data it did not: "
                             "evaluate them separately")
    faces = datasets.load(face_specs, size=size, progress=not args.quiet,
                          align_config=model.align_config() if model.config.align is not None else None)
    split_note = "as given"
    if seen:
        validation = training.validation
        if args.split != "all":
            ours = [t for t in trained_on if not _is_fer2013(t)]
            if len(ours) != len(face_specs) or not all(_same_data(a, b) for a, b in zip(face_specs, ours)):
                print("warning: the held-out people are recomputed on the given --data alone; they match training's "
                      f"split only when it is the identity-labelled part of the training data ({', '.join(ours)})",
                      file=sys.stderr)
            split = datasets.training_splits(faces, holdout, validation, seed=training.seed)
            faces = torch.utils.data.Subset(faces, split[args.split])
            split_note = {"test": "the people the checkpoint held out of training: identity-disjoint split, "
                                  f"holdout {holdout}, seed {training.seed}",
                          "val": "the validation people, kept out of training",
                          "train": "training people (not unseen)"}[args.split]
        else:
            split_note = "all images, training people included (not unseen)"
    else:
        split_note = "a dataset the checkpoint was not trained on"
    if len(faces) == 0:
        raise SystemExit(f"nothing to evaluate: the {args.split} split of {', '.join(face_specs)} is empty")
    print(f"evaluating {model.directory} with the recogniser on {len(faces)} images from {', '.join(face_specs)} "
          f"({split_note})")
    t1 = time.perf_counter()
    figures = recogniser_scores(model, faces, n_pairs=args.swap_pairs, seed=args.seed, progress=not args.quiet)
    figures["recogniser_time_s"] = round(time.perf_counter() - t1, 1)
    fer_note = ""
    if fer_specs:
        t1 = time.perf_counter()
        fer = datasets.load(fer_specs, size=size, progress=not args.quiet)
        _, test = datasets.identity_split(fer, test_size=0.2, seed=0)  # no person labels: the official split
        figures.update(fer2013_scores(model, torch.utils.data.Subset(fer, test), per_class=args.fer_per_class,
                                      seed=args.seed, progress=not args.quiet))
        figures["fer2013_time_s"] = round(time.perf_counter() - t1, 1)
        fer_note = (f" FER2013 (`{'`, `'.join(fer_specs)}`): the model's expression classifier on z_exp over the "
                    f"official test split ({figures['fer2013_test_n']} images, PublicTest + PrivateTest) and on "
                    f"{args.fer_per_class} random test faces per class (seed {args.seed}).")
    figures["data"] = face_specs + fer_specs
    figures["checkpoint"] = str(model.directory)
    figures["method"] = model.config.method
    from facelab import recogniser

    description = (
        f"Judged by an independent face recogniser, dlib's ResNet face descriptor (99.4 % on LFW) and its HOG "
        f"face detector (`facelab.recogniser`), on {figures['n_images']} aligned photos of {figures['n_people']} "
        f"people from `{'`, `'.join(face_specs)}` ({split_note}). A face is identified as the person of its "
        f"nearest aligned view by descriptor distance, among all {figures['n_images']} views (chance "
        f"{figures['recon_identified_chance']:.1%}); descriptors come from one fixed 150-px chip of each 64-px crop "
        f"(where dlib's own landmark pipeline puts it on facelab-aligned crops: `bench/recogniser_check.py`); faces "
        f"count as found when dlib's detector finds one on the crop upscaled to any of "
        f"{', '.join(map(str, recogniser.FIND_SIDES))} px. The ceilings are the recogniser on the "
        f"aligned views themselves. Expression accuracy: the model's classifier on z_exp of these faces "
        f"themselves (the baseline for reading B's expression on a swap). Swaps: {figures.get('swap_pairs', 0)} (A, B) pairs of different people with "
        f"different expression labels, decoded with A's codes and B's expression code. Sliders: each of the app's "
        f"{len(figures.get('sliders', []))} expression sliders set to either end of its range (the "
        f"{figures.get('slider_range', model.bounds_source)}), one at a time, on every face "
        f"({figures.get('slider_ends', 0)} edited faces). On the photo: the same swaps and slider ends shown "
        f"with `facelab.photo_layer` (the app's *Show edits on the photo*: the photo's own detail kept where the "
        f"edit leaves the picture unchanged and the person the same; its settings chosen on London validation "
        f"people, `python bench/photo_layer.py`), and identity swaps (A with B's z_id) identified as B with and "
        f"without it. Colour: mean HSV saturation, reconstructions "
        f"over views, on the {figures['n_colour_images']} colour views.{fer_note}")
    description += settings_note(figures, model)
    command = "python -m train.evaluate " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    name = args.name or "recogniser"
    figures["wall_time_s"] = round(time.perf_counter() - t0, 1)
    description += (f" This run took {figures['wall_time_s']:g} s ({torch.get_num_threads()} torch thread(s), "
                    f"{platform.machine()}, {os.cpu_count()} CPUs).")
    figures.update(command=command, title=name, description=description)
    out = Path(args.out) if args.out else (Path(model.directory) / f"evaluation-{name}.json" if args.card else None)
    return report(figures, out, model.directory if args.card else None)



def settings_note(figures: dict, model) -> str:
    """Record the inference settings the figures were measured under (``mirror_expression``, ``refine``,
    ``photo_layer``) in
    ``figures`` and return the card's sentences on those that are on."""
    figures["mirror_expression"] = model.setting("mirror_expression", False)
    figures["refine"] = refine = model.config.refine
    note = " z_exp is averaged over each face and its mirror image (`mirror_expression`)." \
        if figures["mirror_expression"] else ""
    if refine:
        note += (f" Every code here (faces, swaps and their re-encodings) was refined against its own image after "
                 f"encoding: {refine['steps']} Adam steps (lr {refine['lr']:g}) on {', '.join(refine['free'])}, the "
                 f"decoder fixed (`refine` setting, `facelab.code_refinement`).")
    figures["photo_layer"] = layer = model.config.photo_layer
    if layer:
        setting = model.photo_layer_setting()
        note += (f" Edits drawn on the photo (`photo_*` figures, the app's *Show edits on the photo*) use this "
                 f"checkpoint's own photo-layer setting: tolerance {setting.tolerance:g}, blur {setting.sigma:g} px, "
                 f"falloff {setting.falloff:g} (`photo_layer` setting, `facelab.photo_layer`).")
    return note


def report(figures: dict, out: Path | None, card_directory=None) -> dict:
    """Print the figures, write them to ``out`` and, given a checkpoint directory, rebuild its card."""
    print_table(figures)
    print(f"wall time {figures['wall_time_s']} s")
    if out:
        write_json(out, figures)
        print(f"wrote {out}")
    if card_directory is not None:
        print(f"wrote {write_card(card_directory)}")
    return figures

def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.init and not args.folds:
        raise SystemExit("--init needs --folds (it sets where each fold's training starts)")
    if args.recogniser and args.folds:
        raise SystemExit("--recogniser scores the checkpoint itself; it does not combine with --folds")
    if args.recogniser:
        from facelab import recogniser

        if not recogniser.available():
            raise SystemExit(f"--recogniser needs dlib and its models: {recogniser.INSTALL_HINT}")
    t0 = time.perf_counter()
    model = facelab.load(args.checkpoint)
    if args.mirror_expression is not None:
        model.configure(mirror_expression=args.mirror_expression)
    refine = refine_setting(args, model)
    if refine != "unchanged":
        try:
            model.configure(refine=refine)
        except ConfigError as e:
            raise SystemExit(f"{args.checkpoint}: {e}") from None
    if args.recogniser:
        return evaluate_recogniser(args, argv, model, t0)
    training = model.training
    if args.folds:
        specs = args.data or [HELD_OUT_SYNTHETIC]
        holdout = 0.0
    else:
        own_split = training is not None and (training.holdout > 0 or training.validation > 0)
        if own_split and args.split == "test" and training.holdout == 0 \
                and all(d.startswith("synthetic") for d in training.data):
            own_split = False  # generator data with no held-out people: score brand-new generator people
        specs = args.data or (list(training.data) if own_split else [HELD_OUT_SYNTHETIC])
        holdout = args.holdout if args.holdout is not None else (training.holdout if training else 0.0)
        validation = training.validation if training and own_split else 0.0
        if args.split == "val" and validation == 0:
            raise SystemExit(f"{args.checkpoint} was trained without --validation: it has no validation split")
    split_seed = training.seed if training else 0
    # photos are cropped as the model aligns them (its recorded template), like statistics and topology do
    align_config = model.align_config() if model.config.align is not None else None
    dataset = datasets.load(specs, size=model.config.image_size, align_config=align_config, progress=not args.quiet)
    name = args.name or (f"{args.folds}fold" if args.folds else None)

    if args.folds:
        init = facelab.load(args.init) if args.init else None
        if init is not None and args.mirror_expression is not None:
            init.configure(mirror_expression=args.mirror_expression)
        model_config = init.config if init is not None else model.config
        if model_config.method != model.config.method:
            raise SystemExit(f"--init is a {model_config.method} checkpoint, --checkpoint a {model.config.method} one")
        model_config, config = fold_train_config(model_config, training, specs, args.fold_epochs, args.max_steps,
                                                 init is not None)
        epochs = {k: v for k, v in stage_epochs(model_config.options, init is not None).items() if v is not None}
        epochs_text = " + ".join(map(str, epochs.values())) + " epochs" + (
            f" ({' + '.join(epochs)})" if len(epochs) > 1 else "")
        print(f"{args.folds}-fold subject-independent cross-validation of {model.config.method} "
              f"({'fine-tuned from ' + str(init.directory) if init is not None else 'from scratch'}; {epochs_text}"
              f"{f', max {config.max_steps} steps per stage' if config.max_steps else ''}) "
              f"on {len(dataset)} images from {', '.join(specs)}")
        figures = cross_validate(model_config, config, dataset, k=args.folds, seed=args.seed, init=init,
                                 progress=not args.quiet, swap_pairs=args.swap_pairs)
        figures["fold_training"] = {
            "stage_epochs": stage_epochs(model_config.options, init is not None), "batch_size": config.batch_size,
            "max_steps": config.max_steps, "init": str(init.directory) if init is not None else None,
        }
        eval_set = dataset
        how = (f"fine-tuned from `{Path(str(init.directory)).name}` for {epochs_text}" if init is not None
               else f"trained from scratch for {epochs_text}")
        description = (
            f"Subject-independent {args.folds}-fold cross-validation on {len(dataset)} images "
            f"({figures['n_identities']} people) from `{'`, `'.join(specs)}`: folds are grouped by identity "
            f"(GroupKFold), so nobody is in both the training and the test part of a fold. Per fold the "
            f"{model.config.method} method was {how}"
            f"{f' (at most {config.max_steps} steps per stage)' if config.max_steps else ''}. "
            f"Figures are mean ± std over the folds; the confusion matrix pools every fold's test images. "
            f"The traversal plots show this checkpoint's own weights, not a fold's.")
    else:
        if (holdout > 0 or validation > 0) and args.split != "all":
            split = datasets.training_splits(dataset, holdout, validation, seed=split_seed)
            dataset = torch.utils.data.Subset(dataset, split[args.split])
            kept = f"holdout {holdout}" + (f", validation {validation}" if validation else "")
            specs = [f"{s} ({args.split} split, {kept})" for s in specs]
        if len(dataset) == 0:
            raise SystemExit(f"nothing to evaluate: the {args.split} split of {', '.join(specs)} is empty")
        print(f"evaluating {model.directory} on {len(dataset)} images from {', '.join(specs)}")
        enc = encode_dataset(model, dataset, progress=not args.quiet)
        figures = representation_scores(model, enc, seed=args.seed)
        view = synthetic_view(dataset)
        if view is not None:  # the synthetic generator: ground truth for swaps and factors
            figures.update(swap_fidelity(model, view, n_pairs=args.swap_pairs, seed=args.seed))
            figures.update(disentanglement_scores(enc, seed=args.seed))
            # every factor read from every sub-code, and a swap per sub-code (any number of sub-codes)
            figures.update(attribute_scores(model, enc, view, seed=args.seed, n_pairs=args.swap_pairs))
        eval_set = dataset
        held_out = ("held out from training: identity-disjoint split, or the dataset's own test split"
                    if holdout > 0 and args.split == "test" else
                    "the validation part, kept out of training" if args.split == "val" else
                    "new generator people" if specs == [HELD_OUT_SYNTHETIC] else "as given")
        description = f"On {len(dataset)} images from `{'`, `'.join(specs)}` ({held_out})."
    figures["data"] = specs
    figures["checkpoint"] = str(model.directory)
    figures["method"] = model.config.method
    description += settings_note(figures, model)

    command = "python -m train.evaluate " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    figures["command"] = command
    figures["title"] = args.name or (f"{args.folds}-fold subject-independent cross-validation" if args.folds
                                     else "held-out evaluation")
    figures["description"] = description
    out = Path(args.out) if args.out else None
    if args.card and out is None:
        out = Path(model.directory) / (f"evaluation-{name}.json" if name else "evaluation.json")
    if out:  # the measured figures are saved before plotting, so a plot error cannot lose them
        write_json(out, figures)
    plots_dir = Path(args.plots) if args.plots else (Path(model.directory) / "plots" if args.card else None)
    if plots_dir is not None:
        made = make_plots(model, figures, eval_set, plots_dir, f"{name}-" if name else "", png=not args.no_png)
        for v in made.values():
            print(f"wrote {v['html']}" + (f" and {v['png'].name}" if v["png"] else ""))
        figures["plots"] = _relative(made, out.parent if out else None)

    figures["wall_time_s"] = round(time.perf_counter() - t0, 1)
    return report(figures, out, model.directory if args.card else None)


if __name__ == "__main__":
    main()
