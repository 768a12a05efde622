"""``python -m train --method NAME ...``: train a checkpoint with any registered method (train.fit)."""

from .fit import main

main()
