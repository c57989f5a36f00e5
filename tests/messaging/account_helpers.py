"""A tiny keyed provider and its fake, so account tests do not depend on a real client's progress.

KeyedProvider needs an API key and a company id (both secret) and has a sender
setting; check_connection POSTs the key in its JSON body too, so the tests can
prove the HTTP log redacts it.
"""

from __future__ import annotations

from decimal import Decimal

from messaging.providers.base import AccountInfo, Capabilities, ConfigField, Provider, caps
from tests.fakes.base import FakeAPI, Response, route

KEYED = "tests.messaging.account_helpers.KeyedProvider"
SANDBOX = "messaging.providers.sandbox.SandboxProvider"
SECRET = "sk-live-TOPSECRET-4242"


class KeyedProvider(Provider):
    slug = "keyed"
    display_name = "Keyed"
    default_base_url = "https://api.keyed.invalid"
    capabilities = Capabilities(resources=caps(contacts=["pull"]), balance=True)
    credential_fields = (
        ConfigField("api_key", "API key", secret=True),
        ConfigField("company_id", "Company id", secret=True),
    )
    setting_fields = (ConfigField("sender", "Default sender", required=False),)

    def auth_headers(self):
        return {"X-Api-Key": self.credentials.get("api_key", "")}

    def check_connection(self) -> AccountInfo:
        """POST /v1/me with the key in the body (a vendor that wants it there)."""
        body = self.http.post("/v1/me", json_body={"apiKey": self.credentials.get("api_key"), "probe": True})
        credit = Decimal(str(body["credit"]))
        return AccountInfo(
            ok=True, detail=f"Connected — credit €{credit:.2f}", balance=credit, currency="EUR"
        )


class KeyedFake(FakeAPI):
    name = "keyed"

    def __init__(self, api_key: str = SECRET):
        super().__init__()
        self.api_key = api_key

    def authenticate(self, request):
        if request.header("x-api-key") != self.api_key:
            return Response(401, {"message": "Invalid API key"})
        return None

    @route("POST", "/v1/me")
    def me(self, request):
        return Response(200, {"credit": 150.5, "echo": request.json})


def use_test_providers(settings) -> None:
    settings.SWITCHBOARD_PROVIDERS = [SANDBOX, KEYED]
