"""Building blocks shared by every method: conv encoders/decoders and the split autoencoder.

Methods (model + losses + stages + options) live in :mod:`facelab.methods`; this package holds
only the modules they assemble.
"""

from .blocks import ConvTrunk, Decoder, Encoder, reparameterize
from .network import FaceNetwork, SplitAutoencoder

__all__ = ["ConvTrunk", "Decoder", "Encoder", "FaceNetwork", "SplitAutoencoder", "reparameterize"]
