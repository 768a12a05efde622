"""Topology and Retrieval tabs: UMAP maps of each sub-code over a gallery of generator faces, and the
gallery faces nearest to a face by each sub-code."""

from __future__ import annotations

import logging
from pathlib import Path

from PIL import Image

from ..face_model import Code, FaceModel

COLOR_BY = ("expression", "identity", "intensity")  # generator labels of the gallery
YOUR_FACE = "your face (approx.)"

log = logging.getLogger(__name__)


def load_topology(model: FaceModel):
    """The checkpoint's ``topology.npz`` as ``(Topology, "")``, or ``(None, reason)``.

    A missing file is normal (not built yet). A file that cannot be read, or was built for
    another model, is reported with its reason and logged as a warning."""
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
    return topology, ""


def topology_figure(topology, attribute: str = "expression", color_by: str = "expression",
                    code: Code | None = None):
    """Plotly scatter of the gallery's ``attribute`` UMAP, the given face starred at its approximate place."""
    from ..synthetic import EXPRESSION_NAMES
    from ..topology import figure

    if attribute not in topology.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(topology.attributes)}")
    if color_by not in topology.labels or topology.labels[color_by].ndim != 1:
        raise ValueError(f"cannot colour by {color_by!r}; choose from {', '.join(COLOR_BY)}")
    marks = []
    if code is not None:
        marks.append((topology.place(attribute, getattr(code, attribute)), YOUR_FACE))
    return figure(topology, attribute, color_by, marks=marks, class_names=EXPRESSION_NAMES)


def retrieve(topology, code: Code, attribute: str, k: int = 8, size: int = 96) -> list[tuple[Image.Image, str]]:
    """The ``k`` gallery faces nearest to ``code`` by its ``attribute`` sub-vector, re-rendered.

    Captions read ``"#20009 sadness d=0.11"``: the generator's person, expression and the code distance.
    """
    from ..synthetic import EXPRESSION_NAMES, render_batch
    from ..topology import gallery_factors

    if attribute not in topology.attributes:
        raise ValueError(f"unknown attribute {attribute!r}; choose from {', '.join(topology.attributes)}")
    k = max(1, min(int(k), len(topology)))
    idx, dist = topology.neighbours(attribute, getattr(code, attribute), k=k)
    pixels = render_batch(gallery_factors(topology, idx), size=size)
    labels = topology.labels
    return [
        (Image.fromarray(p),
         f"#{int(labels['identity'][i])} {EXPRESSION_NAMES[int(labels['expression'][i])]} d={d:.2f}")
        for p, i, d in zip(pixels, idx, dist)
    ]
