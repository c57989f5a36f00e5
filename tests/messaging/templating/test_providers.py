"""Variable mapping per provider (round trip) and submit + status pull against each fake, over HTTP."""

import pytest

from messaging.models import MessageTemplate, ProviderAccount, TemplateLink
from messaging.providers.base import RemoteTemplate, TemplateStatus
from messaging.providers.myoperator import templating as mo_templating
from messaging.providers.qlara import templating as q_templating
from messaging.providers.spoki import templating as s_templating
from messaging.providers.spryng import templating as sp_templating
from messaging.providers.template_syntax import (
    PercentCodeSyntax,
    PositionalSyntax,
    SingleBraceSyntax,
    VariableSyntax,
    from_provider,
    to_provider,
)
from messaging.sync.services import sync_account
from messaging.templating import services
from tests.fakes.myoperator import MyOperatorFake
from tests.fakes.qlara import QlaraFake
from tests.fakes.spoki import SpokiFake
from tests.fakes.spryng import SpryngFake

OURS = RemoteTemplate(
    name="promo", language="it", header={"type": "text", "text": "Per {{first_name}}"},
    body="Ciao {{first_name}}, a {{city}} sconto {{discount}}; ciao ancora {{first_name}}.",
    buttons=[{"type": "url", "text": "Apri", "url": "https://ex.com/{{code}}"}],
    examples={"first_name": "Maria", "city": "Roma", "discount": "20%", "code": "N1"},
)  # fmt: skip


@pytest.mark.parametrize(
    ("syntax", "body", "header", "url"),
    [
        (PositionalSyntax(), "Ciao {{1}}, a {{2}} sconto {{3}}; ciao ancora {{1}}.", "Per {{1}}", "https://ex.com/{{1}}"),
        (SingleBraceSyntax(), "Ciao {first_name}, a {city} sconto {discount}; ciao ancora {first_name}.",
         "Per {first_name}", "https://ex.com/{code}"),
        (PercentCodeSyntax(), "Ciao %%FIRST_NAME%%, a %%CITY%% sconto %%DISCOUNT%%; ciao ancora %%FIRST_NAME%%.",
         "Per %%FIRST_NAME%%", "https://ex.com/%%CODE%%"),
        (VariableSyntax(), OURS.body, OURS.header["text"], OURS.buttons[0]["url"]),
    ],
)  # fmt: skip
def test_round_trip(syntax, body, header, url):
    theirs, order = to_provider(OURS, syntax)
    assert (theirs.body, theirs.header["text"], theirs.buttons[0]["url"]) == (body, header, url)
    assert order["body"] == ["first_name", "city", "discount"]
    back = from_provider(theirs, syntax, order)
    assert (back.body, back.header, back.buttons) == (OURS.body, OURS.header, OURS.buttons)
    assert back.variables == ["first_name", "city", "discount", "code"]
    assert back.examples == {"first_name": "Maria", "city": "Roma", "discount": "20%"}
    assert OURS.body.count("{{") == 4  # the original is untouched


def test_positional_examples_and_unknown_numbers():
    theirs, _ = to_provider(OURS, PositionalSyntax())
    assert theirs.examples == {"1": "Maria", "2": "Roma", "3": "20%"}
    assert PositionalSyntax().values(["city", "first_name"], {"first_name": "A", "city": "B"}) == ["B", "A"]
    # A template made in the provider's console: numbers without our names.
    made = from_provider(
        RemoteTemplate(body="Hi {{1}} and {{2}}", header={"text": "{{1}}"}), PositionalSyntax()
    )
    assert (made.body, made.header["text"]) == ("Hi {{var_1}} and {{var_2}}", "{{header_1}}")


def test_spoki_codes_come_back_as_our_names_and_keys_for_sending():
    assert PercentCodeSyntax().decode("Ciao %%FIRST_NAME%%", "body") == "Ciao {{first_name}}"
    assert PercentCodeSyntax().values(["first_name"], {"first_name": "Ada"}) == {"FIRST_NAME": "Ada"}
    assert SingleBraceSyntax().values(["city"], {"city": "Roma"}) == {"city": "Roma"}


@pytest.mark.parametrize(
    ("table", "word", "ours"),
    [
        (q_templating.TEMPLATE_STATUS, "APPROVED", "approved"), (q_templating.TEMPLATE_STATUS, "PAUSED", "paused"),
        (s_templating.TEMPLATE_STATUS, "WAITING_FOR_REVIEW", "pending"), (s_templating.TEMPLATE_STATUS, "FLAGGED", "approved"),
        (s_templating.TEMPLATE_STATUS, "DRAFT", "draft"),
        (mo_templating.TEMPLATE_STATUS, "rejected", "rejected"), (mo_templating.TEMPLATE_STATUS, "in_review", "pending"),
        (sp_templating.TEMPLATE_STATUS, "PENDING_DELETION", "disabled"), (sp_templating.TEMPLATE_STATUS, "DISABLED", "disabled"),
    ],
)  # fmt: skip
def test_each_provider_has_one_status_table(table, word, ours):
    assert TemplateStatus(table[word]).value == ours
    assert {TemplateStatus(v).value for v in table.values()} <= set(TemplateLink.Status.values)


# --- against the fakes --------------------------------------------------------------------------

QLARA = {"provider": "qlara", "credentials": {"api_key": "test-key"},
         "settings": {"sender": "SHOP", "whatsapp_phone_number_id": "5"}}  # fmt: skip
SPOKI = {"provider": "spoki", "credentials": {"api_key": "test-key"}, "settings": {}}
MYOP = {"provider": "myoperator", "credentials": {"api_key": "test-key", "company_id": "66c595699b31d875"},
        "settings": {"phone_number_id": "123", "waba_id": "178661612007157"}}  # fmt: skip
SPRYNG = {"provider": "spryng", "credentials": {"api_key": "test-key"},
          "settings": {"waba_id": "102290129340398", "phone_number_id": "106540352242922"}}  # fmt: skip


def stored(fake):
    """The fake's one WhatsApp template and a setter of its review outcome."""
    if isinstance(fake, QlaraFake):
        [row] = fake.wa_templates.values()

        def review(status, reason=""):
            row.update(status=status, rejectedReason=reason)

        return row["body"], review
    if isinstance(fake, SpokiFake):
        [row] = fake.templates.values()
        loc = row["templatelocalization_set"][0]

        def review(status, reason=""):
            loc.update(status=status, rejection_reason=reason or None)

        return loc["body_template_component"]["text"], review
    if isinstance(fake, MyOperatorFake):
        [row] = fake.templates.values()

        def review(status, reason=""):
            row.update(waba_template_status=status.lower(), failure_reason=reason or None)

        body = next(c for c in row["components"] if c["type"] == "BODY")
        assert body["example"] == {"first_name": "Maria", "city": "Roma"}
        return body["text"], review
    [row] = fake.templates.values()

    def review(status, reason=""):
        row.update(status=status, rejected_reason=reason or "NONE")

    body = next(c for c in row["components"] if c["type"] == "BODY")
    assert body["example"] == {"body_text": [["Maria", "Roma"]]}
    return body["text"], review


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fake_class", "config", "body_there"),
    [
        (QlaraFake, QLARA, "Ciao {first_name}, a {city} lo sconto è del 20% fino a domenica."),
        (SpokiFake, SPOKI, "Ciao %%FIRST_NAME%%, a %%CITY%% lo sconto è del 20% fino a domenica."),
        (MyOperatorFake, MYOP, "Ciao {{first_name}}, a {{city}} lo sconto è del 20% fino a domenica."),
        (SpryngFake, SPRYNG, "Ciao {{1}}, a {{2}} lo sconto è del 20% fino a domenica."),
    ],
)
def test_submit_and_status_pull(serve_fake, make_template, fake_class, config, body_there):
    server = serve_fake(fake_class(api_key="test-key"))
    account = ProviderAccount.objects.create(name=config["provider"], base_url=server.url, **config)
    template = make_template(header={"type": "none"}, buttons=[{"type": "quick_reply", "text": "Stop"}])
    [outcome] = services.submit_template(template, [account])
    assert outcome["ok"] and outcome["status"] == "pending", outcome
    text, review = stored(server.fake)
    assert text == body_there
    review("APPROVED")
    run = sync_account(account, "templates", "pull")
    assert (run.status, run.pulled, run.created) == ("succeeded", 1, 0), run.error
    link = TemplateLink.objects.get(template=template, account=account)
    assert link.status == "approved" and services.is_template_approved(template, account)
    assert MessageTemplate.objects.get().body == template.body  # came back in our names
    review("REJECTED", "INVALID_FORMAT: the footer is too promotional")
    services.sync_template_now(template)
    link.refresh_from_db()
    assert link.status == "rejected" and link.reason == "INVALID_FORMAT: the footer is too promotional"
    again = sync_account(account, "templates", "pull")
    assert (again.created, again.updated, again.unchanged) == (0, 0, 1)


@pytest.mark.django_db
def test_remote_made_templates_on_a_fake_are_linked_by_name_and_language(serve_fake, make_template):
    server = serve_fake(QlaraFake(api_key="test-key"))
    account = ProviderAccount.objects.create(name="Qlara", base_url=server.url, **QLARA)
    server.fake.seed_template(name="benvenuto", body="Benvenuto {firstName}!", status="APPROVED")
    mine = make_template(name="promo_natale")
    server.fake.seed_template(
        name="promo_natale", body="Ciao {first_name}, a {city} sconto.", status="PENDING"
    )
    run = sync_account(account, "templates", "pull")
    assert (run.pulled, run.created) == (2, 1)
    made = MessageTemplate.objects.get(name="benvenuto")
    assert made.body == "Benvenuto {{firstName}}!" and made.links.get().status == "approved"
    assert mine.links.get().status == "pending"
    assert MessageTemplate.objects.count() == 2
    second = sync_account(account, "templates", "pull")
    assert (second.created, second.updated, second.unchanged) == (0, 0, 2)


@pytest.mark.django_db
def test_myoperator_edit_is_delete_and_create_after_confirmation(serve_fake, make_template):
    server = serve_fake(MyOperatorFake(api_key="test-key"))
    account = ProviderAccount.objects.create(name="MyOperator", base_url=server.url, **MYOP)
    template = make_template(header={"type": "none"}, buttons=[])
    services.submit_template(template, [account])
    first_id = TemplateLink.objects.get().remote_id
    assert "cannot edit templates" in services.edit_warning(template)
    template, [outcome] = services.update_template(template, {"footer": "Nuovo piede"})
    assert not outcome["ok"] and "confirm" in outcome["detail"]
    [outcome] = services.submit_template(template, [account], confirm_replace=True)
    assert outcome["ok"] and outcome["remote_id"] != first_id
    assert list(server.fake.templates) == [outcome["remote_id"]]


@pytest.mark.django_db
def test_spoki_delete_used_by_an_automation_needs_force(serve_fake, make_template):
    server = serve_fake(SpokiFake(api_key="test-key"))
    account = ProviderAccount.objects.create(name="Spoki", base_url=server.url, **SPOKI)
    template = make_template(header={"type": "none"}, buttons=[])
    services.submit_template(template, [account])
    [row] = server.fake.templates.values()
    row["_used"] = True
    with pytest.raises(services.TemplateInUse, match="automation"):
        services.delete_template(template)
    assert MessageTemplate.objects.filter(pk=template.pk).exists()
    services.delete_template(template, force=True)
    assert server.fake.templates == {} and not MessageTemplate.objects.exists()
