"""The admin form staff fill in, the dry run, the timelines, refusals and roles."""

from __future__ import annotations

import pytest
from django.urls import reverse

from automations.models import Automation
from contacts import services as contacts
from tests.factories import ContactFactory, ContactListFactory, TagFactory

from .helpers import drain

pytestmark = pytest.mark.django_db
ADD = reverse("admin:automations_automation_add")


def _form(**fields):
    data = {"name": "VIP welcome", "enabled": "on", "trigger_type": "list_added", "trigger_at": "09:00",
            "trigger_offset_days": "0"}  # fmt: skip
    data.update(fields)
    return data


def test_editor_builds_an_automation_with_menus(client, editor):
    vip, tag = ContactListFactory(name="VIP"), TagFactory(name="vip")
    client.force_login(editor)
    assert client.get(ADD).status_code == 200
    response = client.post(ADD, _form(trigger_list=vip.pk, condition_1_type="not_opted_out",
                                      action_1_type="add_tag", action_1_tag=tag.name,
                                      action_2_type="remove_tag", action_2_tag=tag.name, action_2_delay="2",
                                      action_2_delay_unit="86400"))  # fmt: skip
    assert response.status_code == 302, response.context["adminform"].form.errors
    auto = Automation.objects.get()
    assert auto.enabled and auto.enabled_at and auto.created_by == editor
    assert auto.trigger == {"type": "list_added", "list": vip.pk}
    assert auto.conditions == [{"type": "not_opted_out"}]
    assert auto.actions == [{"type": "add_tag", "delay_seconds": 0, "tag": "vip"},
                            {"type": "remove_tag", "delay_seconds": 172800, "tag": "vip"}]  # fmt: skip
    # The change page shows the same choices back, and the run timeline.
    anna = ContactFactory(first_name="Anna")
    contacts.add_to_list(vip, [anna.pk])
    drain()
    page = client.get(reverse("admin:automations_automation_change", args=[auto.pk]))
    form = page.context["adminform"].form
    assert form.initial["trigger_list"] == vip.pk and form.initial["action_2_delay"] == 2
    assert 'data-status="pending"' in page.content.decode() and "Anna" in page.content.decode()
    contact_page = client.get(reverse("admin:contacts_contact_change", args=[anna.pk])).content.decode()
    assert "VIP welcome" in contact_page and "Add tag" in contact_page  # the action in words
    dry = client.get(reverse("admin:automations_automation_dry_run", args=[auto.pk]))
    assert 'data-dry-run-matches="1"' in dry.content.decode()


def test_form_refuses_with_the_reason_on_the_field(client, editor):
    client.force_login(editor)
    response = client.post(ADD, _form(trigger_type="date_field", trigger_field="birth_date", action_1_type="send_text",
                                      action_1_text="hi"))  # fmt: skip
    assert response.status_code == 200
    errors = response.context["adminform"].form.errors
    assert "action_1_account" in errors and "choose an account" in str(errors["action_1_account"])
    response = client.post(ADD, _form(action_1_type="add_tag"))
    errors = response.context["adminform"].form.errors
    assert "trigger_list" in errors and "action_1_tag" in errors
    response = client.post(ADD, _form(trigger_list=ContactListFactory().pk))
    assert "add at least one action" in str(response.context["adminform"].form.errors)
    assert not Automation.objects.exists()


def test_deleting_a_list_in_use_is_refused_naming_the_automation(client, manager):
    vip = ContactListFactory(name="VIP")
    TagFactory(name="t")
    from automations import services

    services.save_automation({"name": "Benvenuto VIP", "enabled": True, "trigger": {"type": "list_added", "list": vip.pk},
                              "actions": [{"type": "add_tag", "tag": "t"}]})  # fmt: skip
    client.force_login(manager)
    url = reverse("admin:contacts_contactlist_delete", args=[vip.pk])
    page = client.get(url).content.decode()
    assert "Benvenuto VIP" in page
    client.post(url, {"post": "yes"})
    assert type(vip).objects.filter(pk=vip.pk).exists()


def test_viewer_reads_but_cannot_build(client, viewer):
    client.force_login(viewer)
    assert client.get(reverse("admin:automations_automation_changelist")).status_code == 200
    assert client.get(ADD).status_code == 403
    assert client.get(reverse("admin:automations_automationrun_changelist")).status_code == 200
