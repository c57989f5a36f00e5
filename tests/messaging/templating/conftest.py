import pytest

from messaging.models import MessageTemplate, ProviderAccount


@pytest.fixture
def sandbox_account(db):
    return ProviderAccount.objects.create(provider="sandbox", name="Sandbox", settings={"review_seconds": 0})


@pytest.fixture
def make_template(db):
    def make(**overrides):
        data = {
            "name": "promo_natale", "kind": "whatsapp", "language": "it", "category": "marketing",
            "header": {"type": "text", "text": "Offerta per {{first_name}}"},
            "body": "Ciao {{first_name}}, a {{city}} lo sconto è del 20% fino a domenica.",
            "footer": "Rispondi STOP per non ricevere altro",
            "buttons": [{"type": "url", "text": "Vedi offerta", "url": "https://example.com/o/{{code}}"},
                     {"type": "quick_reply", "text": "Non mi interessa"}],
            "samples": {"first_name": "Maria", "city": "Roma", "code": "N24"},
        }  # fmt: skip
        data.update(overrides)
        template = MessageTemplate(**data)
        template.full_clean()
        template.save()
        return template

    return make
