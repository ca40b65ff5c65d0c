"""The bundled recorded feeds served as HTTP responses (httpx MockTransport), so the news pipeline,
the demo and the tests run offline against real payloads: a feed's name picks its recording."""

from __future__ import annotations

import json
from pathlib import Path

import httpx

from drydock.settings import REPO_ROOT

FOLDER = REPO_ROOT / "data" / "sample" / "news_feeds"
RECORDINGS = {
    "coindesk": "coindesk_2025-12-12.xml",
    "cointelegraph": "cointelegraph-all_2025-12-12.xml",
    "decrypt": "decrypt_2025-12-12.xml",
    "theblock": "theblock_2025-12-12.xml",
    "cryptopanic": "cryptopanic_api_v1_posts_hot_2018-01-18.json",
}
HOSTS = {
    "www.coindesk.com": "coindesk", "cointelegraph.com": "cointelegraph", "decrypt.co": "decrypt",
    "www.theblock.co": "theblock", "cryptopanic.com": "cryptopanic",
}  # fmt: skip


def recorded_client(folder: Path = FOLDER) -> httpx.Client:
    """An httpx client answering each configured feed's URL with its recording (404 otherwise)."""

    def handler(request: httpx.Request) -> httpx.Response:
        name = HOSTS.get(request.url.host)
        if name is None:
            return httpx.Response(404)
        body = (folder / RECORDINGS[name]).read_bytes()
        if name == "cryptopanic":  # the recording holds two pages; the API returns one
            body = json.dumps(json.loads(body)["generic"]).encode()
        return httpx.Response(200, content=body, headers={"ETag": f'"{name}-recorded"'})

    return httpx.Client(transport=httpx.MockTransport(handler))


def http_client() -> httpx.Client:
    """The client for real feeds: 15 s timeout, redirects followed (feeds move)."""
    return httpx.Client(timeout=httpx.Timeout(15.0), follow_redirects=True)
