"""``python -m train.disvae ...`` is ``python -m train --method disvae ...`` (kept for older commands)."""

from __future__ import annotations

from .fit import main as _main


def main(argv=None):
    return _main(argv, method="disvae", program="train.disvae")


if __name__ == "__main__":
    main()
