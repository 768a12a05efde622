"""One expression vocabulary shared by every dataset, model and the app.

Datasets map their own folder or file-name codes onto these names, so a model trained on a
mix of datasets speaks one language. A missing label is ``MISSING`` (-1), never a guess.
"""

EXPRESSIONS = ("neutral", "happiness", "sadness", "surprise", "anger", "disgust", "fear", "contempt")
MISSING = -1


def expression_index(name: str) -> int:
    """Index of ``name`` in :data:`EXPRESSIONS`; raises ``KeyError`` for an unknown name."""
    try:
        return EXPRESSIONS.index(name)
    except ValueError:
        raise KeyError(f"unknown expression {name!r}; known: {', '.join(EXPRESSIONS)}") from None
