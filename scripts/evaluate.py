"""Thin wrapper: the same as the `metanav-eval` console script."""

from metanav.commands.evaluate import main

if __name__ == "__main__":
    raise SystemExit(main())
