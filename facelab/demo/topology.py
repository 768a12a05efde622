"""Topology and Retrieval tabs: UMAP maps of each sub-code over a held-out gallery (generator faces, or
photos the model never trained on), and the gallery faces nearest to a face by each sub-code.

Gallery faces are pictured without storing any: generator faces are re-rendered from their factors;
photos are read from the data folder when it is present (aligned or cropped as the model's data
was), else decoded from their codes.
"""

from __future__ import annotations

import base64
import functools
import io
import logging
from pathlib import Path

import numpy as np
from PIL import Image

from ..face_model import Code, FaceModel
from .common import data_root

COLOR_BY = ("expression", "identity", "dataset", "intensity")  # gallery labels a map can be coloured by
YOUR_FACE = "your face (approx.)"
HOVER_SIZE = 48  # px of the thumbnails carried in the map for hovering
# For the page's <head>: shows the hovered point's thumbnail (a plotly point's customdata data: URI) beside
# the pointer. Gradio's Plot has no hover event, so this runs in the browser.
HOVER_HEAD = """<script>
(() => {
  const tip = document.createElement("img");
  tip.id = "facelab-hover";
  Object.assign(tip.style, {position: "fixed", display: "none", width: "96px", height: "96px", zIndex: 1000,
    pointerEvents: "none", border: "1px solid #888", background: "#fff", imageRendering: "pixelated"});
  let x = 0, y = 0;
  document.addEventListener("mousemove", (e) => { x = e.clientX; y = e.clientY; }, true);
  const attach = (plot) => {
    if (plot.facelabHover || !plot.on) return;
    plot.facelabHover = true;
    plot.on("plotly_hover", (e) => {
      const src = e.points && e.points[0] && e.points[0].customdata;
      if (typeof src !== "string" || !src.startsWith("data:image/")) return;
      if (!tip.isConnected) document.body.appendChild(tip);
      tip.src = src;
      const left = x > 128 ? x - 112 : x + 16;  // left of the pointer: plotly's label is usually on its right
      Object.assign(tip.style, {left: `${left}px`, top: `${y + 16}px`, display: "block"});
    });
    plot.on("plotly_unhover", () => { tip.style.display = "none"; });
  };
  new MutationObserver(() => document.querySelectorAll(".js-plotly-plot").forEach(attach))
    .observe(document.documentElement, {childList: true, subtree: true});
})();
</script>"""

log = logging.getLogger(__name__)


def load_topology(model: FaceModel):
    """The checkpoint's ``topology.npz`` as ``(Topology, "")``, or ``(None, reason)``.

    A missing file is normal (not built yet). A file that cannot be read, or was built for
    another model, is reported with its reason and logged as a warning. The topology keeps the
    model, which pictures photo items whose files are absent."""
    from ..topology import FILENAME, Topology, TopologyError

    path = Path(model.directory or ".") / FILENAME
    if not path.is_file():
        return None, f"this checkpoint has no {FILENAME} (build it with `python -m train.topology --checkpoint DIR`)"
    try:
        topology = Topology.load(path)
    except (OSError, TopologyError) as e:  # a corrupt file must not stop the app, nor pass unnoticed
        reason = e.strerror if isinstance(e, OSError) and e.strerror else str(e)
        log.warning("cannot read %s: %s", path, reason)
        return None, f"cannot read {path.name}: {reason}"
    for attribute, size in model.config.latents.items():
        codes = topology.codes.get(attribute)
        if codes is None or codes.shape[1] != size:
            log.warning("%s was built for another model (%s codes do not match)", path, attribute)
            return None, f"{path.name} was built for another model ({attribute} codes do not match)"
    topology.model = model
    return topology, ""


def color_choices(topology) -> list[str]:
    """What this gallery's map can be coloured by (of :data:`COLOR_BY`), expression first."""
    from ..topology import colourings

    return colourings(topology, COLOR_BY)


def topology_note(topology) -> str:
    """Markdown: what the gallery is (per dataset: how much, and why it is held-out data) and its credits."""
    if topology.rendered:
        people = len(np.unique(topology.labels["identity"]))
        lines = [f"{len(topology)} generator faces of {people} people no model trained on"]
    else:
        _, from_files = photo_pictures(topology)
        decoded = len(topology) - from_files
        lines = [f"{len(topology)} photos the model never trained on", *topology.params.get("gallery", []),
                 f"Hover a point to see its face: {from_files} read from the data folder"
                 + (f", {decoded} decoded from their codes (not in {data_root()})" if decoded else "")]
    return "  \n".join(lines + topology.credits())


def topology_figure(topology, attribute: str = "expression", color_by: str = "expression",
                    code: Code | None = None):
    """Plotly scatter of the gallery's ``attribute`` UMAP, the given face starred at its approximate place;
    every point carries its thumbnail for :data:`HOVER_HEAD`."""
    from ..topology import figure

    if attribute not in topology.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(topology.attributes)}")
    if color_by not in color_choices(topology):
        raise ValueError(f"cannot colour by {color_by!r}; choose from {', '.join(color_choices(topology))}")
    marks = []
    if code is not None:
        marks.append((topology.place(attribute, getattr(code, attribute)), YOUR_FACE))
    return figure(topology, attribute, color_by, marks=marks, images=_hover_images(topology))


def retrieve(topology, code: Code, attribute: str, k: int = 8, size: int = 96) -> list[tuple[Image.Image, str]]:
    """The ``k`` gallery faces nearest to ``code`` by its ``attribute`` sub-vector, pictured at ``size`` px.

    Captions read ``"#20009 sadness d=0.11"`` (the generator's person) or ``"london/001 happiness d=0.11"``
    (a photo's person, or its dataset when unknown), then the code distance.
    """
    if attribute not in topology.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(topology.attributes)}")
    k = max(1, min(int(k), len(topology)))
    idx, dist = topology.neighbours(attribute, getattr(code, attribute), k=k)
    return [(image, f"{topology.caption(i)} d={d:.2f}")
            for image, i, d in zip(gallery_images(topology, idx, size), idx, dist)]


def gallery_images(topology, indices, size: int) -> list[Image.Image]:
    """Pictures of gallery items at ``size`` px: generator faces re-rendered, photos as :func:`photo_pictures`."""
    if topology.rendered:
        from ..synthetic import render_batch
        from ..topology import gallery_factors

        return [Image.fromarray(p) for p in render_batch(gallery_factors(topology, indices), size=size)]
    pictures, _ = photo_pictures(topology)
    return [Image.fromarray(pictures[i]).resize((size, size), Image.Resampling.BICUBIC) for i in indices]


@functools.lru_cache(maxsize=8)
def photo_pictures(topology) -> tuple[np.ndarray, int]:
    """Every photo item at the model's resolution, uint8 (N, S, S, 3), and how many came from files:
    read from the data folder where present (first call per process: reading, and aligning through
    the datasets' disk cache), the rest decoded from their codes by the topology's model."""
    from ..imageio import to_pil
    from ..topology import source_crops

    crops = source_crops(topology, data_root())
    missing = [i for i in range(len(topology)) if i not in crops]
    if missing:
        model = topology.model
        if model is None:
            raise ValueError("gallery photos are not in the data folder, and no model is loaded to decode them")
        z = np.concatenate([topology.codes[a][missing] for a in model.attributes], axis=1)
        decoded = [x for start in range(0, len(z), 256) for x in model.decode_tensor(z[start:start + 256])]
        crops |= {i: np.asarray(to_pil(x)) for i, x in zip(missing, decoded)}
    return np.stack([crops[i] for i in range(len(topology))]), len(topology) - len(missing)


@functools.lru_cache(maxsize=8)
def _hover_images(topology) -> list[str]:
    """One small WebP data: URI per gallery item (made once per process): about 1 kB each, half a JPEG's
    size at this scale, so a map of a thousand faces is about 1 MB."""
    def uri(image: Image.Image) -> str:
        buffer = io.BytesIO()
        image.convert("RGB").save(buffer, format="WEBP", quality=80)
        return "data:image/webp;base64," + base64.b64encode(buffer.getvalue()).decode()

    return [uri(im) for im in gallery_images(topology, range(len(topology)), HOVER_SIZE)]
