"""Vendor example payloads from tests/fixtures and helpers that sign them the way each provider does."""

from __future__ import annotations

import base64
import json
import time
from pathlib import Path
from urllib.parse import urlencode

from messaging.models import ProviderAccount
from messaging.providers.spoki.webhooks import sign_v1, sign_v2

FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"
SPOKI_SECRET = "whsec_" + "ab12" * 16
MYOP_SECRET = "myop-static-header-secret"


def make_account(provider: str, *, secret: str = "", settings=None, name: str = "") -> ProviderAccount:
    return ProviderAccount.objects.create(
        provider=provider, name=name or f"{provider} {ProviderAccount.objects.count() + 1}",
        credentials={"api_key": "k"}, webhook_secret=secret, settings=settings or {},
    )  # fmt: skip


def hook_path(account: ProviderAccount) -> str:
    return f"/hooks/{account.webhook_token}/"


# --- Spoki ------------------------------------------------------------------------------------------


def spoki_examples() -> dict[str, dict]:
    """Every 'Webhooks body content' example (V1 envelopes) and the V2 ones from the descriptions."""
    out = {}
    for path in sorted((FIXTURES / "spoki").glob("webhooks_webhooks_body_content_*.json")):
        out[path.stem] = json.loads(path.read_text())["request_body"]
    for path in sorted((FIXTURES / "spoki" / "descriptions").glob("webhooks_webhooks_body_content_*.json")):
        blocks = json.loads(path.read_text())["blocks"]
        for i, block in enumerate(b for b in blocks if isinstance(b, dict) and b.get("event")):
            out[f"{path.stem}_v2_{i}"] = block
    return out


def spoki_headers(body: bytes, secret: str = SPOKI_SECRET, *, t: int | None = None, v1: bool = False) -> dict:
    if v1:
        return {"X-SPOKI-HASH": sign_v1(body, secret), "X-SPOKI-ACCOUNT": "1"}
    return {"X-Spoki-Signature": sign_v2(body, secret, t if t is not None else int(time.time())),
            "X-SPOKI-ACCOUNT": "1"}  # fmt: skip


# --- MyOperator ---------------------------------------------------------------------------------------


def myoperator_examples() -> dict[str, bytes]:
    return {p.stem: p.read_bytes() for p in sorted((FIXTURES / "myoperator" / "webhooks").glob("*.json"))}


# --- Qlara -------------------------------------------------------------------------------------------------


def qlara_examples() -> list[dict]:
    rows = json.loads((FIXTURES / "qlara" / "markdown_examples.json").read_text())
    return [r["body"] for r in rows if isinstance(r.get("body"), dict) and "eventType" in r["body"]]


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


# --- Spryng (its docs give the parameter table, no example: these are built from it) -------------------

SPRYNG_DLR = {
    "ID": "91646b0b-b425-4e98-bb53-8c545873eec0", "RECIPIENT": "31612345678", "STATUS": "10",
    "REASONCODE": "0", "REFERENCE": "ref-1", "ADDED": "20240102030400", "RESULTDATE": "20240102030405",
    "OPERATOR_STATUS_AT": "20240102030409", "OPERATOR": "20408",
}  # fmt: skip
SPRYNG_MO = {
    "MSISDN": "31612345678", "SHORTCODE": "3010", "KEYWORD": "STOP", "PARM": "", "OPERATOR": "20408",
    "TIMESTAMP": "20240102030409", "COUNTRY": "NL", "REFERENCE": "",
}  # fmt: skip


def spryng_query(**overrides) -> str:
    return urlencode({**SPRYNG_DLR, **overrides})
