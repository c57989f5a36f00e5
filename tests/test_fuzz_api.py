"""Schema fuzzing: every operation of the API's own OpenAPI schema, as every role, must hold.

Schemathesis reads the schema drf-spectacular generates for the running code (so an endpoint
added later — templates, campaigns, webhooks, automations — is fuzzed without anyone writing
a test for it), generates valid and invalid requests from it with a fixed seed and a bounded
number of examples, and sends each one through the real Django WSGI stack as anonymous,
no-role staff, Viewer, Editor and Manager (token auth). A request fails the test when it

- answers 5xx (or raises),
- answers with a body or content type that does not match the schema for that status,
- takes longer than FUZZ_MAX_SECONDS.

Run it alone (fast, ~30 s):   .venv/bin/pytest tests/test_fuzz_api.py -q
One operation:                .venv/bin/pytest tests/test_fuzz_api.py -q -k "POST and contacts"
More examples, other seed:    FUZZ_EXAMPLES=100 FUZZ_SEED=7 .venv/bin/pytest tests/test_fuzz_api.py
A failure prints the request as a curl command; reproduce it with the test client and fix the
view or serializer (declare fields and bounds properly so the schema is accurate), never here.

Sample rows (`fuzz_data`) make ids 1..n exist, so detail routes are reached, not only 404s.
An app whose endpoints need a row to exist adds it in `_seed()` below (one line per model).
"""

from __future__ import annotations

import os

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.specs.openapi.checks import content_type_conformance, response_schema_conformance

FUZZ_SEED = int(os.environ.get("FUZZ_SEED", "20260801"))
FUZZ_EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "6"))
FUZZ_MAX_SECONDS = float(os.environ.get("FUZZ_MAX_SECONDS", "5"))
ROLES = ("anonymous", "norole", "viewer", "editor", "manager")
CHECKS = [not_a_server_error, response_schema_conformance, content_type_conformance]


def _load_schema():
    """The OpenAPI document the app serves at /api/schema/, generated in-process."""
    import json

    from django.core.wsgi import get_wsgi_application
    from drf_spectacular.generators import SchemaGenerator
    from drf_spectacular.renderers import OpenApiJsonRenderer

    document = json.loads(OpenApiJsonRenderer().render(SchemaGenerator().get_schema(request=None, public=True)))
    config = SchemathesisConfig.from_dict(
        {
            "seed": FUZZ_SEED,
            "suppress-health-check": ["all"],
            "phases": {"coverage": {"enabled": os.environ.get("FUZZ_COVERAGE", "0") == "1"}, "stateful": {"enabled": False}},
            "generation": {
                "mode": "all",
                "max-examples": FUZZ_EXAMPLES,
                "deterministic": True,
                "database": "none",
            },
        }
    )
    loaded = schemathesis.openapi.from_dict(document, config=config)
    loaded.app = get_wsgi_application()
    return loaded


schema = _load_schema()


@pytest.fixture
def fuzz_tokens(db, django_user_model, settings, tmp_path):
    """One API token per role (anonymous sends none); sample rows so ids 1..n exist."""
    from django.contrib.auth.models import Group

    settings.MEDIA_ROOT = str(tmp_path)  # uploads and exports the fuzzer makes
    from rest_framework.authtoken.models import Token

    tokens = {"anonymous": None}
    for role in ROLES[1:]:
        user = django_user_model.objects.create_user(username=f"fuzz-{role}", password="x", is_staff=True)
        if role != "norole":
            user.groups.add(Group.objects.get(name=role.capitalize()))
        tokens[role] = Token.objects.create(user=user).key
    _seed(django_user_model.objects.get(username="fuzz-manager"))
    # Django's test client does the same: the WSGI handler must not close the test's connection.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield tokens
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def _seed(user):
    """Two rows of each kind staff create, so generated small ids hit real objects."""
    from contacts import services
    from contacts.imports import exports
    from messaging.services import create_account
    from tests.factories import ContactFactory, ContactListFactory, CustomFieldFactory, TagFactory

    for _ in range(2):
        ContactFactory()
        ContactListFactory()
        TagFactory()
        CustomFieldFactory()
    account = create_account(provider="sandbox", name="Fuzz sandbox")
    from messaging.sync.services import start_sync

    start_sync(account, "contacts", "pull", trigger="api", user=user)
    exports.start_export("csv", {}, user=user)
    services.create_list("Fuzz list")
    from messaging.templating.demo import seed_demo_templates  # issue 9: templates for detail routes

    seed_demo_templates(account)
    from campaigns.models import Campaign  # issue 10: campaigns and their messages for detail routes
    from messaging.message_models import Message

    for n in range(2):
        campaign = Campaign.objects.create(name=f"Fuzz campaign {n}", account=account, channel="sms", text="Ciao")
        Message.objects.create(campaign=campaign, account=account, phone="+393331234567", channel="sms")
    from django.core.files.base import ContentFile

    from contacts.imports.models import ContactImport

    imp = ContactImport(original_name="fuzz.csv", kind="csv", status=ContactImport.Status.SUCCEEDED,
                        created_by=user, rejected=1)  # fmt: skip
    imp.file.save("fuzz.csv", ContentFile(b"phone\n+393331234567\nbad\n"), save=False)
    imp.rejected_file.save("fuzz-rejected.csv", ContentFile(b"line,error\n3,bad\n"), save=False)
    imp.save()


@schema.parametrize()
@settings(max_examples=FUZZ_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
def test_api_holds_under_fuzzing(case, fuzz_tokens):
    for role in ROLES:
        headers = {"Authorization": f"Token {fuzz_tokens[role]}"} if fuzz_tokens[role] else {}
        response = case.call(headers=headers)
        case.validate_response(response, checks=CHECKS, headers=headers)
        assert response.elapsed < FUZZ_MAX_SECONDS, (
            f"{case.method} {case.formatted_path} as {role} took {response.elapsed:.1f}s "
            f"(limit {FUZZ_MAX_SECONDS}s)"
        )
