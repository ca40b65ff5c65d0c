"""Results of a sweep streamed to Parquet: one row group per chunk into a temp file in the target
folder, fsynced and renamed over the target at :meth:`ResultsWriter.commit`; a sweep that fails
or is interrupted leaves no partial table (and any previous file at that path intact)."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np
import numpy.typing as npt


class ResultsWriter:
    """Append chunks of ``{column: array}`` rows, then commit atomically (a context manager that
    discards the temp file unless committed)."""

    def __init__(self, path: Path, metadata: dict[str, str] | None = None) -> None:
        self.path = path
        self.metadata = {k.encode(): v.encode() for k, v in (metadata or {}).items()}
        self.rows = 0
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, name = tempfile.mkstemp(prefix=".tmp-", suffix=".parquet", dir=path.parent)
        self._handle = os.fdopen(fd, "wb")
        self._tmp = Path(name)
        self._writer: Any = None

    def append(self, columns: dict[str, npt.NDArray[Any]]) -> None:
        """Write one chunk as a row group (columns keep their order and dtypes)."""
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.table({k: np.asarray(v) for k, v in columns.items()})
        if self._writer is None:
            schema = table.schema.with_metadata(self.metadata)
            self._writer = pq.ParquetWriter(self._handle, schema, compression="zstd")
        self._writer.write_table(table.cast(self._writer.schema))
        self.rows += table.num_rows

    def commit(self) -> Path:
        """Close, fsync and rename the temp file over :attr:`path`."""
        if self._writer is None:
            raise RuntimeError("ResultsWriter.commit() before any append()")
        self._writer.close()
        self._handle.flush()
        os.fsync(self._handle.fileno())
        self._handle.close()
        os.replace(self._tmp, self.path)
        dir_fd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
        return self.path

    def discard(self) -> None:
        """Drop the temp file (nothing is written at :attr:`path`)."""
        if self._writer is not None:
            with contextlib.suppress(Exception):  # already failing: removing the file matters
                self._writer.close()
        if not self._handle.closed:
            self._handle.close()
        self._tmp.unlink(missing_ok=True)

    def __enter__(self) -> ResultsWriter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if self._tmp.exists():
            self.discard()
