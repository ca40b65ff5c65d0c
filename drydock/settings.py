"""One settings object for every path Drydock reads or writes (env prefix ``DRYDOCK_``).

All stores live under one root, ``DRYDOCK_HOME``, resolved once to an absolute path that does not
depend on the working directory: by default the repository's ``data/`` folder (found from this
package), otherwise the absolute path given (``~`` expanded). A relative ``DRYDOCK_HOME`` is an
error, because it would silently point somewhere else from every other directory. Tests point it at
a tmp dir. The bundled sample data is read from the repository's ``data/sample`` unless
``DRYDOCK_SAMPLE_DIR`` says otherwise. User strategies are discovered in ``$DRYDOCK_HOME/strategies``
or in the folders and files listed in ``DRYDOCK_STRATEGY_PATH`` (separated by ``os.pathsep``).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError, ValidationInfo, field_validator

from drydock.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent
ENV_PREFIX = "DRYDOCK_"


def environment_values() -> dict[str, str]:
    """``DRYDOCK_*`` environment variables by field name (prefix dropped, lower-cased)."""
    return {
        name[len(ENV_PREFIX) :].lower(): value
        for name, value in os.environ.items()
        if name.upper().startswith(ENV_PREFIX)
    }


class Settings(BaseModel):
    """Paths and defaults, read from ``DRYDOCK_*`` environment variables (keywords win).

    A plain pydantic model fed from the environment, like pydantic-settings' ``BaseSettings``
    with ``env_prefix="DRYDOCK_"`` but without its ~0.3 s import (the CLI starts faster).
    """

    model_config = ConfigDict(extra="ignore")

    def __init__(self, **values: Any) -> None:
        super().__init__(**{**environment_values(), **values})

    home: Path = REPO_ROOT / "data"
    sample_dir: Path = REPO_ROOT / "data" / "sample"
    #: Where the ``ohlcv`` asset gets bars: "sample" (bundled, offline) or "ccxt".
    ohlcv_source: str = "sample"
    #: ccxt exchange id used by the ccxt OHLCV source.
    ccxt_exchange: str = "binance"
    #: Log rendering: "console" for people, "json" for machines, "auto" (json when not a TTY).
    log_format: str = "auto"
    #: Minimum log level: debug, info, warning, error.
    log_level: str = "info"
    #: Extra strategy folders or .py files, separated by os.pathsep (default: $DRYDOCK_HOME/strategies).
    strategy_path: str = ""

    @field_validator("home", "sample_dir", mode="after")
    @classmethod
    def _absolute(cls, value: Path, info: ValidationInfo) -> Path:
        """Expand ``~`` and require an absolute path, so no path depends on the working directory."""
        return absolute_path(value, f"DRYDOCK_{(info.field_name or 'home').upper()}")

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
        try:
            return [absolute_path(Path(e.strip()), "DRYDOCK_STRATEGY_PATH") for e in entries]
        except ValueError as exc:
            raise ConfigError(str(exc)) from None

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


def absolute_path(value: Path, variable: str) -> Path:
    """``value`` with ``~`` expanded and resolved; a relative path is an error naming ``variable``."""
    expanded = value.expanduser()
    if not expanded.is_absolute():
        raise ValueError(
            f"{variable} {str(value)!r} is a relative path, which would mean a different place "
            f"from every working directory; give an absolute path, e.g. {Path.cwd() / value}."
        )
    return expanded.resolve()


def get_settings() -> Settings:
    """Read settings fresh from the environment; a bad value is a :class:`ConfigError`."""
    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(str(e["msg"]).removeprefix("Value error, ") for e in exc.errors())
        raise ConfigError(f"Invalid Drydock settings: {problems}") from None
