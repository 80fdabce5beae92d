"""One key/value logger with pluggable outputs: CSV, TensorBoard, a callback.

Keys are namespaced: ``train/`` (meta-training statistics, written by the
trainer), ``time/`` (its counters and clocks) and ``eval/`` (the numbers of an
evaluation after 0..K inner steps, written by ``metanav-eval --tensorboard``).
Every output writes a key under the same name, so a column of ``metrics.csv``
and a TensorBoard scalar of one run are the same series. Every key is
documented in ``docs/metrics.md``. The library logs through this class and the
``logging`` module; only the command front ends print.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["Logger", "CSVOutput", "TensorBoardOutput", "CallbackOutput"]


class CSVOutput:
    """Appends one row per ``write`` to a CSV file with a fixed header."""

    def __init__(self, path: Path, keys: Sequence[str]) -> None:
        self.path = path
        self.keys = list(keys)
        new = not path.exists() or path.stat().st_size == 0
        self._file = path.open("a", newline="")
        self._writer = csv.DictWriter(self._file, fieldnames=self.keys)
        if new:
            self._writer.writeheader()
            self._file.flush()

    def write(self, values: dict[str, Any], step: int) -> None:
        row = {k: _csv_value(values.get(k)) for k in self.keys}
        self._writer.writerow(row)
        self._file.flush()

    def close(self) -> None:
        self._file.close()


def _csv_value(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    if isinstance(value, float):
        return repr(value)
    return value


class TensorBoardOutput:
    """Writes every numeric value as a TensorBoard scalar, under the same key."""

    def __init__(self, logdir: Path) -> None:
        import tensorflow as tf

        self._tf = tf
        self._writer = tf.summary.create_file_writer(str(logdir))

    def write(self, values: dict[str, Any], step: int) -> None:
        with self._writer.as_default(step=step):
            for key, value in values.items():
                numeric = isinstance(value, (int, float)) and key != "iteration"
                if numeric and not math.isnan(value):
                    self._tf.summary.scalar(key, value)
        self._writer.flush()

    def close(self) -> None:
        self._writer.close()


class CallbackOutput:
    """Hands every row to a function (the command's progress bar, say)."""

    def __init__(self, fn: Callable[[dict[str, Any], int], None]) -> None:
        self.fn = fn

    def write(self, values: dict[str, Any], step: int) -> None:
        self.fn(values, step)

    def close(self) -> None:
        pass


class Logger:
    """Collects values with :meth:`record`, then writes them with :meth:`dump`."""

    def __init__(self, outputs: Sequence[Any] = ()) -> None:
        self.outputs = list(outputs)
        self._values: dict[str, Any] = {}

    def record(self, key: str, value: Any) -> None:
        self._values[key] = value

    def record_many(self, values: dict[str, Any]) -> None:
        self._values.update(values)

    def dump(self, step: int) -> dict[str, Any]:
        values, self._values = self._values, {}
        for output in self.outputs:
            output.write(values, step)
        return values

    def close(self) -> None:
        for output in self.outputs:
            output.close()
