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
- :mod:`.measured` — measured edits: the read-back under every edited, swapped and interpolated face
- :mod:`.exports` — PNG, GIF and MP4 exports for slides, into the app's result folder
- :mod:`.webcam` — the Live (webcam) tab
- :mod:`.presenter` — the Presenter tab: random face, one face through every model
- :mod:`.headpose` — frontalise and head turn, for models with a pose code in degrees
"""

from .common import (
    CHECKPOINT_ENV,
    DATA_ENV,
    DEFAULT_CHECKPOINT,
    EXAMPLE_IDENTITIES,
    HEADLINE,
    INLINE_CLASS,
    ResultFolder,
    checkpoint_argument,
    code_from_state,
    code_name,
    data_root,
    default_checkpoints,
    encode_face,
    encode_for_edits,
    encode_photo,
    evaluation_figures,
    face_state,
    example_faces,
    example_factors,
    image_from_inline,
    inline_image,
    labelled_attribute,
    layer_from_state,
    mean_code,
    model_card,
    model_name,
    model_summary,
    photo_detail_default,
    photo_examples,
    png_data_uri,
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
from .exports import dimension_choices, export_png, export_strip, export_sweep
from . import headpose  # noqa: F401  (D.headpose in app.py)
from .measured import (
    AVERAGE_FACE,
    interpolation_readback,
    readback_json,
    readback_markdown,
    slider_readback,
    swap_readback,
)
from .presenter import (
    compare_models,
    dimension_value,
    random_code,
    random_face,
    set_dimension,
)
from .sliders import (
    SliderSpec,
    apply_sliders,
    slider_attributes,
    slider_specs,
    slider_values,
)
from .swap import (
    EVERYTHING,
    default_attribute,
    interpolation_choices,
    interpolation_strip,
    swap_faces,
    swap_labels,
)
from .topology import (
    COLOR_BY,
    HOVER_HEAD,
    YOUR_FACE,
    color_choices,
    load_topology,
    retrieve,
    topology_figure,
    topology_note,
)
from .webcam import NO_FACE, LiveResult, Throttle, live_frame

__all__ = [
    "AVERAGE_FACE",
    "CHECKPOINT_ENV",
    "COLOR_BY",
    "DATA_ENV",
    "DEFAULT_CHECKPOINT",
    "EVERYTHING",
    "EXAMPLE_IDENTITIES",
    "HEADLINE",
    "HOVER_HEAD",
    "INLINE_CLASS",
    "NO_FACE",
    "YOUR_FACE",
    "LiveResult",
    "PhotoGallery",
    "ResultFolder",
    "SliderSpec",
    "Throttle",
    "apply_sliders",
    "checkpoint_argument",
    "code_from_state",
    "code_name",
    "color_choices",
    "compare_models",
    "data_root",
    "debug_dataset",
    "debug_sources",
    "default_attribute",
    "default_checkpoints",
    "dimension_choices",
    "dimension_value",
    "encode_face",
    "encode_for_edits",
    "encode_photo",
    "evaluation_figures",
    "evaluation_sections",
    "example_faces",
    "example_factors",
    "export_png",
    "export_strip",
    "export_sweep",
    "face_state",
    "image_from_inline",
    "inline_image",
    "interpolation_choices",
    "interpolation_readback",
    "interpolation_strip",
    "label_disagreements",
    "labelled_attribute",
    "layer_from_state",
    "live_frame",
    "load_topology",
    "mean_code",
    "model_card",
    "model_name",
    "model_summary",
    "photo_detail_default",
    "photo_examples",
    "photo_gallery",
    "png_data_uri",
    "probability_label",
    "random_code",
    "random_face",
    "read_json",
    "read_upload",
    "readback_json",
    "readback_markdown",
    "retrieve",
    "retrieve_photos",
    "save_examples",
    "set_dimension",
    "slider_attributes",
    "slider_readback",
    "slider_specs",
    "slider_values",
    "strip",
    "swap_faces",
    "swap_labels",
    "swap_readback",
    "topology_figure",
    "topology_note",
]
