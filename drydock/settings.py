"""One settings object for every path Drydock reads or writes (env prefix ``DRYDOCK_``).

All stores live under one root, ``DRYDOCK_HOME``, resolved once to an absolute path that does not
depend on the working directory: by default the repository's ``data/`` folder (found from this
package), otherwise the absolute path given (``~`` expanded). A relative ``DRYDOCK_HOME`` is an
error, because it would silently point somewhere else from every other directory. Tests point it at
a tmp dir. The bundled sample data is read from the repository's ``data/sample`` unless
``DRYDOCK_SAMPLE_DIR`` says otherwise, and the series catalog from ``config/series.toml`` unless
``DRYDOCK_SERIES_CATALOG`` names another absolute path. User strategies are discovered in
``$DRYDOCK_HOME/strategies`` or in the folders and files listed in ``DRYDOCK_STRATEGY_PATH``
(separated by ``os.pathsep``).
"""

from __future__ import annotations

import os
from pathlib import Path

from drydock.errors import ConfigError

__all__ = [
    "ENV_PREFIX",
    "LOG_FORMATS",
    "LOG_LEVELS",
    "REPO_ROOT",
    "Settings",
    "absolute_path",
    "environment_values",
    "get_settings",
]

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "DRYDOCK_"
LOG_FORMATS = ("auto", "console", "json")
LOG_LEVELS = ("debug", "info", "warning", "error", "critical")


def environment_values() -> dict[str, str]:
    """``DRYDOCK_*`` environment variables by field name (prefix dropped, lower-cased)."""
    return {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in os.environ.items()
        if name.upper().startswith(ENV_PREFIX)
    }


def _choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    cleaned = value.strip().lower()
    if cleaned not in allowed:
        raise ConfigError(
            f"DRYDOCK_{field.upper()} {value!r} is not valid; use one of {', '.join(allowed)}."
        )
    return cleaned


class Settings:
    """Paths and defaults, read from ``DRYDOCK_*`` environment variables (keywords win).

    A plain class rather than pydantic-settings' ``BaseSettings``: every field is a path or a
    short string validated here at load, and the CLI starts ~0.5 s faster without pydantic.
    Unknown ``DRYDOCK_*`` variables (API keys and the like) are ignored.
    """

    __slots__ = (
        "ccxt_exchange",
        "given",
        "home",
        "journal_url",
        "log_format",
        "log_level",
        "ohlcv_source",
        "sample_dir",
        "series_catalog",
        "strategy_path",
    )

    def __init__(self, **values: str | Path) -> None:
        known = set(self.__slots__) - {"given"}
        unknown = sorted(set(values) - known)
        if unknown:
            raise TypeError(f"Unknown settings {unknown}; known: {sorted(known)}")
        merged = {k: v for k, v in environment_values().items() if k in known} | values
        #: Fields set by the environment or a keyword rather than left at their default.
        self.given = frozenset(merged)
        #: Root of every generated store (absolute; the repository's data/ by default).
        self.home = absolute_path(Path(merged.get("home", REPO_ROOT / "data")), "DRYDOCK_HOME")
        #: The bundled sample data.
        self.sample_dir = absolute_path(
            Path(merged.get("sample_dir", REPO_ROOT / "data" / "sample")), "DRYDOCK_SAMPLE_DIR"
        )
        #: The series catalog (TOML): which markets the lake keeps; see drydock.catalog.
        self.series_catalog = absolute_path(
            Path(merged.get("series_catalog", REPO_ROOT / "config" / "series.toml")),
            "DRYDOCK_SERIES_CATALOG",
            folder=False,
        )
        #: Where the ``ohlcv`` asset gets bars: "sample" (bundled, offline) or "ccxt".
        self.ohlcv_source = str(merged.get("ohlcv_source", "sample"))
        #: ccxt exchange id used by the ccxt OHLCV source.
        self.ccxt_exchange = str(merged.get("ccxt_exchange", "binance"))
        #: Log rendering: "console" for people, "json" for machines, "auto" (json when no TTY).
        self.log_format = _choice("log_format", str(merged.get("log_format", "auto")), LOG_FORMATS)
        #: Minimum log level: debug, info, warning, error, critical.
        self.log_level = _choice("log_level", str(merged.get("log_level", "info")), LOG_LEVELS)
        #: The live journal on PostgreSQL (postgresql://user:pass@host/db); empty: SQLite at
        #: journal_path. Validated when the journal opens (live.journal.open_journal).
        self.journal_url = str(merged.get("journal_url", "")).strip()
        #: Extra strategy folders or .py files, separated by os.pathsep.
        self.strategy_path = str(merged.get("strategy_path", ""))

    @property
    def root(self) -> Path:
        """Absolute root of all generated stores."""
        return self.home.expanduser().resolve()

    @property
    def strategy_dirs(self) -> list[Path]:
        """Where user strategy modules are looked for: DRYDOCK_STRATEGY_PATH or home/strategies."""
        entries = [e for e in self.strategy_path.split(os.pathsep) if e.strip()]
        if not entries:
            return [self.root / "strategies"]
        return [absolute_path(Path(e), "DRYDOCK_STRATEGY_PATH", folder=False) for e in entries]

    @property
    def lake_dir(self) -> Path:
        return self.root / "lake"

    @property
    def warehouse_path(self) -> Path:
        return self.root / "warehouse.duckdb"

    @property
    def mlflow_dir(self) -> Path:
        return self.root / "mlflow"

    @property
    def mlflow_tracking_uri(self) -> str:
        return f"sqlite:///{self.mlflow_dir / 'mlflow.db'}"

    @property
    def mlflow_artifact_root(self) -> Path:
        return self.mlflow_dir / "artifacts"

    @property
    def live_dir(self) -> Path:
        return self.root / "live"

    @property
    def journal_path(self) -> Path:
        return self.live_dir / "journal.sqlite"

    @property
    def kill_file(self) -> Path:
        """A file whose presence stops all live trading (the kill switch that needs no process)."""
        return self.live_dir / "KILL"

    @property
    def dagster_home(self) -> Path:
        return self.root / "dagster"

    @property
    def numba_cache_dir(self) -> Path:
        return self.root / "numba_cache"

    @property
    def policy_dir(self) -> Path:
        """Bundled policy files (versioned with the code)."""
        return REPO_ROOT / "policies"


def absolute_path(value: Path, variable: str, folder: bool = True) -> Path:
    """``value`` stripped, ``~`` expanded and resolved; a relative path, an unknown ``~user`` or an
    existing non-folder is an error naming ``variable`` (so nothing is written somewhere else)."""
    value = Path(str(value).strip())
    try:
        expanded = value.expanduser()
    except RuntimeError:
        raise ConfigError(
            f"{variable} {str(value)!r} names a home directory that does not exist; give an "
            "absolute path."
        ) from None
    if folder and expanded.exists() and not expanded.is_dir():
        raise ConfigError(
            f"{variable} {str(value)!r} exists but is not a folder; point it at a folder."
        )
    if not expanded.is_absolute():
        raise ConfigError(
            f"{variable} {str(value)!r} is a relative path, which would mean a different place "
            f"from every working directory; give an absolute path, e.g. {Path.cwd() / value}."
        )
    return expanded.resolve()


def get_settings() -> Settings:
    """Read settings fresh from the environment; a bad value is a :class:`ConfigError`."""
    return Settings()
