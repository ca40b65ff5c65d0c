"""Settings: one absolute home whatever the working directory; env values validated at load."""

from __future__ import annotations

from pathlib import Path

import pytest

from drydock.errors import ConfigError
from drydock.settings import REPO_ROOT, Settings, get_settings


def test_default_home_is_the_repository_data_folder_from_any_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("DRYDOCK_HOME", raising=False)
    monkeypatch.chdir(tmp_path)
    settings = get_settings()
    assert settings.root == REPO_ROOT / "data"
    assert settings.kill_file == REPO_ROOT / "data" / "live" / "KILL"
    assert settings.strategy_dirs == [REPO_ROOT / "data" / "strategies"]


def test_explicit_home_is_absolute_and_user_expanded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("DRYDOCK_HOME", "~/drydock")
    assert get_settings().root == tmp_path.resolve() / "drydock"
    assert get_settings().journal_path == tmp_path.resolve() / "drydock/live/journal.sqlite"


@pytest.mark.parametrize("variable", ["DRYDOCK_HOME", "DRYDOCK_SAMPLE_DIR"])
def test_relative_paths_are_refused_with_the_variable_and_a_fix(
    variable: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv(variable, "data")
    with pytest.raises(ConfigError) as info:
        get_settings()
    message = str(info.value)
    assert f"{variable} 'data' is a relative path" in message
    assert f"e.g. {tmp_path / 'data'}" in message


def test_environment_is_read_by_prefix_and_keywords_win(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_LOG_LEVEL", "debug")
    monkeypatch.setenv("drydock_ccxt_exchange", "okx")
    monkeypatch.setenv("OTHER_LOG_LEVEL", "error")
    settings = Settings()
    assert (settings.log_level, settings.ccxt_exchange, settings.root) == ("debug", "okx", home)
    assert Settings(log_level="warning").log_level == "warning"
    assert {"log_level", "ccxt_exchange", "home"} <= settings.given
    assert "ohlcv_source" not in settings.given  # left at its default


def test_bad_log_settings_fail_at_load_naming_the_variable(
    home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_LOG_LEVEL", "loud")
    with pytest.raises(ConfigError, match="DRYDOCK_LOG_LEVEL 'loud' is not valid; use one of"):
        get_settings()


def test_strategy_path_lists_absolute_entries(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DRYDOCK_STRATEGY_PATH", f"{tmp_path / 'a'}:{tmp_path / 'b.py'}:")
    assert get_settings().strategy_dirs == [tmp_path / "a", tmp_path / "b.py"]
    monkeypatch.setenv("DRYDOCK_STRATEGY_PATH", "mine")
    with pytest.raises(ConfigError, match="DRYDOCK_STRATEGY_PATH 'mine' is a relative path"):
        _ = get_settings().strategy_dirs
