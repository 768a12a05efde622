"""Building blocks shared by every method: conv encoders/decoders and the split autoencoder.

Methods (model + losses + stages + options) live in :mod:`facelab.methods`; this package holds
only the modules they assemble.
"""

from .aae import AttributeSplitAAE, ImageDiscriminator, LatentDiscriminator
from .blocks import ConvTrunk, Decoder, Encoder, reparameterize
from .network import FaceNetwork, SplitAutoencoder
from .patch_critic import PatchDiscriminator

__all__ = ["AttributeSplitAAE", "ConvTrunk", "Decoder", "Encoder", "FaceNetwork", "ImageDiscriminator",
           "LatentDiscriminator", "PatchDiscriminator", "SplitAutoencoder", "reparameterize"]
