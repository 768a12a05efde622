"""Model registry: a method name in ``ModelConfig.method`` → the inference model class."""

from .disvae import DisVAE, IdentityVAE

MODELS = {"disvae": DisVAE}


def build_model(config):
    try:
        return MODELS[config.method](config)
    except KeyError:
        raise ValueError(f"unknown method {config.method!r}; known: {', '.join(MODELS)}") from None


__all__ = ["DisVAE", "IdentityVAE", "MODELS", "build_model"]
