"""With the campaigns app's registration: a template a scheduled campaign uses cannot be deleted."""

import pytest

from messaging.models import MessageTemplate
from messaging.templating import services

pytestmark = pytest.mark.django_db


def test_a_scheduled_campaign_blocks_deleting_its_template(sandbox_account, make_template, editor_api):
    from campaigns.models import Campaign

    template = make_template()
    campaign = Campaign.objects.create(
        name="Natale 2026", account=sandbox_account, channel="whatsapp", template=template, status="scheduled"
    )
    with pytest.raises(services.TemplateInUse, match="Natale 2026"):
        services.delete_template(template)
    response = editor_api.delete(f"/api/templates/{template.pk}/")
    assert response.status_code == 409 and "Natale 2026" in response.json()["detail"]
    Campaign.objects.filter(pk=campaign.pk).update(status="completed")
    services.delete_template(template)
    assert not MessageTemplate.objects.filter(pk=template.pk).exists()
