"""Bar files people already have (CSV, freqtrade feather/JSON, Parquet) read into bar columns.

:func:`load_file` recognises the layout and the columns and parses timestamps, but validates
nothing: the rows go through the same :func:`drydock.ohlcv.write_bars` checks and quarantine as
downloads (:func:`import_file`). A file that cannot be recognised raises one
:class:`DrydockError` line naming the file, what was found and the fix, before anything is
written.

Timestamps: epoch numbers are read per row by magnitude (below 1e11 seconds, int or float; below
1e14 milliseconds; below 1e17 microseconds; else nanoseconds), because CryptoDataDownload mixes
ms and float seconds in one column; ISO strings with an offset (``+0000``, ``+05:30``, ``Z``) are
converted to UTC, naive ones are taken as UTC. A file sorted newest-first as a whole is reversed
before validation, rows sharing a timestamp keeping their file order (so the first of
CryptoDataDownload's ms/seconds twin rows wins); single backwards rows stay and are quarantined
as out-of-order.

Rows whose timestamp or numbers do not parse are ``parse_errors``. They have no trustworthy UTC
day, so they do not go to the day-keyed bar quarantine: :func:`import_file` writes them, with the
source line and raw text, to ``<lake>/_quarantine/imports/exchange=/symbol=/timeframe=/
source=<file name>/part-0.parquet`` (replaced on each import of that file name).
"""

from __future__ import annotations

import csv
import gzip
import json
import math
import re
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path

import polars as pl

from drydock import lake, ohlcv
from drydock.errors import DrydockError
from drydock.series import SeriesKey
from drydock.symbols import canonical_symbol
from drydock.timeframes import timeframe_seconds

__all__ = [
    "ALIASES",
    "FORMATS",
    "IMPORTS_QUARANTINE",
    "PRICES",
    "ImportReport",
    "Loaded",
    "NameHints",
    "detect_format",
    "import_parse_errors",
    "load_file",
    "name_hints",
    "parse_timestamps",
    "write_loaded",
]

FORMATS = ("csv", "freqtrade", "parquet")
IMPORTS_QUARANTINE = "_quarantine/imports"
PRICES = ("open", "high", "low", "close")
#: Accepted column names per bar field (case-insensitive), in order of preference.
ALIASES: dict[str, tuple[str, ...]] = {
    "ts": (
        "unix",
        "timestamp",
        "open_time",
        "opentime",
        "open time",
        "ts",
        "time",
        "datetime",
        "date",
        "date_time",
        "unix timestamp",
    ),
    "open": ("open", "o"),
    "high": ("high", "h"),
    "low": ("low", "l"),
    "close": ("close", "c"),
    "volume": ("volume", "vol", "v", "base_volume", "volume_base", "basevolume"),
}
_QUOTES = frozenset({"USDT", "USD", "USDC", "BUSD", "TUSD", "FDUSD", "DAI", "EUR", "GBP", "TRY"})
_FREQTRADE_NAME = re.compile(
    r"^(?P<pair>[A-Za-z0-9]+(?:_[A-Za-z0-9]+){1,2})-(?P<tf>\d+[mhdw])"
    r"(?:-(?P<kind>spot|futures|mark|index|premiumIndex|funding_rate))?"
    r"\.(?:feather|json|json\.gz|jsongz|parquet)$"
)
_PARSE_ERRORS_SCHEMA = {"line": pl.Int64, "raw": pl.String, "reason": pl.String}


@dataclass(frozen=True, slots=True)
class Loaded:
    """A file read into bar columns (``frame``, unvalidated) and the rows that did not parse."""

    frame: pl.DataFrame
    fmt: str
    columns_used: dict[str, str]
    parse_errors: pl.DataFrame
    reversed: bool = False
    source: Path = field(default_factory=Path)


@dataclass(frozen=True, slots=True)
class NameHints:
    """What a freqtrade file name says: symbol, timeframe and the bar dataset it belongs to."""

    symbol: str
    timeframe: str
    dataset: str


def _fail(path: Path, problem: str, fix: str) -> DrydockError:
    return DrydockError(f"Cannot import {path}: {problem}. {fix}")


def name_hints(path: Path) -> NameHints | None:
    """Symbol, timeframe and dataset from a freqtrade name ('BTC_USDT_USDT-1h-futures.feather')."""
    match = _FREQTRADE_NAME.match(path.name)
    if match is None:
        return None
    parts = match["pair"].upper().split("_")
    symbol = f"{parts[0]}/{parts[1]}" + (f":{parts[2]}" if len(parts) == 3 else "")
    kind = match["kind"]
    if kind in ("funding_rate", "index", "premiumIndex"):
        raise _fail(
            path,
            f"it is a freqtrade {kind} file, not trade or mark-price bars",
            "Import candle files (BTC_USDT-1h.feather, ...-futures.feather, ...-mark.feather).",
        )
    return NameHints(
        canonical_symbol(symbol), match["tf"], "mark_prices" if kind == "mark" else "ohlcv"
    )


def detect_format(path: Path) -> str:
    """'csv', 'freqtrade' or 'parquet' from the file name."""
    name = path.name.lower()
    if name.endswith((".feather", ".json", ".json.gz", ".jsongz", ".arrow", ".ipc")):
        return "freqtrade"
    if name.endswith((".parquet", ".pq")):
        return "parquet"
    return "csv"


def _match_columns(path: Path, columns: list[str], symbol: str | None) -> dict[str, str]:
    """Map bar fields to the file's columns (field -> column name)."""
    lowered = {c.strip().lower(): c for c in columns}
    used: dict[str, str] = {}
    for field_name, names in ALIASES.items():
        hit = next((lowered[n] for n in names if n in lowered), None)
        if hit is not None:
            used[field_name] = hit
    if "ts" not in used and columns and columns[0].strip().lower() in ("", "index", "unnamed: 0"):
        used["ts"] = columns[0]  # pandas' to_csv writes the datetime index as a nameless column
    if "volume" not in used:
        picked = _volume_column(columns, symbol)
        if picked is not None:
            used["volume"] = picked
    missing = [f for f in ("ts", *PRICES) if f not in used]
    if missing:
        accepted = "; ".join(f"{f}: {', '.join(ALIASES[f])}" for f in missing)
        raise _fail(
            path,
            f"no {' / '.join(missing)} column among {columns}",
            f"Rename the columns (case-insensitive) to one of: {accepted}.",
        )
    return used


def _volume_column(columns: list[str], symbol: str | None) -> str | None:
    """The base-asset volume among 'Volume BTC', 'Volume USDT', ... (quote volumes last)."""
    candidates = [c for c in columns if re.fullmatch(r"(?i)\s*vol(ume)?[ _]?\w+\s*", c)]
    candidates = [c for c in candidates if "quote" not in c.lower()]
    if not candidates:
        return None
    base = symbol.split("/")[0] if symbol else None

    def unit(column: str) -> str:
        return re.sub(r"(?i)^\s*vol(ume)?[ _]?", "", column).strip().upper()

    for column in candidates:
        if base is not None and unit(column) == base:
            return column
    non_quote = [c for c in candidates if unit(c) not in _QUOTES]
    return (non_quote or candidates)[0]


def _epoch_to_us(values: pl.Expr) -> pl.Expr:
    """Epoch numbers to microseconds, the unit chosen per row by magnitude."""
    size = values.abs()
    return (
        pl.when(size < 1e11)
        .then(values * 1e6)
        .when(size < 1e14)
        .then(values * 1e3)
        .when(size < 1e17)
        .then(values)
        .otherwise(values / 1e3)
        .round(0)
        .cast(pl.Int64, strict=False)
    )


_AWARE_FORMAT = "%Y-%m-%d %H:%M:%S%.f%z"
_NAIVE_FORMATS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%d", "%Y-%m-%d %I:%M %p")
_UTC_US = pl.Datetime("us", "UTC")
_TS = "\0ts"  # the parsed timestamp while the source columns are still around


def _parse_text_ts(text: pl.Series) -> pl.Series:
    """ISO-like strings to UTC: offsets converted, naive = UTC; CDD's '2017-08-17 04-AM' too.

    Each format is tried only on the rows no earlier format parsed (one pass for a clean file).
    """
    out = text.str.to_datetime(_AWARE_FORMAT, strict=False, time_unit="us")
    out = out.dt.convert_time_zone("UTC")
    todo = out.is_null() & text.is_not_null()
    if not todo.any():
        return out
    norm = (
        text.filter(todo)
        .str.replace(r"^(\d{4}-\d{2}-\d{2})T", "$1 ")
        .str.replace(r"(?i)\s*(Z|UTC)$", "+00:00")
        .str.replace(r"(?i)^(\d{4}-\d{2}-\d{2}) (\d{1,2})-(AM|PM)$", "$1 $2:00 $3")
    )
    found = norm.str.to_datetime(_AWARE_FORMAT, strict=False, time_unit="us")
    found = found.dt.convert_time_zone("UTC")
    for fmt in _NAIVE_FORMATS:
        left = found.is_null()
        if not left.any():
            break
        naive = norm.filter(left).str.to_datetime(fmt, strict=False, time_unit="us")
        found = found.scatter(left.arg_true(), naive.dt.replace_time_zone("UTC"))
    return out.scatter(todo.arg_true(), found)


def _epoch_series(values: pl.Series) -> pl.Series:
    """Epoch numbers (unit per row by magnitude) as UTC microseconds."""
    us = pl.select(_epoch_to_us(pl.lit(values))).to_series()
    return us.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")


def parse_timestamps(column: pl.Series) -> pl.Series:
    """Any timestamp column (datetime, date, epoch numbers, text) as UTC microseconds."""
    dtype = column.dtype
    if isinstance(dtype, pl.Datetime):
        aware = column.dt.replace_time_zone("UTC") if dtype.time_zone is None else column
        return aware.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    if isinstance(dtype, pl.Date):
        return column.cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    if dtype.is_numeric():
        return _epoch_series(column.cast(pl.Float64))
    text = column.cast(pl.String).str.strip_chars()
    numeric = text.cast(pl.Float64, strict=False)
    out = _epoch_series(numeric)
    todo = numeric.is_null() & text.is_not_null() & (text != "")
    if todo.any():
        out = out.scatter(todo.arg_true(), _parse_text_ts(text.filter(todo)))
    return out.cast(_UTC_US)


def _to_bars(path: Path, raw: pl.DataFrame, fmt: str, symbol: str | None) -> Loaded:
    """Pick columns, parse them, split off unparseable rows and undo a newest-first order."""
    if raw.height == 0:
        raise _fail(path, f"it has no data rows (columns: {raw.columns})", "Check the file.")
    used = _match_columns(path, raw.columns, symbol)
    numbers: dict[str, pl.Expr] = {
        f: pl.col(used[f]).str.strip_chars().cast(pl.Float64, strict=False)
        if raw.schema[used[f]] == pl.String
        else pl.col(used[f]).cast(pl.Float64)
        for f in ("open", "high", "low", "close", "volume")
        if f in used
    }
    parsed = raw.with_columns(parse_timestamps(raw[used["ts"]]).alias(_TS)).select(
        pl.col(_TS).alias("ts"),
        *[expr.alias(f) for f, expr in numbers.items()],
        *([] if "volume" in used else [pl.lit(0.0).alias("volume")]),
        reason=_reason(raw, used, numbers),
    )
    failed = parsed["reason"].is_not_null()
    errors = (
        raw.with_row_index("line", offset=2 if fmt == "csv" else 1)
        .filter(failed)
        .select(
            pl.col("line").cast(pl.Int64),
            pl.concat_str([pl.col(c).cast(pl.String) for c in raw.columns], separator=",")
            .fill_null("(has empty fields)")
            .alias("raw"),
        )
        .with_columns(reason=parsed["reason"].filter(failed))
    )
    frame = parsed.filter(~failed).select("ts", *ohlcv.NUMERIC)
    if frame.height == 0 and errors.height:
        first = errors.row(0, named=True)
        raise _fail(
            path,
            f"none of its {raw.height:,} rows parsed (line {first['line']}: {first['reason']})",
            "Check the timestamp and number columns.",
        )
    steps = frame["ts"].diff().dt.total_microseconds().drop_nulls()
    newest_first = steps.len() > 0 and int((steps < 0).sum()) > int((steps > 0).sum())
    if newest_first:  # reverse runs of equal timestamps as blocks: the file's first row wins
        run = (pl.col("ts") != pl.col("ts").shift(1)).fill_null(True).cum_sum()
        frame = frame.sort(run, descending=True, maintain_order=True)
    return Loaded(frame, fmt, used, errors, newest_first, path)


def _reason(raw: pl.DataFrame, used: dict[str, str], numbers: dict[str, pl.Expr]) -> pl.Expr:
    """Why a row did not parse: a present timestamp or number that is not readable."""
    ts_col = pl.col(used["ts"])
    present = ts_col.is_not_null()
    if raw.schema[used["ts"]] == pl.String:
        present = present & (ts_col.str.strip_chars() != "")
    checks = [
        pl.when(present & pl.col(_TS).is_null()).then(
            pl.format("unparseable timestamp '{}'", ts_col.cast(pl.String))
        )
    ]
    for f, expr in numbers.items():
        source = pl.col(used[f])
        if raw.schema[used[f]] == pl.String:
            bad = source.is_not_null() & (source.str.strip_chars() != "") & expr.is_null()
            checks.append(
                pl.when(bad).then(pl.format(f"unparseable number in {f}: '{{}}'", source))
            )
    return pl.coalesce(checks)


def _sniff_delimiter(path: Path, sample: str) -> str:
    try:
        return csv.Sniffer().sniff(sample, delimiters=",;\t|").delimiter
    except csv.Error:
        return ","


def _read_csv(path: Path) -> pl.DataFrame:
    """Every column as text (numbers and timestamps are parsed afterwards, row by row)."""
    head = path.read_bytes()[:65_536]
    if not head.strip():
        raise _fail(path, "the file is empty", "Export the bars again.")
    if b"\x00" in head:
        raise _fail(
            path, "it holds binary data, not CSV text", "Give a CSV, feather, JSON or Parquet file."
        )
    try:
        sample = head.decode("utf-8")
    except UnicodeDecodeError:
        sample = head.decode("latin-1")
    delimiter = _sniff_delimiter(path, sample)
    first = sample.splitlines()[0].split(delimiter)[0].strip().strip('"')
    has_header = not re.fullmatch(r"-?\d+(\.\d+)?", first)
    try:
        frame = pl.read_csv(
            path,
            separator=delimiter,
            infer_schema=False,
            has_header=has_header,
            encoding="utf8-lossy",
            null_values=["", "NULL", "null", "NA"],
        )
    except pl.exceptions.PolarsError as exc:
        raise _fail(
            path,
            f"it is not a consistent {delimiter!r}-delimited CSV ({str(exc).splitlines()[0][:160]})",
            "Check that every line has the same number of fields as the header.",
        ) from None
    if not has_header:  # e.g. data.binance.vision klines: open_time, o, h, l, c, v, ...
        if frame.width < 6:
            raise _fail(
                path,
                f"it has no header and {frame.width} columns",
                "Add a header line (timestamp,open,high,low,close,volume) or give at least "
                "6 columns in that order.",
            )
        names = ["timestamp", "open", "high", "low", "close", "volume"]
        frame = frame.rename(dict(zip(frame.columns[:6], names, strict=True)))
    return frame


def _read_freqtrade(path: Path) -> pl.DataFrame:
    """freqtrade's feather (date, open, ..., volume) or JSON ``[[ms, o, h, l, c, v], ...]``."""
    name = path.name.lower()
    if name.endswith((".json", ".json.gz", ".jsongz")):
        opener = gzip.open if name.endswith(("gz",)) else open
        try:
            with opener(path, "rt", encoding="utf-8") as handle:
                rows = json.load(handle)
        except (OSError, ValueError, UnicodeDecodeError) as exc:
            raise _fail(
                path,
                f"it is not JSON ({exc})",
                "Give freqtrade's [[ms, o, h, l, c, v], ...] layout.",
            ) from None
        if not isinstance(rows, list) or not all(isinstance(r, list) and len(r) >= 6 for r in rows):
            raise _fail(
                path,
                "the JSON is not a list of [ms, open, high, low, close, volume] rows",
                "Give freqtrade's candle JSON.",
            )
        names = ["date", "open", "high", "low", "close", "volume"]
        return pl.DataFrame(
            [r[:6] for r in rows], schema=names, orient="row", infer_schema_length=None
        )
    try:
        return pl.read_ipc(path)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _fail(
            path,
            f"it is not a feather/Arrow IPC file ({str(exc)[:120]})",
            "Give freqtrade's .feather candles.",
        ) from None


def _read_parquet(path: Path) -> pl.DataFrame:
    try:
        return pl.read_parquet(path, hive_partitioning=False)
    except (pl.exceptions.PolarsError, OSError) as exc:
        raise _fail(
            path,
            f"it is not a readable Parquet file ({str(exc)[:120]})",
            "Give a Parquet file with bar columns.",
        ) from None


def load_file(
    path: Path, *, timeframe: str, fmt: str | None = None, symbol: str | None = None
) -> Loaded:
    """Read one bar file into bar columns (unvalidated) plus its unparseable rows.

    ``fmt`` is 'csv', 'freqtrade' or 'parquet' (default: from the file name). ``symbol`` only
    helps pick the base-asset volume among several volume columns.
    """
    timeframe_seconds(timeframe)
    if not path.is_file():
        raise _fail(path, "no such file", "Check the path.")
    fmt = (fmt or detect_format(path)).strip().lower()
    if fmt not in FORMATS:
        raise DrydockError(
            f"Unknown import format {fmt!r} for {path}; use one of {', '.join(FORMATS)}."
        )
    if path.stat().st_size == 0:
        raise _fail(path, "the file is empty", "Export the bars again.")
    reader = {"csv": _read_csv, "freqtrade": _read_freqtrade, "parquet": _read_parquet}[fmt]
    return _to_bars(path, reader(path), fmt, symbol)


@dataclass(frozen=True, slots=True)
class ImportReport:
    """What importing one file did."""

    source: Path
    key: SeriesKey
    dataset: str
    rows_read: int
    rows_written: int
    rows_quarantined: int
    reasons: dict[str, int]
    first_bar: datetime | None
    last_bar: datetime | None
    days: tuple[date, ...]
    columns_used: dict[str, str]
    reversed: bool
    #: Bars of the file whose return is an outlier (as ``drydock data status`` counts them).
    outliers: tuple[datetime, ...] = ()
    #: Whether outlier bars were quarantined (``--strict``) rather than written and flagged.
    strict: bool = False


def write_loaded(
    loaded: Loaded,
    key: SeriesKey,
    *,
    dataset: str = "ohlcv",
    lake_dir: Path | None = None,
    strict: bool = False,
) -> ImportReport:
    """Merge a loaded file into the lake (frame rows win on equal timestamps) and quarantine.

    Outlier returns (:mod:`drydock.quality`, judged within the file) are reported; with
    ``strict`` the bad prints behind them (:func:`drydock.quality.spike_rows`) are quarantined
    with the reason, in the same write as the rest (never half-written).
    """
    from drydock import quality

    flagged = quality.outlier_bars(loaded.frame, key.timeframe)
    reject: dict[datetime, str] = {}
    if strict and flagged.height:
        sigma = f"{quality.OUTLIER_SIGMA:g}"
        for ts, ret in quality.spike_rows(loaded.frame, key.timeframe).iter_rows():
            reject[ts] = f"outlier (--strict): jump of {math.expm1(ret):+.0%} beyond {sigma} sigma"
    report = ohlcv.write_bars(
        key, loaded.frame, mode="merge", dataset=dataset, lake_dir=lake_dir, reject=reject
    )
    reasons = dict(report.reasons)
    errors = loaded.parse_errors
    for reason in errors["reason"].str.extract(r"^(unparseable \w+)").to_list():
        reasons[reason] = reasons.get(reason, 0) + 1
    _write_parse_errors(loaded, key, dataset, lake_dir)
    written = None
    if report.rows_written:
        written = ohlcv.split_valid(loaded.frame, key.timeframe)[0]["ts"]
        if reject:
            written = written.filter(~written.is_in(list(reject)))
    return ImportReport(
        source=loaded.source,
        key=key,
        dataset=dataset,
        rows_read=loaded.frame.height + errors.height,
        rows_written=report.rows_written,
        rows_quarantined=report.rows_quarantined + errors.height,
        reasons=reasons,
        first_bar=None if written is None else written.min(),  # type: ignore[arg-type]
        last_bar=None if written is None else written.max(),  # type: ignore[arg-type]
        days=report.days,
        columns_used=loaded.columns_used,
        reversed=loaded.reversed,
        outliers=tuple(flagged["ts"].to_list()),
        strict=strict,
    )


def _write_parse_errors(
    loaded: Loaded, key: SeriesKey, dataset: str, lake_dir: Path | None
) -> None:
    """Keep the unparseable rows of this source file (replaced per import; removed when none)."""
    keys = {**key.keys(), "dataset": dataset, "source": loaded.source.name}
    folder = lake.partition_dir(IMPORTS_QUARANTINE, keys, lake_dir)
    path = folder / lake.PART_FILE
    errors = loaded.parse_errors.cast(_PARSE_ERRORS_SCHEMA)  # type: ignore[arg-type]
    with lake.partition_lock(folder, lake_dir):
        if errors.height == 0:
            lake.remove_partition(IMPORTS_QUARANTINE, keys, lake_dir)
            return
        if path.exists() and pl.read_parquet(path, hive_partitioning=False).equals(errors):
            return
        lake.atomic_write_parquet(errors, path)


def import_parse_errors(
    key: SeriesKey, lake_dir: Path | None = None, dataset: str = "ohlcv"
) -> int:
    """How many unparseable import rows are kept for one series of ``dataset`` (all sources)."""
    pattern = {**key.keys(), "dataset": dataset}
    files = lake.partition_files(IMPORTS_QUARANTINE, pattern, lake_dir)
    return sum(pl.read_parquet(f, hive_partitioning=False).height for f in files)
