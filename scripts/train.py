"""Thin wrapper: the same as the `metanav-train` console script."""

from metanav.commands.train import main

if __name__ == "__main__":
    raise SystemExit(main())
