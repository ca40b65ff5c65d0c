"""DexScreener and RugCheck answered offline from recorded payloads (httpx MockTransport), so the
token-safety client, the demo and the tests run the real code without network."""

from __future__ import annotations

from pathlib import Path

import httpx

from drydock.settings import REPO_ROOT

__all__ = ["DEX_FOLDER", "dex_client", "http_client"]

DEX_FOLDER = REPO_ROOT / "data" / "sample" / "dex"


def dex_client(folder: Path = DEX_FOLDER) -> httpx.Client:
    """DexScreener answers with its recorded pairs; RugCheck with the hand-written safe report."""

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.dexscreener.com":
            return httpx.Response(
                200,
                content=(
                    folder / "dexscreener_latest_dex_pairs_injective_dojoswap_2024-03.json"
                ).read_bytes(),
            )
        if request.url.host == "api.rugcheck.xyz":
            return httpx.Response(200, content=(folder / "rugcheck_report_safe.json").read_bytes())
        return httpx.Response(404)

    return httpx.Client(transport=httpx.MockTransport(handler))


def http_client() -> httpx.Client:
    """The client for the real DexScreener and RugCheck APIs (15 s timeout)."""
    return httpx.Client(timeout=httpx.Timeout(15.0))
