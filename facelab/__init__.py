"""facelab: disentangled face representations (expression, identity, later pose and style)."""

from .face_model import Code, FaceModel, load
from .labels import EXPRESSIONS

__all__ = ["Code", "FaceModel", "load", "EXPRESSIONS", "faces"]
__version__ = "0.1.0"


def faces(photo, config=None, detector=None):
    """Every face in ``photo``, largest first, each with box, landmarks, score and aligned crop."""
    from .align import faces as _faces

    return _faces(photo, config=config, detector=detector)
