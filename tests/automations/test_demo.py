"""seed_demo's automations: built on the Sandbox account, switched on, never doubled, and they act."""

import pytest

from automations.demo import seed_automations
from automations.models import Automation, AutomationRun
from contacts import services as contacts
from contacts.models import ContactList
from messaging.models import ProviderAccount
from tests.factories import ContactFactory

from .helpers import drain

pytestmark = pytest.mark.django_db


def test_demo_automations_are_idempotent_and_welcome_a_vip(settings):
    settings.AUTOMATIONS_SENDING_WINDOW = ""
    ProviderAccount.objects.create(provider="sandbox", name="Sandbox (demo)")
    assert seed_automations() == 4
    assert seed_automations() == 0
    assert Automation.objects.filter(enabled=True).count() == 4
    anna = ContactFactory(first_name="Anna")
    contacts.add_to_list(ContactList.objects.get(name="VIP customers"), [anna.pk])
    drain()
    run = AutomationRun.objects.get(contact=anna, automation__name="Welcome new VIP customers")
    assert run.status == "succeeded", run.error
    assert [s.action for s in run.steps.all()] == ["add_tag", "start_provider_automation", "send_text"]
    # Its SMS does not start the "WhatsApp not read within 24 h" watch (an SMS is never "read").
    assert AutomationRun.objects.filter(contact=anna).count() == 1
