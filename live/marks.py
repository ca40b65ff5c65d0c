"""Equity marks at bar closes, stored as arrays so a year of minute marks costs no Python objects.

The runner appends one mark per stepped bar and whole segments at once for the bars it skips
(:meth:`MarkLog.extend`); readers get the equity as floats and the times as a lazy sequence of
aware datetimes (converted only when read: 500k ``datetime`` objects take half a second).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import overload

import numpy as np

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def to_ns(ts: datetime) -> int:
    """Nanoseconds since the epoch of an aware datetime (exact to the microsecond)."""
    return (ts - EPOCH) // _US * 1000


class Times(Sequence[datetime]):
    """A read-only sequence of UTC datetimes over an int64 nanosecond array."""

    def __init__(self, ns: np.ndarray) -> None:
        self.ns = ns

    def __len__(self) -> int:
        return int(self.ns.shape[0])

    @overload
    def __getitem__(self, index: int) -> datetime: ...
    @overload
    def __getitem__(self, index: slice) -> list[datetime]: ...
    def __getitem__(self, index: int | slice) -> datetime | list[datetime]:
        if isinstance(index, slice):
            return [EPOCH + int(v) // 1000 * _US for v in self.ns[index]]
        return EPOCH + int(self.ns[index]) // 1000 * _US

    def __iter__(self) -> Iterator[datetime]:
        return iter(self[:])

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Times):
            return bool(np.array_equal(self.ns, other.ns))
        if isinstance(other, Sequence):
            return len(other) == len(self) and all(a == b for a, b in zip(self, other, strict=True))
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Times({len(self)} marks)"


class MarkLog:
    """Marks appended one by one or by segment; read back as one equity list and one Times."""

    def __init__(self) -> None:
        self._parts: list[tuple[np.ndarray, np.ndarray]] = []
        self._ts: list[int] = []
        self._eq: list[float] = []
        self.high: float = float("-inf")

    def __len__(self) -> int:
        return int(sum(p[0].shape[0] for p in self._parts)) + len(self._ts)

    def __bool__(self) -> bool:
        return bool(self._ts) or bool(self._parts)

    def append(self, ts: datetime, equity: float) -> None:
        self._ts.append(to_ns(ts))
        self._eq.append(equity)

    def extend(self, ns: np.ndarray, equity: np.ndarray) -> None:
        """Add a segment of marks (int64 ns, float64 equity) in one step."""
        self._flush()
        self._parts.append((ns.astype(np.int64, copy=False), equity.astype(np.float64, copy=False)))

    def _flush(self) -> None:
        if self._ts:
            self._parts.append((np.asarray(self._ts, dtype=np.int64), np.asarray(self._eq)))
            self._ts, self._eq = [], []

    def _arrays(self) -> tuple[np.ndarray, np.ndarray]:
        self._flush()
        if not self._parts:
            return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.float64)
        if len(self._parts) > 1:
            ns = np.concatenate([p[0] for p in self._parts])
            eq = np.concatenate([p[1] for p in self._parts])
            self._parts = [(ns, eq)]
        return self._parts[0]

    def replace_last(self, equity: float) -> None:
        """Set the last mark's equity (the end-of-run rule closed the position at that close)."""
        _ns, eq = self._arrays()
        if eq.shape[0]:
            self._parts = [(_ns, eq.copy())]
            self._parts[0][1][-1] = equity

    def times(self) -> Times:
        return Times(self._arrays()[0])

    def equity(self) -> list[float]:
        return list(self._arrays()[1].tolist())
