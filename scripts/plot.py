"""Thin wrapper: the same as the `metanav-plot` console script."""

from metanav.commands.plot import main

if __name__ == "__main__":
    raise SystemExit(main())
