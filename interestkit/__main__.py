"""``python -m interestkit``: the same as the ``interestkit`` command."""

from .cli import main

if __name__ == "__main__":
    main()
