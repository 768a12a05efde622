"""The demo app's non-UI logic, one module per tab: plain functions over a
:class:`~facelab.face_model.FaceModel`, testable without a server (and without importing Gradio).

``app.py`` only wires Gradio components to these functions. Every sub-code of the model
(``model.attributes``: identity, expression, later pose, style...) is treated alike; expression is
special only as the labelled sub-code whose class probabilities are shown.

- :mod:`.common` — checkpoints, data folder, examples, uploads, codes, state, strips and result files, the
  page header
- :mod:`.sliders` — the Sliders tab
- :mod:`.swap` — the Swap and Interpolate tabs
- :mod:`.topology` — the Topology and Retrieval tabs
- :mod:`.evaluation` — the Evaluation tab (card sections, label debugging) and the photo gallery
"""

from .common import (
    CHECKPOINT_ENV,
    DATA_ENV,
    DEFAULT_CHECKPOINT,
    EXAMPLE_IDENTITIES,
    HEADLINE,
    ResultFolder,
    checkpoint_argument,
    code_from_state,
    code_name,
    data_root,
    default_checkpoints,
    encode_face,
    evaluation_figures,
    example_factors,
    example_faces,
    labelled_attribute,
    mean_code,
    model_card,
    model_name,
    model_summary,
    photo_examples,
    probability_label,
    read_json,
    read_upload,
    save_examples,
    strip,
)
from .evaluation import (
    PhotoGallery,
    debug_dataset,
    debug_sources,
    evaluation_sections,
    label_disagreements,
    photo_gallery,
    retrieve_photos,
)
from .sliders import SLIDER_STD, SliderSpec, apply_sliders, slider_attributes, slider_specs, slider_values
from .swap import (
    EVERYTHING,
    default_attribute,
    interpolation_choices,
    interpolation_strip,
    swap_faces,
    swap_labels,
)
from .topology import COLOR_BY, YOUR_FACE, load_topology, retrieve, topology_figure

__all__ = [
    "CHECKPOINT_ENV", "COLOR_BY", "DATA_ENV", "DEFAULT_CHECKPOINT", "EVERYTHING", "EXAMPLE_IDENTITIES", "HEADLINE",
    "PhotoGallery", "ResultFolder", "SLIDER_STD", "SliderSpec", "YOUR_FACE", "apply_sliders", "checkpoint_argument",
    "code_from_state", "code_name", "data_root", "debug_dataset", "debug_sources", "default_attribute",
    "default_checkpoints", "encode_face", "evaluation_figures", "evaluation_sections", "example_factors",
    "example_faces", "interpolation_choices", "interpolation_strip", "label_disagreements", "labelled_attribute",
    "load_topology", "mean_code", "model_card", "model_name", "model_summary", "photo_examples", "photo_gallery",
    "probability_label", "read_json", "read_upload", "retrieve", "retrieve_photos", "save_examples",
    "slider_attributes", "slider_specs", "slider_values", "strip", "swap_faces", "swap_labels", "topology_figure",
]
