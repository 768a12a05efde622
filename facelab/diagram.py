"""The "How it works" view for teaching: a checkpoint's method drawn as a diagram, and its card's
key figures in plain words.

Everything is read from the loaded model, never written per method: the encoders, sub-codes,
heads and adversaries from the network's modules (:mod:`facelab.models.network`), the loss
weights from the method's options in ``config.json`` (fields named ``*_weight`` and ``beta*``),
the training stages from the method's own ``stages``, the description from its ``summary``, and
the figures from the ``evaluation*.json`` files beside the checkpoint (as the card reads them).
A new method built from the same parts is drawn without a change here.
"""

from __future__ import annotations

import dataclasses
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import escape

import torch
from torch import nn

from .face_model import FaceModel
from .methods import get_method

# Loss weights whose option name does not say what they weigh. Others read from the name:
# ``beta_<sub-code>`` is that sub-code's KL term, ``<term>_weight`` weighs ``<term>``.
TERMS = {
    "beta": "KL of every sub-code to N(0, I)",
    "beta_kl": "KL of every sub-code to N(0, I)",
    "beta1": "reconstruction (summed over pixels)",
    "beta2": "cross-entropy of the expression classifier C_exp",
    "beta3": "entropy of the adversaries' guesses (maximised)",
    "classifier_weight": "cross-entropy of the expression classifier",
    "reconstruction_weight": "reconstruction (summed over pixels)",
    "ce_weight": "cross-entropy of the expression head",
    "bce_weight": "graded binary cross-entropy of the expression head",
    "swap_weight": "swap: decoded with another face's expression vs the true render",
    "detail_weight": "swap, extra weight on the pixels the swap changes",
    "cycle_weight": "cycle: the swapped face re-encoded keeps its identity, reads the new expression",
    "cosine_weight": "cosine pull of codes that should match",
    "triplet_weight": "batch-hard triplet on codes",
    "l1_weight": "L1 pull of codes that should match",
}

FONT = 13  # px
CHAR = 7.0  # px, a rough average glyph width at FONT (sans-serif)
LINE = 17  # px between text lines
COLOURS = {"data": "#e8eef7", "encoder": "#dbeafe", "code": "#fef3c7", "head": "#dcfce7",
           "adversary": "#fee2e2", "decoder": "#ede9fe"}


# --------------------------------------------------------------------------------------------
# What the network is made of


def _conv_stages(conv: nn.Sequential) -> tuple[list[int], int]:
    """Channels of the stride-2 convolutions and the extra 3×3 convolutions per stage."""
    convs = [m for m in conv if isinstance(m, nn.Conv2d)]
    channels = [m.out_channels for m in convs if m.stride == (2, 2)]
    return channels, (len(convs) - len(channels)) // max(1, len(channels))


def _conv_text(conv: nn.Sequential) -> str:
    channels, depth = _conv_stages(conv)
    return "conv " + "-".join(map(str, channels)) + (f", +{depth} 3×3 per stage" if depth else "")


def _weights(options) -> list[tuple[str, float]]:
    """The method's loss weights: option fields named ``*_weight`` or ``beta*``, in declaration order."""
    if options is None:
        return []
    return [(f.name, getattr(options, f.name)) for f in dataclasses.fields(options)
            if f.name.endswith("_weight") or f.name.startswith("beta")]


def _term(name: str, latents) -> str:
    if name in TERMS:
        return TERMS[name]
    if name.startswith("beta_") and name[5:] in latents:
        return f"KL of z_{name[5:]} to N(0, I)"
    return name.removesuffix("_weight").replace("_", " ")


def loss_terms(model: FaceModel) -> list[tuple[str | None, float, str]]:
    """(option name, weight, what it weighs) for every loss weight in the config, plus the
    reconstruction at a fixed weight of 1 (option name None) when no option weighs it (DisVAE)."""
    terms = [(name, value, _term(name, model.config.latents)) for name, value in _weights(model.config.options)]
    if not any(text.startswith("reconstruction") for _, _, text in terms):
        terms.insert(0, (None, 1, "reconstruction (summed over pixels)"))
    return terms


@dataclass
class Stage:
    name: str
    epochs: int
    steps: tuple[str, ...]


def training_stages(model: FaceModel) -> list[Stage]:
    """The method's training stages from scratch as ``config.json`` sets them (names, epochs, optimizer steps)."""
    method = get_method(model.config.method)
    with torch.random.fork_rng(devices=[]):  # a stage may build (and initialise) a module of its own
        return [Stage(s.name, s.epochs, tuple(s.steps))
                for s in method.stages(model.network, model.config, model.training, fine_tune=False)]


def _other_settings(options) -> list[str]:
    if options is None:
        return []
    weights = {name for name, _ in _weights(options)}
    return [f"{f.name} {getattr(options, f.name)}" for f in dataclasses.fields(options) if f.name not in weights]


# --------------------------------------------------------------------------------------------
# Drawing


def _box(x: float, y: float, w: float, h: float, lines: list[str], kind: str) -> str:
    out = [f'<rect x="{x:.0f}" y="{y:.0f}" width="{w:.0f}" height="{h:.0f}" rx="6" fill="{COLOURS[kind]}" '
           f'stroke="#475569"/>']
    top = y + h / 2 - (len(lines) - 1) * LINE / 2 + FONT / 3
    for i, line in enumerate(lines):
        weight = ' font-weight="bold"' if i == 0 else ""
        out.append(f'<text x="{x + w / 2:.0f}" y="{top + i * LINE:.0f}" text-anchor="middle"{weight}>'
                   f"{escape(line)}</text>")
    return "\n".join(out)


def _arrow(points: list[tuple[float, float]], marker: str) -> str:
    path = " ".join(f"{x:.0f},{y:.0f}" for x, y in points)
    return f'<polyline points="{path}" fill="none" stroke="#475569" marker-end="url(#{marker})"/>'


def _text(x: float, y: float, text: str, bold: bool = False) -> str:
    weight = ' font-weight="bold"' if bold else ""
    return f'<text x="{x:.0f}" y="{y:.0f}"{weight}>{escape(text)}</text>'


def _width(lines: list[str], minimum: float) -> float:
    return max(minimum, max(len(t) for t in lines) * CHAR + 20)


def _attachments(network, attribute: str, classes: dict[str, tuple[str, ...]]) -> list[tuple[list[str], str]]:
    """Boxes hanging off one sub-code: its classifier head, and an adversary where the method has one."""
    out = []
    heads = getattr(network, "heads", {})
    if attribute in heads:
        n = heads[attribute].out_features
        out.append((["classifier head", f"linear → {n} {attribute} classes"], "head"))
    adversaries = getattr(network, "adversaries", {})
    if attribute in adversaries:
        layers = [m for m in adversaries[attribute] if isinstance(m, nn.Linear)]
        n = layers[-1].out_features
        target = next((a for a, names in classes.items() if len(names) == n), f"{n}-class")
        hidden = f"MLP, {layers[0].out_features} hidden" if len(layers) > 1 else "linear"
        out.append(([f"adversary ({hidden})", f"reads {target} from z_{attribute};",
                     "the encoder makes it guess blindly"], "adversary"))
    return out


def method_diagram(model: FaceModel) -> str:
    """A self-contained SVG of ``model``'s method, drawn from its config and network: image →
    encoder(s) → named sub-codes with their sizes → fusion → decoder → reconstruction, the heads and
    adversaries on the sub-codes, every loss weight of the config with what it weighs, the training
    stages, and the method's own description. Scales to its container (``viewBox``, width 100 %)."""
    config, network = model.config, model.network
    method = get_method(config.method)
    marker = f"arrow-{config.method}"
    size = config.image_size
    classes = model.class_names()
    shared = hasattr(network, "trunk")
    split = hasattr(network, "encoders")
    mirrored = set(getattr(network, "mirrored", ()))

    # rows: one per sub-code, taller where boxes hang off it
    rows, y = [], 70.0
    for attribute in config.latents:
        hanging = _attachments(network, attribute, classes)
        rows.append((attribute, y, hanging))
        y += 56 + 52 * len(hanging) + 24
    body_top, body_bottom = 70.0, y - 24
    middle = (body_top + body_bottom) / 2

    # columns, left to right
    parts: list[str] = []
    x = 20.0
    image_lines = ["image", f"{size}×{size}×3"]
    w = _width(image_lines, 100)
    parts.append(_box(x, middle - 28, w, 56, image_lines, "data"))
    image_right = x + w
    x = image_right + 40

    encoder_right: dict[str, float] = {}
    if split:
        texts = {a: [f"{a} encoder", _conv_text(network.encoders[a].conv)]
                 + (["mean of face + mirror image"] if a in mirrored else []) for a in config.latents}
        w = _width([t for lines in texts.values() for t in lines], 150)
        for attribute, top, _ in rows:
            h = LINE * len(texts[attribute]) + 18
            parts.append(_box(x, top + 22 - h / 2, w, h, texts[attribute], "encoder"))
            parts.append(_arrow([(image_right, middle), (image_right + 20, middle), (image_right + 20, top + 22),
                                 (x, top + 22)], marker))
            encoder_right[attribute] = x + w
        x += w + 40
    elif shared:
        trunk_lines = ["shared encoder", _conv_text(network.trunk.conv)]
        w = _width(trunk_lines, 140)
        parts.append(_box(x, body_top, w, body_bottom - body_top, trunk_lines, "encoder"))
        parts.append(_arrow([(image_right, middle), (x, middle)], marker))
        trunk_right = x + w
        x = trunk_right + 40
        branch_w = 0.0
        for attribute, top, _ in rows:
            hidden = next(m for m in network.branches[attribute] if isinstance(m, nn.Linear)).out_features
            lines = [f"{attribute} branch", f"FC, {hidden} hidden"]
            branch_w = _width(lines, 120)
            parts.append(_box(x, top, branch_w, 44, lines, "encoder"))
            parts.append(_arrow([(trunk_right, top + 22), (x, top + 22)], marker))
            encoder_right[attribute] = x + branch_w
        x += branch_w + 40
    else:  # a network of another shape: one encoder box
        lines = ["encoder"]
        w = _width(lines, 120)
        parts.append(_box(x, body_top, w, body_bottom - body_top, lines, "encoder"))
        parts.append(_arrow([(image_right, middle), (x, middle)], marker))
        encoder_right = {a: x + w for a in config.latents}
        x += w + 40

    code_lines = {a: [f"{a} code", f"{d} numbers"] for a, d in config.latents.items()}
    code_w = _width([t for lines in code_lines.values() for t in lines], 120)
    hanging_w = max([_width(lines, 0) for *_, hanging in rows for lines, _ in hanging] or [0])
    bus = x + code_w + (hanging_w + 50 if hanging_w else 30)
    for attribute, top, hanging in rows:
        parts.append(_box(x, top, code_w, 44, code_lines[attribute], "code"))
        parts.append(_arrow([(encoder_right[attribute], top + 22), (x, top + 22)], marker))
        parts.append(f'<line x1="{x + code_w:.0f}" y1="{top + 22:.0f}" x2="{bus:.0f}" y2="{top + 22:.0f}" '
                     f'stroke="#475569"/>')
        for i, (lines, kind) in enumerate(hanging):
            h_top = top + 56 + 52 * i
            h = LINE * len(lines) + 10
            parts.append(_box(x + code_w + 20, h_top, hanging_w, h, lines, kind))
            parts.append(_arrow([(x + code_w / 2, top + 44), (x + code_w / 2, h_top + h / 2),
                                 (x + code_w + 20, h_top + h / 2)], marker))
    first, last = rows[0][1] + 22, rows[-1][1] + 22
    parts.append(f'<line x1="{bus:.0f}" y1="{first:.0f}" x2="{bus:.0f}" y2="{last:.0f}" stroke="#475569"/>')
    parts.append(f'<text x="{bus + 6:.0f}" y="{first - 8:.0f}" font-size="11">concatenated</text>')
    x = bus + 30

    fusion = network.fusion[0] if isinstance(getattr(network, "fusion", None), nn.Sequential) else None
    steps = [(["fusion", f"FC + ReLU, {fusion.in_features} → {fusion.out_features}"] if fusion else ["fusion"],
              "decoder")]
    decoder = getattr(network, "decoder", None)
    if decoder is not None and hasattr(decoder, "deconv"):
        ups = [m.out_channels for m in decoder.deconv if isinstance(m, nn.ConvTranspose2d)]
        steps.append((["decoder", "up-conv " + "-".join(map(str, [decoder.start] + ups[:-1]))], "decoder"))
    else:
        steps.append((["decoder"], "decoder"))
    steps.append((["reconstruction", f"{size}×{size}×3"], "data"))
    parts.append(_arrow([(bus, middle), (x, middle)], marker))
    for i, (lines, kind) in enumerate(steps):
        w = _width(lines, 110)
        parts.append(_box(x, middle - 28, w, 56, lines, kind))
        if i < len(steps) - 1:
            parts.append(_arrow([(x + w, middle), (x + w + 30, middle)], marker))
        x += w + 30
    width = max(x, 900.0)

    # words under the drawing: losses, stages, settings, description
    wrap = max(60, int((width - 40) / CHAR))
    y = body_bottom + 40
    parts.append(_text(20, y, "Loss terms and their weights (config.json → model.options)", bold=True))
    for name, value, text in loss_terms(model):
        y += LINE
        weight = f"{name} = {value}" if name else f"{value} (fixed by the method)"
        parts.append(_text(30, y, f"• {text}: {weight}"))
    stages = training_stages(model)
    y += LINE * 1.6
    parts.append(_text(20, y, "Training stages (from scratch, as config.json sets them)", bold=True))
    for i, stage in enumerate(stages, 1):
        y += LINE
        each = " then ".join(f"{s} step" for s in stage.steps)
        parts.append(_text(30, y, f"{i}. {stage.name}: {stage.epochs} epochs; each batch: {each}"))
    settings = _other_settings(config.options)
    if settings:
        y += LINE * 1.6
        parts.append(_text(20, y, "Other settings", bold=True))
        for line in textwrap.wrap(" · ".join(settings), wrap - 4):
            y += LINE
            parts.append(_text(30, y, line))
    y += LINE * 1.6
    parts.append(_text(20, y, "The method in words", bold=True))
    words = method.summary(config) + (f" Follows: {method.follows}." if method.follows else "")
    for line in textwrap.wrap(words, wrap):
        y += LINE
        parts.append(_text(20, y, line))
    height = y + 20

    title = f"{Path(model.directory).name if model.directory else 'model'}: the {config.method} method"
    return "\n".join([
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" width="100%" '
        f'font-family="sans-serif" font-size="{FONT}" fill="#0f172a">',
        f"<title>{escape(title)}</title>",
        f'<defs><marker id="{marker}" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" markerHeight="7" '
        f'orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="#475569"/></marker></defs>',
        f'<rect width="{width:.0f}" height="{height:.0f}" fill="white"/>',
        _text(20, 34, title, bold=True),
        *parts,
        "</svg>",
    ])


# --------------------------------------------------------------------------------------------
# Key figures in plain words


def _pct(x: float) -> str:
    return f"{100 * x:.0f} %"


def _has(figures: dict, *keys: str) -> bool:
    return all(isinstance(figures.get(k), (int, float)) and not isinstance(figures.get(k), bool) for k in keys)


def plain_figures(figures: dict, others: str) -> list[str]:
    """One plain sentence per headline figure present in one ``evaluation*.json``; ``others`` names the
    sub-codes leakage is read from (e.g. "identity")."""
    f, out = figures, []
    chance = f" (chance {_pct(f['majority_rate'])})" if _has(f, "majority_rate") else ""
    if _has(f, "expression_accuracy"):
        out.append(f"Reads the expression right in {_pct(f['expression_accuracy'])} of faces{chance}.")
    if _has(f, "leakage_accuracy"):
        out.append(f"Reading the expression from the {others} code alone gets {_pct(f['leakage_accuracy'])} "
                   f"right{chance}: the nearer chance, the less expression hides there.")
    if _has(f, "identity_auc"):
        out.append(f"Tells whether two faces are the same person from the identity code with an AUC of "
                   f"{f['identity_auc']:.2f} (0.5 is a coin toss, 1 is never wrong).")
    if _has(f, "identity_top1"):
        top_chance = f" (chance {_pct(f['identity_top1_chance'])})" if _has(f, "identity_top1_chance") else ""
        out.append(f"The most similar other face by identity code is the same person in "
                   f"{_pct(f['identity_top1'])} of cases{top_chance}.")
    if _has(f, "rmse", "psnr"):
        out.append(f"Rebuilds faces to within {_pct(f['rmse'])} of full brightness per pixel, root-mean-square "
                   f"({f['psnr']:.1f} dB PSNR; higher is closer).")
    if _has(f, "swap_expression_accuracy"):
        base = (f" ({_pct(f['noswap_expression_accuracy'])} without the swap)"
                if _has(f, "noswap_expression_accuracy") else "")
        out.append(f"A face decoded with another face's expression code reads as that expression in "
                   f"{_pct(f['swap_expression_accuracy'])} of cases{base}.")
    if _has(f, "swap_identity_kept"):
        out.append(f"After such a swap it still reads as the original person in "
                   f"{_pct(f['swap_identity_kept'])} of cases.")
    return out


def key_figures(model: FaceModel) -> str:
    """The card's headline figures in plain words (Markdown): ``evaluation.json`` beside the
    checkpoint, else every ``evaluation-*.json`` (e.g. the photo model's FER2013 and London ones),
    one short list each, headed by how many faces it measured."""
    directory = Path(model.directory) if model.directory else None
    paths = []
    if directory is not None:
        main = directory / "evaluation.json"
        paths = [main] if main.is_file() else sorted(directory.glob("evaluation-*.json"))
    if not paths:
        return "Not evaluated yet: this checkpoint has no evaluation figures (`python -m train.evaluate --card`)."
    others = " and ".join(a for a in model.attributes if a != "expression") or "other"
    sections = []
    for path in paths:
        try:
            figures = json.loads(path.read_text())
        except (OSError, UnicodeDecodeError, ValueError) as e:
            sections.append(f"Could not read {path.name}: {e}")
            continue
        if not isinstance(figures, dict):
            sections.append(f"Could not read {path.name}: not a JSON object")
            continue
        n = f"{figures['n_images']:,} faces" if _has(figures, "n_images") else "faces"
        head = f"**{figures.get('title', path.stem)}**: on {n} the model was not trained on"
        sentences = plain_figures(figures, others)
        sections.append(head + "\n" + "\n".join(f"- {s}" for s in sentences) if sentences else head)
    return "\n\n".join(sections)
