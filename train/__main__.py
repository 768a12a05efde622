"""``python -m train`` is ``python -m train.disvae`` (the only method so far)."""

from .disvae import main

main()
