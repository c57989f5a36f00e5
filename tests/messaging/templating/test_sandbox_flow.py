"""Submit, status pull, remote-made templates and deletion rules, on the in-process Sandbox."""

import datetime as dt

import pytest
from django.core.management import call_command
from django.utils import timezone

from messaging.models import MessageTemplate, TemplateLink
from messaging.providers.base import RemoteTemplate
from messaging.sync.models import RemoteLink, SyncRun
from messaging.sync.services import sync_account
from messaging.templating import services
from messaging.templating.usage import _USERS, register_template_users

pytestmark = pytest.mark.django_db


def later(monkeypatch, seconds=10):
    moment = timezone.now() + dt.timedelta(seconds=seconds)
    monkeypatch.setattr(timezone, "now", lambda: moment)


def test_submit_pending_then_approved_on_pull(sandbox_account, make_template, monkeypatch):
    sandbox_account.settings = {"review_seconds": 5}
    sandbox_account.save()
    template = make_template()
    [outcome] = services.submit_template(template, [sandbox_account])
    assert outcome["ok"] and outcome["status"] == "pending" and outcome["remote_id"]
    link = TemplateLink.objects.get(template=template, account=sandbox_account)
    assert link.status == "pending" and not services.is_template_approved(template, sandbox_account)
    remote = sandbox_account.get_provider().get_template(link.remote_id)
    assert remote.body == template.body  # the sandbox keeps our named variables
    later(monkeypatch)
    run = sync_account(sandbox_account, "templates", "pull")
    assert (run.status, run.pulled, run.created, run.updated) == ("succeeded", 1, 0, 1)
    link.refresh_from_db()
    assert link.status == "approved" and services.is_template_approved(template, sandbox_account)
    again = sync_account(sandbox_account, "templates", "pull")
    assert (again.pulled, again.created, again.updated, again.unchanged) == (1, 0, 0, 1)


def test_rejected_with_the_providers_reason(sandbox_account, make_template):
    template = make_template(body="Ciao {{first_name}}, REJECT questo a {{city}} per favore.")
    services.submit_template(template, [sandbox_account])
    [outcome] = services.sync_template_now(template)
    link = TemplateLink.objects.get(template=template)
    assert outcome["status"] == link.status == "rejected"
    assert (
        "REJECT" in link.reason
        and link.reason in services.is_template_approved(template, sandbox_account).reason
    )


def test_remote_made_templates_are_pulled_and_linked_once(sandbox_account, make_template):
    provider = sandbox_account.get_provider()
    provider.create_template(RemoteTemplate(name="benvenuto", language="it", category="UTILITY",
                                            body="Benvenuto {{nome}}, grazie!", examples={"nome": "Anna"}))  # fmt: skip
    local = make_template(name="gia_qui")  # same name+language there → linked, not duplicated
    provider.create_template(RemoteTemplate(name="gia_qui", language="it", body=local.body))
    run = sync_account(sandbox_account, "templates", "pull")
    assert (run.pulled, run.created) == (2, 1)
    assert MessageTemplate.objects.count() == 2
    made = MessageTemplate.objects.get(name="benvenuto")
    assert made.variables == ["nome"] and made.samples == {"nome": "Anna"} and made.category == "utility"
    assert TemplateLink.objects.filter(account=sandbox_account).count() == 2
    before = list(MessageTemplate.objects.order_by("pk").values())
    second = sync_account(sandbox_account, "templates", "pull")
    assert (second.created, second.updated, second.unchanged, second.pulled) == (0, 0, 2, 2)
    assert list(MessageTemplate.objects.order_by("pk").values()) == before
    assert RemoteLink.objects.filter(kind="template").count() == 2


def test_local_edit_goes_back_to_review_and_push_sends_it(sandbox_account, make_template, monkeypatch):
    sandbox_account.settings = {"review_seconds": 5}
    sandbox_account.save()
    template = make_template()
    services.submit_template(template, [sandbox_account])
    later(monkeypatch)
    services.sync_template_now(template)
    assert TemplateLink.objects.get().status == "approved"
    assert "review again" in services.edit_warning(template)
    template, outcomes = services.update_template(template, {"footer": "Scrivi STOP"})
    assert [o["status"] for o in outcomes] == ["pending"]
    remote = sandbox_account.get_provider().get_template(TemplateLink.objects.get().remote_id)
    assert remote.footer == "Scrivi STOP"
    run = sync_account(sandbox_account, "templates", "push")
    assert run.pushed == 0  # already sent by the edit


def test_deleting_a_template_a_campaign_uses_is_refused(sandbox_account, make_template):
    template = make_template()
    services.submit_template(template, [sandbox_account])

    def campaigns(t):
        if t.pk == template.pk:
            yield "campaign “Natale” (scheduled)", True

    register_template_users(campaigns)
    try:
        with pytest.raises(services.TemplateInUse, match="Natale"):
            services.delete_template(template)
        assert MessageTemplate.objects.filter(pk=template.pk).exists()
    finally:
        _USERS.remove(campaigns)
    services.delete_template(template)
    assert not MessageTemplate.objects.exists()
    assert list(sandbox_account.get_provider().iter_templates()) == []


def test_sync_command_takes_templates(sandbox_account, make_template, capsys):
    services.submit_template(make_template(), [sandbox_account])
    call_command("sync", "Sandbox", "--resource", "templates", "--direction", "pull", "--json")
    out = capsys.readouterr().out.strip().splitlines()[-1]
    assert '"resource": "templates"' in out and '"pulled": 1' in out
    assert SyncRun.objects.get().resource == "templates"


def test_scheduled_sync_pulls_template_statuses(sandbox_account, make_template):
    from messaging.sync.tasks import sync_scheduled

    services.submit_template(make_template(), [sandbox_account])
    result = sync_scheduled.delay(sandbox_account.pk).get()
    assert "templates" in [a["resource"] for a in result["also"]]  # automations (i12) are scheduled too
    assert TemplateLink.objects.get().status == "approved"


def test_sms_templates_are_not_submitted(sandbox_account):
    from django.core.exceptions import ValidationError

    sms = MessageTemplate.objects.create(name="avviso", kind="sms", body="Ciao {{n}}", samples={"n": "A"})
    with pytest.raises(ValidationError):
        services.submit_template(sms, [sandbox_account])


def test_demo_templates_are_approved_on_the_sandbox_and_idempotent(sandbox_account):
    from messaging.templating.demo import DEMO, seed_demo_templates

    sandbox_account.settings = {"review_seconds": 60}
    sandbox_account.save()
    assert seed_demo_templates(sandbox_account) == len(DEMO)
    statuses = dict(TemplateLink.objects.values_list("template__name", "status"))
    assert statuses == {
        "promo_natale": "approved", "promemoria_appuntamento": "approved", "order_shipped": "approved",
        "offerta_da_rifiutare": "rejected", "rcs_benvenuto": "approved",
    }  # fmt: skip
    assert seed_demo_templates(sandbox_account) == 0


def test_submitting_again_without_changes_does_not_reopen_the_review(sandbox_account, make_template):
    template = make_template()
    services.submit_template(template, [sandbox_account])
    services.sync_template_now(template)
    assert TemplateLink.objects.get().status == "approved"
    [again] = services.submit_template(template, [sandbox_account])
    assert again["ok"] and again["status"] == "approved" and "nothing changed" in again["detail"]
    assert TemplateLink.objects.get().status == "approved"
