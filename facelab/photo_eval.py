"""Photo-model figures judged by an independent face recogniser (dlib, :mod:`facelab.recogniser`).

``python -m train.evaluate --checkpoint DIR --recogniser`` calls these. The model's own codes
cannot judge the model (a z_id that ignores the face would still agree with itself), so
reconstructions, swaps and slider edits are shown to dlib's ResNet face descriptor and HOG face
detector, which never saw this model or its data. Every figure is on faces the model never saw
(``train.evaluate`` passes the checkpoint's held-out people).

:func:`recogniser_scores` keys (rates in [0, 1]):
  n_images, n_people             evaluated aligned views (the gallery) and people
  recon_identified               reconstruction's nearest view (dlib descriptor distance, among all
                                 aligned views of the evaluated people, its own view included) is the
                                 right person; recon_identified_chance: a random view's rate
  recon_identified_other_view    same with the reconstruction's own view left out of the gallery
                                 (people with ≥ 2 views: the neutral's reconstruction must find the smile)
  view_identified                ceiling: each view's nearest *other* view is the same person (people
                                 with ≥ 2 views; the recogniser on the model's input, no model involved)
  recon_same_person              reconstruction within dlib's same-person distance (0.6) of its view;
                                 recon_descriptor_distance: the mean distance
  recon_face_found, view_face_found   dlib's HOG detector finds a face in the reconstruction / the view
                                 (the crop upscaled to 160, 192, 224 and 256 px; found at any)
  rmse, psnr, ssim               reconstruction vs the aligned view (psnr in dB)
  colour_kept                    mean HSV saturation of the reconstructions / of their views, over the
                                 colour views (mean saturation ≥ 0.05); n_colour_images, view_saturation,
                                 recon_saturation
  expression_accuracy            the model's classifier on z_exp of the evaluated faces themselves (the
                                 baseline for reading B's expression on a swap); expression_balanced_accuracy
  swap_pairs                     (A, B) pairs: different people, different expression labels
  swap_identified_as_a           decode(A's codes with B's expression code) identified as A (nearest view);
                                 noswap_identified_as_a: A's plain reconstruction, same pairs;
                                 swap_identified_as_b: identified as B instead
  swap_face_found                a face found in the swapped face
  swap_expression_accuracy       the swapped face re-encoded: the model's classifier reads B's expression;
                                 noswap_expression_accuracy: A's plain reconstruction read as B's (baseline)
  swap_identity_kept             the model's own view: re-encoded z_id closer (cosine) to A's than to B's;
                                 noswap_identity_kept likewise
  slider_end_face_found          a face found when one expression slider (the app's: facelab.demo.sliders,
                                 its top dimensions and ranges) is set to either end of its range, the rest
                                 of the face's code unchanged; share of (face, slider, end);
                                 slider_all_ends_face_found: share of faces with a face found at every end;
                                 slider_ends: the count; sliders: [dim, min, max] of each; slider_range:
                                 where the ranges come from (FaceModel.bounds_source)
  photo_*                        the same edits shown on the photo (facelab.photo_layer, the app's "Show edits
                                 on the photo"): photo_swap_identified_as_a / _as_b, photo_swap_face_found,
                                 photo_swap_expression_accuracy, photo_slider_end_face_found,
                                 photo_slider_all_ends_face_found
  identity_swap_identified_as_b  A with B's z_id identified as B (decoder alone; _as_a: as A);
                                 photo_identity_swap_identified_as_b / _as_a: shown on A's photo — the
                                 layer's risk, A's detail kept inside B's face
:func:`fer2013_scores` keys: fer2013_test_accuracy and fer2013_test_balanced_accuracy (all test images),
fer2013_balanced100_accuracy (100 random test faces per class, seeded), fer2013_test_n, fer2013_per_class.
"""

from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from . import metrics
from . import recogniser as R
from .labels import MISSING
from .photo_layer import PERSON, person_kept, with_detail

COLOUR_MIN_SATURATION = 0.05  # a view whose mean saturation is below this counts as a grey photo


def saturation(images) -> np.ndarray:
    """Mean HSV saturation ((max − min) / max per pixel, 0 where max = 0) of each image → (N,)."""
    ims = np.stack(R.as_uint8_images(images)).astype(np.float32) / 255.0
    hi, lo = ims.max(-1), ims.min(-1)
    s = np.where(hi > 0, (hi - lo) / np.maximum(hi, 1e-12), 0.0)
    return s.mean(axis=(1, 2))


def _classify(model, z_exp: np.ndarray) -> np.ndarray:
    with torch.no_grad():
        logits = model.network.classify(torch.as_tensor(z_exp).to(model.device), "expression")
    return logits.argmax(1).cpu().numpy()


def _decode(model, parts: dict[str, np.ndarray], batch_size: int = 256) -> np.ndarray:
    from .face_model import join_codes

    z = join_codes(parts, model.config.latents)
    return np.concatenate([model.decode_tensor(z[i:i + batch_size]).numpy() for i in range(0, len(z), batch_size)])


def _encode(model, x: np.ndarray, batch_size: int = 256) -> dict[str, np.ndarray]:
    parts = [model.encode_tensor(torch.as_tensor(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def _load(model, dataset, batch_size: int, progress: bool):
    """Images (N, 3, S, S) float, identity and (model-class) expression labels of ``dataset``."""
    from .training import label_remap, remap_labels

    images, identity, expression = [], [], []
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    for batch in tqdm(loader, desc="load", disable=not progress):
        images.append(batch["image"].numpy())
        identity.append(np.asarray(batch["identity"]))
        expression.append(np.asarray(batch["expression"]))
    expression = remap_labels(np.concatenate(expression).astype(np.int64), label_remap(model.expressions))
    return np.concatenate(images), np.concatenate(identity), expression


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)


def swap_pairs(identity: np.ndarray, expression: np.ndarray, n_pairs: int, seed: int = 0) -> np.ndarray:
    """(A, B) index pairs, A and B different people with different known expression labels: all of
    them when there are at most ``n_pairs``, else ``n_pairs`` drawn without replacement (seeded)."""
    ia, ib = np.meshgrid(np.arange(len(identity)), np.arange(len(identity)), indexing="ij")
    ok = (identity[ia] != identity[ib]) & (expression[ia] != expression[ib]) \
        & (expression[ia] != MISSING) & (expression[ib] != MISSING)
    pairs = np.stack([ia[ok], ib[ok]], 1)
    if len(pairs) > n_pairs:
        pairs = pairs[np.sort(np.random.default_rng(seed).choice(len(pairs), n_pairs, replace=False))]
    return pairs


def recogniser_scores(model, dataset, n_pairs: int = 256, seed: int = 0, geometry=None, cache_dir=None,
                      batch_size: int = 64, progress: bool = True) -> dict:
    """The recogniser's figures (module docstring) for ``model`` on the aligned photos of ``dataset``
    (items with ``image``, ``identity``, ``expression``; e.g. the checkpoint's held-out people).
    ``geometry``: how the crops were aligned (:func:`facelab.recogniser.chip_box`; None = facelab's
    default template, what :func:`facelab.datasets.load` uses). The views' descriptors are cached."""
    from .demo.sliders import slider_specs

    views, people, expression = _load(model, dataset, batch_size, progress)
    n = len(views)
    if n == 0:
        raise ValueError("no images to evaluate")
    layer = model.photo_layer_setting()  # how the app draws this model's edits on the photo
    step = "recogniser"
    bar = tqdm(total=6, desc=step, disable=not progress)
    codes = _encode(model, views, batch_size)
    recon = _decode(model, codes)
    out: dict = {"n_images": int(n), "n_people": len(np.unique(people))}

    # ---- the recogniser on the views (ceiling) and on the reconstructions
    view_desc = R.cached_descriptors(views, geometry, cache_dir)
    bar.update()
    recon_desc = R.descriptors(recon, geometry)
    bar.update()
    counts = np.array([(people == p).sum() for p in people])
    multi = counts >= 2
    nn = R.nearest(recon_desc, view_desc)
    out["recon_identified"] = float((people[nn] == people).mean())
    out["recon_identified_chance"] = float((counts / n).mean())
    own = np.eye(n, dtype=bool)
    if multi.any():
        nn_other = R.nearest(recon_desc, view_desc, exclude=own)
        out["recon_identified_other_view"] = float((people[nn_other] == people)[multi].mean())
        nn_view = R.nearest(view_desc, view_desc, exclude=own)
        out["view_identified"] = float((people[nn_view] == people)[multi].mean())
        out["n_images_with_other_view"] = int(multi.sum())
    dist_own = np.linalg.norm(recon_desc - view_desc, axis=1)
    out["recon_same_person"] = float((dist_own < R.SAME_PERSON_DISTANCE).mean())
    out["recon_descriptor_distance"] = float(dist_own.mean())
    out["recon_face_found"] = float(R.face_found(recon).mean())
    out["view_face_found"] = float(R.face_found(views).mean())
    rec = metrics.reconstruction_scores(views, recon)
    out.update({k: rec[k] for k in ("rmse", "psnr", "ssim")})
    sat_view, sat_recon = saturation(views), saturation(recon)
    colour = sat_view >= COLOUR_MIN_SATURATION
    out["n_colour_images"] = int(colour.sum())
    if colour.any():
        out["view_saturation"] = float(sat_view[colour].mean())
        out["recon_saturation"] = float(sat_recon[colour].mean())
        out["colour_kept"] = out["recon_saturation"] / out["view_saturation"]
    bar.update()

    # ---- expression swaps: A's codes with B's expression code
    known = expression != MISSING
    if "expression" in codes and known.any():  # the baseline for reading B's expression on a swap
        predicted = _classify(model, codes["expression"][known])
        out["expression_accuracy"] = float((predicted == expression[known]).mean())
        out["expression_balanced_accuracy"] = float(np.mean([(predicted[expression[known] == c] == c).mean()
                                                             for c in np.unique(expression[known])]))
    if "expression" in codes:
        pairs = swap_pairs(people, expression, n_pairs, seed)
        out["swap_pairs"] = len(pairs)
        if len(pairs):
            a, b = pairs[:, 0], pairs[:, 1]
            swapped = _decode(model, {**{k: v[a] for k, v in codes.items()}, "expression": codes["expression"][b]})
            swap_desc = R.descriptors(swapped, geometry)
            who = people[R.nearest(swap_desc, view_desc)]
            out["swap_identified_as_a"] = float((who == people[a]).mean())
            out["noswap_identified_as_a"] = float((people[nn[a]] == people[a]).mean())
            out["swap_identified_as_b"] = float((who == people[b]).mean())
            out["swap_face_found"] = float(R.face_found(swapped).mean())
            re_swap, re_a = _encode(model, swapped), {k: v[a] for k, v in _encode(model, recon).items()}
            out["swap_expression_accuracy"] = float((_classify(model, re_swap["expression"]) == expression[b]).mean())
            out["noswap_expression_accuracy"] = float((_classify(model, re_a["expression"]) == expression[b]).mean())
            if "identity" in codes:
                za, zb = _unit(codes["identity"][a]), _unit(codes["identity"][b])
                for key, re in (("swap_identity_kept", re_swap), ("noswap_identity_kept", re_a)):
                    z = _unit(re["identity"])
                    out[key] = float(((z * za).sum(1) > (z * zb).sum(1)).mean())
            # the same swaps shown on A's photo (the app's "Show edits on the photo": facelab.photo_layer)
            on_photo = with_detail(swapped, views[a], recon[a], layer.tolerance, layer.sigma)
            who = people[R.nearest(R.descriptors(on_photo, geometry), view_desc)]
            out["photo_swap_identified_as_a"] = float((who == people[a]).mean())
            out["photo_swap_identified_as_b"] = float((who == people[b]).mean())
            out["photo_swap_face_found"] = float(R.face_found(on_photo).mean())
            out["photo_swap_expression_accuracy"] = float(
                (_classify(model, _encode(model, on_photo)["expression"]) == expression[b]).mean())
            if PERSON in codes:  # the layer's risk: A's detail kept inside B's face, so the swap stops swapping
                other = _decode(model, {**{k: v[a] for k, v in codes.items()}, PERSON: codes[PERSON][b]})
                kept = person_kept(codes[PERSON][a], codes[PERSON][b], model.code_range(PERSON)[1], layer.falloff)
                for key, shown in (("identity_swap", other),
                                   ("photo_identity_swap", with_detail(other, views[a], recon[a], layer.tolerance,
                                                                       layer.sigma, kept))):
                    who = people[R.nearest(R.descriptors(shown, geometry), view_desc)]
                    out[f"{key}_identified_as_b"] = float((who == people[b]).mean())
                    out[f"{key}_identified_as_a"] = float((who == people[a]).mean())
    bar.update()

    # ---- the app's expression sliders pushed to each end
    specs = slider_specs(model, attributes=["expression"]) if "expression" in codes else []
    if specs:
        edited = {k: [] for k in codes}
        for spec in specs:
            for end in (spec.minimum, spec.maximum):
                for k, v in codes.items():
                    v = v.copy()
                    if k == spec.attribute:
                        v[:, spec.dim] = end
                    edited[k].append(v)
        ends = _decode(model, {k: np.concatenate(v) for k, v in edited.items()})
        found = R.face_found(ends).reshape(len(specs) * 2, n)
        out["slider_end_face_found"] = float(found.mean())
        out["slider_all_ends_face_found"] = float(found.all(0).mean())
        repeat = len(specs) * 2  # the ends are ordered (slider, end) blocks of all n faces
        found = R.face_found(with_detail(ends, np.tile(views, (repeat, 1, 1, 1)), np.tile(recon, (repeat, 1, 1, 1)),
                                         layer.tolerance, layer.sigma)).reshape(repeat, n)
        out["photo_slider_end_face_found"] = float(found.mean())
        out["photo_slider_all_ends_face_found"] = float(found.all(0).mean())
        out["slider_ends"] = int(found.size)
        out["sliders"] = [[s.dim, s.minimum, s.maximum] for s in specs]
        out["slider_range"] = model.bounds_source
    bar.update(2)
    bar.close()
    return out


def fer2013_scores(model, dataset, per_class: int = 100, seed: int = 0, batch_size: int = 256,
                   progress: bool = True) -> dict:
    """The model's expression classifier (on z_exp) on FER2013's test images: accuracy on all of
    ``dataset`` (pass the test split), its balanced accuracy, and accuracy on ``per_class`` random
    faces of each class (seeded; every class of the model that has that many)."""
    from .training import label_remap, remap_labels

    predicted, labels = [], []
    loader = torch.utils.data.DataLoader(dataset, batch_size=batch_size)
    for batch in tqdm(loader, desc="fer2013", disable=not progress):
        predicted.append(_classify(model, model.encode_tensor(batch["image"])["expression"]))
        labels.append(np.asarray(batch["expression"]))
    predicted = np.concatenate(predicted)
    y = remap_labels(np.concatenate(labels).astype(np.int64), label_remap(model.expressions))
    known = y != MISSING
    predicted, y = predicted[known], y[known]
    rng = np.random.default_rng(seed)
    classes = [c for c in range(len(model.expressions)) if (y == c).any()]
    sample = np.concatenate([rng.choice(np.flatnonzero(y == c), min(per_class, int((y == c).sum())), replace=False)
                             for c in classes])
    return {
        "fer2013_test_accuracy": float((predicted == y).mean()),
        "fer2013_test_balanced_accuracy": float(np.mean([(predicted[y == c] == c).mean() for c in classes])),
        "fer2013_balanced100_accuracy": float((predicted[sample] == y[sample]).mean()),
        "fer2013_test_n": len(y),
        "fer2013_per_class": int(per_class),
        "fer2013_balanced_n": len(sample),
    }
