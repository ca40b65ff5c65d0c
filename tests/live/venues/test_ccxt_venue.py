"""The ccxt venue against a real ccxt ``kraken`` whose HTTP answers are Kraken's recorded ones.

ccxt signs, sends, parses and maps errors itself; only the transport is replaced (see
drydock/adapters/ccxt/_recorded.py). Timestamps and figures below come from the recorded payloads.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import parse_qs

import ccxt
import pytest

from drydock.adapters.ccxt import (
    CcxtVenue,
    RecordedKraken,
    map_ccxt_error,
    recorded_cases,
    recorded_kraken_exchange,
)
from drydock.settings import REPO_ROOT
from drydock.types import Order, Side
from live.venues.base import (
    InsufficientFundsError,
    RateLimitedError,
    TransientVenueError,
    VenueError,
)

SAMPLE = REPO_ROOT / "data" / "sample"
T0 = datetime(2024, 1, 14, 19, 29, tzinfo=UTC)


@pytest.fixture
def kraken() -> tuple[ccxt.kraken, RecordedKraken]:
    exchange, adapter = recorded_kraken_exchange(SAMPLE)
    adapter.prices["LTC/USDT"] = Decimal("71.05741")  # the recorded market order's average
    return exchange, adapter


def venue(exchange: ccxt.kraken, **kw: object) -> CcxtVenue:
    return CcxtVenue(exchange, sleep=lambda s: None, **kw)  # type: ignore[arg-type]


def order(cid: str, side: Side = Side.BUY, qty: str = "0.1") -> Order:
    return Order(cid, "s", "kraken", "LTC/USDT", side, Decimal(qty), Decimal("71"), T0)


def test_recorded_answers_parse_as_ccxt_expects(kraken: tuple[ccxt.kraken, RecordedKraken]) -> None:
    """The adapter serves the recorded createOrder body; ccxt parses it to the recorded result."""
    exchange, _adapter = kraken
    case = recorded_cases(SAMPLE / "ccxt" / "kraken_response.json")["createOrder"][0]
    placed = exchange.create_order(*case["input"])
    expected = case["parsedResponse"]
    for field in ("symbol", "type", "side", "amount", "timeInForce"):
        assert placed[field] == expected[field]
    assert placed["info"]["descr"] == expected["info"]["descr"]
    assert placed["id"].startswith("ODRY")  # this session's id in the recorded body


def test_market_order_fills_with_the_recorded_price_and_fee(
    kraken: tuple[ccxt.kraken, RecordedKraken],
) -> None:
    exchange, adapter = kraken
    v = venue(exchange)
    instrument = v.instrument("LTC/USDT")
    assert (instrument.lot_size, instrument.tick_size) == (Decimal("1E-8"), Decimal("0.00001"))
    [fill] = v.submit(order("dd-one"))
    # The recorded order: 0.1 LTC at 71.05741 cost 7.105741 and fee 0.018475 (Kraken's 0.26%).
    assert (fill.qty, fill.price, fill.fee) == (
        Decimal("0.1"),
        Decimal("71.05741"),
        Decimal("0.018475"),
    )
    assert fill.client_order_id == "dd-one" and fill.side is Side.BUY
    assert fill.ts == datetime(2024, 1, 14, 19, 29, 8, 472000, tzinfo=UTC)
    # What ccxt sent matches ccxt's recorded request for a market buy, plus our client id.
    recorded = recorded_cases(SAMPLE / "ccxt" / "kraken_request.json")["createOrder"][0]
    assert adapter.add_calls == ["dd-one"]
    sent = adapter.bodies["AddOrder"][0]
    want = {k: v for k, v in parse_qs(recorded["output"]).items() if k != "nonce"}
    assert {k: v for k, v in sent.items() if k in want} == {k: v[0] for k, v in want.items()}
    assert sent["cl_ord_id"] == "dd-one"


def test_a_known_client_id_is_never_sent_again(kraken: tuple[ccxt.kraken, RecordedKraken]) -> None:
    exchange, adapter = kraken
    first = venue(exchange).submit(order("dd-dup"))
    again = venue(exchange).submit(order("dd-dup"))  # a new process: found among closed orders
    assert again == first and adapter.add_calls == ["dd-dup"] and adapter.duplicates() == 0


def test_timeout_after_submit_is_reconciled_not_resent(
    kraken: tuple[ccxt.kraken, RecordedKraken],
) -> None:
    exchange, adapter = kraken
    adapter.script.append("timeout_after_accept")
    with pytest.raises(TransientVenueError, match="RequestTimeout"):
        venue(exchange).submit(order("dd-lost", qty="0.2"))
    assert adapter.accepted("dd-lost") == 1  # the exchange took it; the answer was lost
    restarted = venue(exchange)
    restarted.instrument("LTC/USDT")
    [fill] = restarted.fills_for("dd-lost")
    assert fill.qty == Decimal("0.2") and fill.fee == Decimal("0.036950")
    assert restarted.submit(order("dd-lost", qty="0.2")) == [fill]
    assert adapter.add_calls == ["dd-lost"] and adapter.duplicates() == 0


def test_timeout_before_accept_is_sent_once_more(
    kraken: tuple[ccxt.kraken, RecordedKraken],
) -> None:
    exchange, adapter = kraken
    v = venue(exchange)
    adapter.script.append("timeout_before_accept")
    with pytest.raises(TransientVenueError):
        v.submit(order("dd-retry"))
    assert v.fills_for("dd-retry") == []  # the exchange never saw it
    [fill] = v.submit(order("dd-retry"))
    assert adapter.add_calls == ["dd-retry", "dd-retry"] and adapter.accepted("dd-retry") == 1
    assert fill.qty == Decimal("0.1")


def test_partial_fill_cancels_the_rest_and_reports_what_filled(
    kraken: tuple[ccxt.kraken, RecordedKraken],
) -> None:
    exchange, adapter = kraken
    adapter.script.append("partial")
    v = venue(exchange, settle_timeout=1.0, poll_interval=0.5)
    [fill] = v.submit(order("dd-part", Side.SELL))
    assert fill.qty == Decimal("0.05") and fill.side is Side.SELL
    assert fill.fee == Decimal("0.009237")  # 0.05 x 71.05741 = 3.552871 (6 dp) x 0.26%
    [placed] = adapter.orders.values()
    assert placed.status == "canceled" and adapter.bodies["CancelOrder"][0]["txid"] == placed.txid
    assert v.fills_for("dd-part") == [fill]  # settled: the same single fill, never counted twice


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("insufficient_funds", InsufficientFundsError),
        ("rate_limited", RateLimitedError),
        ("unavailable", TransientVenueError),
        ("invalid", VenueError),
    ],
)
def test_kraken_errors_map_to_venue_errors(
    kraken: tuple[ccxt.kraken, RecordedKraken], fault: str, error: type[VenueError]
) -> None:
    exchange, adapter = kraken
    adapter.script.append(fault)
    with pytest.raises(error) as raised:
        venue(exchange).submit(order(f"dd-{fault}"))
    assert type(raised.value) is error  # not a broader or narrower class
    assert adapter.accepted() == 0


def test_error_mapping_covers_ccxt_hierarchy() -> None:
    assert type(map_ccxt_error(ccxt.RequestTimeout("t"), "x")) is TransientVenueError
    assert type(map_ccxt_error(ccxt.ExchangeNotAvailable("t"), "x")) is TransientVenueError
    assert type(map_ccxt_error(ccxt.RateLimitExceeded("t"), "x")) is RateLimitedError
    assert type(map_ccxt_error(ccxt.DDoSProtection("t"), "x")) is RateLimitedError
    assert type(map_ccxt_error(ccxt.InsufficientFunds("t"), "x")) is InsufficientFundsError
    for permanent in (ccxt.InvalidOrder, ccxt.AuthenticationError, ccxt.PermissionDenied,
                      ccxt.BadSymbol):  # fmt: skip
        assert type(map_ccxt_error(permanent("t"), "x")) is VenueError


def test_unknown_market_names_the_symbol(kraken: tuple[ccxt.kraken, RecordedKraken]) -> None:
    with pytest.raises(VenueError, match=r"no market 'DOGE/USDT'.*unified form"):
        venue(kraken[0]).instrument("DOGE/USDT")


def test_balances_read_through_ccxt(kraken: tuple[ccxt.kraken, RecordedKraken]) -> None:
    assert venue(kraken[0]).balances() == {"USDT": Decimal("10000.0")}


@pytest.mark.parametrize("garbage", ["NaN", "Infinity", "-Infinity"])
def test_a_non_finite_balance_is_a_venue_error_and_reconciliation_goes_on(
    kraken: tuple[ccxt.kraken, RecordedKraken], garbage: str, tmp_path: object
) -> None:
    """Probe: NaN/inf in the exchange's balance answer made ccxt raise a bare ValueError, which
    escaped reconciliation and stopped the runner. Now it is a transient VenueError naming the
    call; reconciliation journals no balances and no drift, and carries on."""
    from pathlib import Path

    from live.journal import RunRecord, SqliteJournal
    from live.reconcile import reconcile

    exchange, adapter = kraken
    adapter.starting_balances = {"USDT": Decimal(garbage)}
    v = venue(exchange)
    with pytest.raises(TransientVenueError, match="kraken fetch_balance: an answer ccxt could"):
        v.balances()
    with SqliteJournal(Path(str(tmp_path)) / "j.sqlite") as j:
        j.start_run(RunRecord("r", "s", {}, "live", "kraken", "BTC/USDT", "1h", "v", "h"))
        report = reconcile(j, "r", v, datetime(2024, 1, 1, tzinfo=UTC))
        assert (report.balances, report.drift) == (None, None)


def test_secrets_stay_out_of_the_venue_logs(
    kraken: tuple[ccxt.kraken, RecordedKraken], capsys: pytest.CaptureFixture[str]
) -> None:
    exchange, _ = kraken
    venue(exchange).submit(order("dd-log"))
    err = capsys.readouterr().err
    assert "venue.order_placed" in err
    assert exchange.secret not in err and exchange.apiKey not in err
    assert json.loads(err.strip().splitlines()[-1])["cid"] == "dd-log"


def test_a_parsed_nan_balance_is_refused_naming_the_currency(
    kraken: tuple[ccxt.kraken, RecordedKraken], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Exchanges whose ccxt parser lets NaN through (a float, not an error) meet the same guard."""
    exchange, _ = kraken
    monkeypatch.setattr(exchange, "fetch_balance", lambda: {"total": {"BTC": float("nan"),
                                                                      "USDT": 5.0}})  # fmt: skip
    with pytest.raises(VenueError, match="non-finite balance for BTC"):
        venue(exchange).balances()
