"""drydock.logs: JSON and console output on stderr, secrets redacted from every log line."""

from __future__ import annotations

import io
import logging
import math
from collections.abc import Iterator

import pytest
import structlog
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from drydock.logs import (
    MASK,
    configure_logging,
    get_logger,
    is_secret_name,
    json_lines,
    redact,
    redact_text,
    secret_env_values,
)

API_KEY = "PlantedApiKey-7f3a9c21"
SECRET = "PlantedSecret-e8d1b044"
PRIVATE_KEY = "0x" + "4c0883a69102937d6231471b5dbb6204fe5129617082792ae468d01a3f362318"
ANTHROPIC = "sk-ant-api03-PlantedAnthropicKey0123456789"


@pytest.fixture
def secrets_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRYDOCK_CCXT_API_KEY", API_KEY)
    monkeypatch.setenv("BINANCE_SECRET", SECRET)
    monkeypatch.setenv("SHORT_TOKEN", "abc")  # under 8 characters: not treated as a secret
    monkeypatch.setenv("DRYDOCK_EXCHANGE_NAME", "binance-spot-main")  # not a secret name


@pytest.fixture
def captured() -> Iterator[io.StringIO]:
    """JSON logs at DEBUG into a buffer; afterwards logging goes back to stderr."""
    stream = io.StringIO()
    configure_logging("json", "debug", stream=stream)
    yield stream
    configure_logging("json", "info")


def test_secret_names_follow_the_key_patterns() -> None:
    for name in (
        "DRYDOCK_CCXT_API_KEY",
        "binance_secret",
        "GH_TOKEN",
        "db_password",
        "OKX_PASSPHRASE",
        "wallet_private",
        "MNEMONIC",
        "seed_words",
        "Authorization",
    ):
        assert is_secret_name(name), name
    for name in ("DRYDOCK_HOME", "symbol", "run_id", "idempotency_key", "partition_key"):
        assert not is_secret_name(name), name


def test_secret_env_values_need_a_secret_name_and_eight_characters(secrets_env: None) -> None:
    values = secret_env_values()
    assert API_KEY in values and SECRET in values
    assert "abc" not in values and "binance-spot-main" not in values


def test_json_lines_redact_env_values_keys_and_shapes(
    secrets_env: None, captured: io.StringIO
) -> None:
    log = get_logger("tests.logs", run_id="r-1")
    log.info(
        "ingest.finished",
        note=f"used key {API_KEY} and {SECRET}",
        api_key="any-value-at-all",
        nested={"password": "hunter2", "rows": [1, f"x{SECRET}x", {"token": "t"}]},
        pk=PRIVATE_KEY,
        llm=f"header Bearer abc.def.ghi and {ANTHROPIC}",
        url="https://user:pw@example.org/api?apiKey=zzz&symbol=BTCUSDT",
        tx_hash="0x" + "ab" * 32,
        exchange="binance-spot-main",
        rows=8784,
    )
    [event] = json_lines(captured.getvalue())
    text = captured.getvalue()
    for planted in (API_KEY, SECRET, PRIVATE_KEY, ANTHROPIC, "hunter2", "abc.def.ghi", "zzz"):
        assert planted not in text
    assert event["event"] == "ingest.finished"
    assert event["logger"] == "tests.logs"
    assert event["run_id"] == "r-1"
    assert event["level"] == "info"
    assert event["timestamp"].endswith("Z")
    assert event["note"] == f"used key {MASK} and {MASK}"
    assert event["api_key"] == MASK
    assert event["nested"] == {"password": MASK, "rows": [1, f"x{MASK}x", {"token": MASK}]}
    assert event["pk"] == MASK
    assert event["llm"] == f"header Bearer {MASK} and {MASK}"
    assert event["url"] == f"https://user:{MASK}@example.org/api?apiKey={MASK}&symbol=BTCUSDT"
    assert event["tx_hash"] == "0x" + "ab" * 32  # a public hash under a hash key stays readable
    assert event["exchange"] == "binance-spot-main"
    assert event["rows"] == 8784


def test_stdlib_loggers_go_through_the_same_redaction(
    secrets_env: None, captured: io.StringIO
) -> None:
    logging.getLogger("ccxt.base.exchange").warning("GET /klines X-MBX-APIKEY: %s", API_KEY)
    try:
        raise RuntimeError(f"auth failed for {SECRET}")
    except RuntimeError:
        logging.getLogger("dagster").exception("step failed")
    events = json_lines(captured.getvalue())
    assert [e["logger"] for e in events] == ["ccxt.base.exchange", "dagster"]
    assert events[0]["event"] == f"GET /klines X-MBX-APIKEY: {MASK}"
    assert events[1]["level"] == "error"
    assert f"RuntimeError: auth failed for {MASK}" in events[1]["exception"]
    assert SECRET not in captured.getvalue() and API_KEY not in captured.getvalue()


def test_mlflow_logs_are_adopted_not_printed_by_its_own_handler(
    secrets_env: None, captured: io.StringIO
) -> None:
    import mlflow  # noqa: F401  (installs its own handler unless MLFLOW_CONFIGURE_LOGGING=false)

    configure_logging("json", "debug", stream=captured)  # same choice: a no-op
    configure_logging("json", "info", stream=captured)  # a different one: reconfigure, adopt
    logging.getLogger("mlflow.store.db.utils").warning("db at sqlite:///x %s", SECRET)
    [event] = json_lines(captured.getvalue())
    assert event["logger"] == "mlflow.store.db.utils"
    assert event["event"] == f"db at sqlite:///x {MASK}"
    assert logging.getLogger("mlflow").propagate


def test_console_renderer_redacts_too(secrets_env: None) -> None:
    stream = io.StringIO()
    try:
        configure_logging("console", "info", stream=stream)
        get_logger("tests.logs").info("order.sent", detail=API_KEY, secret="s3cr3t-value")
        logging.getLogger("httpx").error("POST with %s", SECRET)
    finally:
        configure_logging("json", "info")
    text = stream.getvalue()
    assert "order.sent" in text and "detail=***" in text and "secret=***" in text
    assert "POST with ***" in text
    assert API_KEY not in text and SECRET not in text and "s3cr3t-value" not in text
    assert not text.lstrip().startswith("{")


def test_level_filters_and_exceptions_in_values_do_not_crash(
    secrets_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    stream = io.StringIO()
    try:
        configure_logging("json", "warning", stream=stream)
        log = get_logger("tests.logs")
        log.info("dropped")
        log.warning(
            "metrics",
            sharpe=math.nan,
            high=math.inf,
            ratio=-math.inf,
            when=None,
            flag=True,
            error=ValueError(f"bad {SECRET}"),
            raw=b"bytes",
        )
    finally:
        configure_logging("json", "info")
    [event] = json_lines(stream.getvalue())
    assert event["event"] == "metrics"
    assert (event["sharpe"], event["high"], event["ratio"]) == ("nan", "inf", "-inf")
    assert event["when"] is None and event["flag"] is True
    assert event["error"] == f"bad {MASK}"


def test_redact_is_reusable_and_leaves_non_secrets_alone(secrets_env: None) -> None:
    params = {"fast": 12, "fee": 0.001, "nan": math.nan, "venue": "binance", "api_key": API_KEY}
    cleaned = redact(params)
    assert cleaned["api_key"] == MASK
    assert {k: cleaned[k] for k in ("fast", "fee", "venue")} == {
        "fast": 12,
        "fee": 0.001,
        "venue": "binance",
    }
    assert math.isnan(cleaned["nan"])
    assert params["api_key"] == API_KEY  # the input is not mutated
    assert redact((f"a{API_KEY}", 3)) == (f"a{MASK}", 3)
    assert redact_text("nothing secret here: BTC/USDT 1h") == "nothing secret here: BTC/USDT 1h"


def test_configure_is_idempotent_and_rejects_bad_values() -> None:
    stream = io.StringIO()
    try:
        configure_logging("json", "info", stream=stream)
        handlers = list(logging.getLogger().handlers)
        configure_logging("json", "info", stream=stream)
        assert logging.getLogger().handlers == handlers
        with pytest.raises(ValueError, match=r"Unknown log format 'xml' \(DRYDOCK_LOG_FORMAT\)"):
            configure_logging("xml", "info")
        with pytest.raises(ValueError, match=r"Unknown log level 'loud' \(DRYDOCK_LOG_LEVEL\)"):
            configure_logging("json", "loud")
    finally:
        configure_logging("json", "info")
    assert structlog.is_configured()


def test_format_and_level_come_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DRYDOCK_LOG_FORMAT", "console")
    monkeypatch.setenv("DRYDOCK_LOG_LEVEL", "error")
    stream = io.StringIO()
    try:
        configure_logging(stream=stream)
        log = get_logger("tests.logs")
        log.warning("hidden")
        log.error("shown", n=1)
    finally:
        configure_logging("json", "info")
    text = stream.getvalue()
    assert "hidden" not in text
    assert "shown" in text and "n=1" in text and not text.startswith("{")


_scalars = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
    | st.text(max_size=8).map(lambda t: f"{t}{API_KEY}{t}")
)
_trees = st.recursive(
    _scalars,
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["a", "rows", "token", "note", "px"]), children, max_size=4
        )
    ),
    max_leaves=20,
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(tree=_trees)
def test_redact_never_leaks_and_never_crashes(secrets_env: None, tree: object) -> None:
    cleaned = redact(tree)
    assert API_KEY not in repr(cleaned)
    assert redact(cleaned) == cleaned or "nan" in repr(cleaned)  # idempotent (NaN != NaN aside)
