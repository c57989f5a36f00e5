"""Demo templates for a fresh install (called from `manage.py seed_demo`), idempotent.

Approved on the Sandbox account so campaigns can use them at once; one rejected, to show
what a rejection looks like; an SMS and an RCS template to show the other kinds.
"""

from __future__ import annotations

from .models import MessageTemplate

DEMO = [
    {
        "name": "promo_natale", "kind": "whatsapp", "language": "it", "category": "marketing",
        "header": {"type": "text", "text": "Natale da {{shop}}"},
        "body": "Ciao {{first_name}}, per Natale hai il {{discount}} di sconto su tutto fino al 24 dicembre.",
        "footer": "Rispondi STOP per non ricevere più offerte",
        "buttons": [{"type": "url", "text": "Vedi le offerte", "url": "https://example.com/natale/{{code}}"},
                    {"type": "quick_reply", "text": "Non mi interessa"}],
        "samples": {"shop": "Bottega Rossi", "first_name": "Maria", "discount": "20%", "code": "N24"},
    },
    {
        "name": "promemoria_appuntamento", "kind": "whatsapp", "language": "it", "category": "utility",
        "body": "Ciao {{first_name}}, ti ricordiamo l'appuntamento di {{date}} a {{city}}. A presto!",
        "buttons": [{"type": "quick_reply", "text": "Confermo"}, {"type": "quick_reply", "text": "Devo spostarlo"},
                    {"type": "phone_number", "text": "Chiamaci", "phone_number": "+390212345678"}],
        "samples": {"first_name": "Luca", "date": "lunedì alle 10:00", "city": "Milano"},
    },
    {
        "name": "order_shipped", "kind": "whatsapp", "language": "en", "category": "utility",
        "body": "Hi {{first_name}}, your order {{order}} is on its way. Use the code below to track it.",
        "buttons": [{"type": "copy_code", "example": "TRK123"}],
        "samples": {"first_name": "Anna", "order": "#1042"},
    },
    {
        "name": "offerta_da_rifiutare", "kind": "whatsapp", "language": "it", "category": "marketing",
        "body": "Ciao {{first_name}}, questo esempio contiene la parola REJECT: il Sandbox lo rifiuta.",
        "samples": {"first_name": "Maria"},
    },
    {
        "name": "avviso_sms", "kind": "sms", "language": "it",
        "body": "Ciao {{first_name}}, il tuo ordine è pronto in negozio. Orari: 9-19. Rispondi STOP per uscire.",
        "samples": {"first_name": "Maria"},
    },
    {
        "name": "rcs_benvenuto", "kind": "rcs", "language": "it", "rcs_type": "card", "card_orientation": "vertical",
        "cards": [{"title": "Benvenuto {{first_name}}!", "description": "Scopri le novità della settimana.",
                   "media_url": "https://example.com/img/benvenuto.jpg",
                   "suggestions": [{"type": "url", "text": "Apri il sito", "url": "https://example.com"},
                                   {"type": "reply", "text": "Grazie"}]}],
        "sms_fallback": "Benvenuto {{first_name}}! Scopri le novità su example.com",
        "samples": {"first_name": "Giulia"},
    },
]  # fmt: skip


def seed_demo_templates(account=None) -> int:
    """Create the demo templates (those missing) and submit them to the Sandbox `account`."""
    from .services import create_template, submit_template, sync_template_now

    created = 0
    for data in DEMO:
        if MessageTemplate.objects.filter(name=data["name"], language=data["language"]).exists():
            continue
        template = create_template(dict(data))
        created += 1
        if account is None or template.kind == MessageTemplate.Kind.SMS:
            continue
        submit_template(template, [account])
        provider = account.get_provider()
        for link in template.links.filter(account=account).exclude(remote_id=""):
            if hasattr(provider, "finish_review"):
                provider.finish_review(link.remote_id)  # demo data: reviewed already
        sync_template_now(template)
    return created
