"""Message templates (issue 9): WhatsApp, RCS and SMS templates, written once, submitted to
provider accounts and tracked per account.

- models.py — MessageTemplate (the text staff write, with named {{variables}} and samples)
  and TemplateLink (its status on one provider account).
- variables.py — finding named variables; each provider package maps them to its own syntax.
- sms.py — the SMS segment counter (GSM-7 / UCS-2, 160/153 and 70/67).
- validation.py — every rule checked before sending, used by the form, the API and submit.
- rendering.py — a template filled in for one contact → text + OutboundMessage fields.
- services.py — create/update/delete/submit/approval checks; the only writers.
"""
