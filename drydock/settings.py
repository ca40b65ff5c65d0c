"""One settings object for every path Drydock reads or writes (env prefix ``DRYDOCK_``).

All stores live under one root, ``DRYDOCK_HOME`` (default ``./data``); tests point it at a tmp dir.
The bundled sample data is read from the repository's ``data/sample`` unless
``DRYDOCK_SAMPLE_DIR`` says otherwise.
"""

from __future__ import annotations

from pathlib import Path

from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """Paths and defaults, read from ``DRYDOCK_*`` environment variables."""

    model_config = SettingsConfigDict(env_prefix="DRYDOCK_", extra="ignore")

    home: Path = Path("data")
    sample_dir: Path = REPO_ROOT / "data" / "sample"
    #: Where the ``ohlcv`` asset gets bars: "sample" (bundled, offline) or "ccxt".
    ohlcv_source: str = "sample"
    #: ccxt exchange id used by the ccxt OHLCV source.
    ccxt_exchange: str = "binance"
    #: Log rendering: "console" for people, "json" for machines, "auto" (json when not a TTY).
    log_format: str = "auto"
    #: Minimum log level: debug, info, warning, error.
    log_level: str = "info"

    @property
    def root(self) -> Path:
        """Absolute root of all generated stores."""
        return self.home.expanduser().resolve()

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


def get_settings() -> Settings:
    """Read settings fresh from the environment (cheap; keeps tests free of stale caches)."""
    return Settings()
