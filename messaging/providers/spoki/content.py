"""Spoki templates, campaigns and automations (mixed into SpokiProvider)."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import re
from collections.abc import Iterator, Mapping
from typing import Any

from ..base import (
    CampaignStats,
    CampaignStatus,
    RemoteCampaign,
    RemoteContact,
    RemoteTemplate,
    TemplateStatus,
)
from ..errors import NotFound, Rejected
from . import templating
from .common import (
    MAX_BULK,
    _naive_iso,
)
from .mapping import (
    campaign_from_api,
    campaign_stats_from_api,
    campaign_to_api,
    contact_to_api,
    template_to_api,
    templates_from_api,
    text,
)

# A campaign created before it is started waits as a Draft dated this far ahead; starting it
# schedules it this far from now (Spoki wants a time strictly after its own clock).
DRAFT_AHEAD = dt.timedelta(days=1)
START_AHEAD = dt.timedelta(minutes=1)

class SpokiContentMixin:
    """Spoki templates, campaigns and automations (mixed into SpokiProvider)."""

    # -- templates ----------------------------------------------------------------------------------

    template_kinds = templating.TEMPLATE_KINDS
    template_syntax = templating.template_syntax
    template_ids_per_language = True  # one template id, one localization (and status) per language
    template_delete_can_force = True  # force_delete=true deactivates the automation steps using it

    def get_template_for(self, remote_id: str, *, language: str = "") -> RemoteTemplate:
        """One localization: Spoki shares the template id across languages."""
        return self.get_template(f"{remote_id}:{language}" if language else remote_id)

    def delete_template_for(self, remote_id: str, *, language: str = "", force: bool = False) -> None:
        """Delete (every localization); force deactivates the automation steps that use it."""
        self.delete_template(remote_id, force=force)

    def iter_templates(self, *, search: str = "", channel_id: str = "") -> Iterator[RemoteTemplate]:
        """Every template, one record per localization (status is per language)."""
        params: dict[str, Any] = {}
        if search:
            params["search"] = search
        if channel_id:
            params["channel_id"] = channel_id
        for page in self._pages(
            self._path("templates"), lambda row: row, None, params, bucket="templates",
            key=lambda d: d.get("id", repr(d)),
        ):  # fmt: skip
            for row in page.items:
                yield from templates_from_api(row)

    def _template_payload(self, remote_id: str) -> dict:
        return self.http.get(self._path("templates", remote_id), bucket="templates")

    def get_template(self, remote_id: str) -> RemoteTemplate:
        """By id, or "id:language" for one localization; by default the approved one, else the first."""
        template_id, _, language = str(remote_id).partition(":")
        localizations = templates_from_api(self._template_payload(template_id))
        if language:
            for record in localizations:
                if record.language.lower() == language.lower():
                    return record
            raise NotFound(
                f"Spoki template {template_id} has no {language} localization.", provider=self.slug
            )
        approved = [r for r in localizations if r.status == TemplateStatus.APPROVED]
        return (approved or localizations)[0]

    def create_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """POST /templates/ as a DRAFT (submit_template() sends it to WhatsApp for review)."""
        body = self.http.post(
            self._path("templates"), json_body=template_to_api(template), bucket="templates"
        )
        return self._pick(templates_from_api(body), template.language)

    def update_template(self, template: RemoteTemplate) -> RemoteTemplate:
        """PATCH /templates/{id}/; the localization for template.language is edited in place."""
        current = self._template_payload(template.remote_id)
        localization_id = None
        for loc in current.get("templatelocalization_set") or []:
            if text(loc.get("language")).lower() == (template.language or "").lower():
                localization_id = loc.get("id")
        body = template_to_api(template, localization_id)
        body["template_groups"] = current.get("template_groups") or []
        response = self.http.patch(
            self._path("templates", template.remote_id),
            json_body=body,
            bucket="templates_write",
            idempotent=True,
        )
        return self._pick(templates_from_api(response), template.language)

    def delete_template(self, remote_id: str, *, force: bool = False) -> None:
        """DELETE (force_delete=true deactivates the automation steps that use it)."""
        params = {"force_delete": "true"} if force else None
        with contextlib.suppress(NotFound):
            self.http.delete(self._path("templates", remote_id), params=params, bucket="templates_write")

    def clone_template(self, remote_id: str) -> RemoteTemplate:
        """GET /templates/{id}/clone/: a GET with a side effect (201, new DRAFT), so never retried."""
        response = self.http.request(
            "GET", self._path("templates", remote_id, "clone"), bucket="templates_write", idempotent=False
        )
        return self._pick(templates_from_api(response.json()), "")

    def submit_template(self, remote_id: str) -> None:
        """POST /templates/{id}/submit/ (204): DRAFT localizations go to WhatsApp for review."""
        self.http.post(self._path("templates", remote_id, "submit"), bucket="templates_write")

    def template_back_to_draft(self, remote_id: str) -> dict:
        """POST /templates/{id}/back_to_draft/: unusable until approved again."""
        return self.http.post(
            self._path("templates", remote_id, "back_to_draft"), bucket="templates_write", idempotent=True
        )

    @staticmethod
    def _pick(records: list[RemoteTemplate], language: str) -> RemoteTemplate:
        for record in records:
            if language and record.language.lower() == language.lower():
                return record
        return records[0]

    def _template_id(self, name_or_id: str) -> str:
        """Spoki sends by template id; accept a name too and look it up (once per instance)."""
        value = str(name_or_id).strip()
        if value.isdigit():
            return value
        if value not in self._template_ids:
            for record in self.iter_templates(search=value):
                if record.name == value:
                    self._template_ids[value] = record.remote_id
                    break
            else:
                raise NotFound(f"No Spoki template is named {value!r}.", provider=self.slug)
        return self._template_ids[value]

    # -- campaigns ----------------------------------------------------------------------------------

    def iter_campaigns(self, *, scheduled_from=None, scheduled_to=None) -> Iterator[RemoteCampaign]:
        """GET /campaigns/ (5/min), optionally windowed by scheduled_datetime."""
        params: dict[str, Any] = {}
        if scheduled_from:
            params["scheduled_datetime_gte"] = _naive_iso(scheduled_from)
        if scheduled_to:
            params["scheduled_datetime_lte"] = _naive_iso(scheduled_to)
        for page in self._pages(self._path("campaigns"), campaign_from_api, None, params, bucket="campaigns"):
            yield from page.items

    def get_campaign(self, remote_id: str) -> RemoteCampaign:
        return campaign_from_api(self.http.get(self._path("campaigns", remote_id), bucket="campaigns"))

    def create_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """POST /campaigns/ with `template` (Spoki builds the automation) or raw["automation"].

        Spoki requires a status and a scheduled_datetime after now on every create: without them
        the campaign is made a Draft, dated a day ahead, which start_campaign moves to now.
        """
        if not campaign.scheduled_at or campaign.status == CampaignStatus.UNKNOWN:
            campaign = dataclasses.replace(
                campaign,
                status=campaign.status if campaign.status != CampaignStatus.UNKNOWN else CampaignStatus.DRAFT.value,
                scheduled_at=campaign.scheduled_at or dt.datetime.now(dt.UTC) + DRAFT_AHEAD,
            )
        body = self.http.post(
            self._path("campaigns"), json_body=campaign_to_api(campaign), bucket="campaigns"
        )
        return campaign_from_api(body)

    def start_campaign(self, remote_id: str) -> RemoteCampaign:
        """Spoki has no start call: PATCH the campaign to Scheduled a minute from now (it refuses a
        scheduled_datetime that is not after now, so "now" would race the clocks)."""
        when = dt.datetime.now(dt.UTC) + START_AHEAD
        body = self.http.patch(
            self._path("campaigns", remote_id),
            json_body={"status": "Scheduled", "scheduled_datetime": when.isoformat().replace("+00:00", "Z")},
            bucket="campaigns", idempotent=True,
        )  # fmt: skip
        return campaign_from_api(body)

    def update_campaign(self, campaign: RemoteCampaign) -> RemoteCampaign:
        """PATCH /campaigns/{id}/ (only while it is not processing)."""
        body = self.http.patch(
            self._path("campaigns", campaign.remote_id), json_body=campaign_to_api(campaign),
            bucket="campaigns", idempotent=True,
        )  # fmt: skip
        return campaign_from_api(body)

    def delete_campaign(self, remote_id: str) -> None:
        """DELETE (403 spoki::403 while it is processing)."""
        with contextlib.suppress(NotFound):
            self.http.delete(self._path("campaigns", remote_id), bucket="campaigns")

    def get_campaign_stats(self, remote_id: str) -> CampaignStats:
        """The counters Spoki keeps on the campaign itself."""
        return campaign_stats_from_api(self.http.get(self._path("campaigns", remote_id), bucket="campaigns"))

    def get_campaign_progress(self, remote_id: str) -> tuple[RemoteCampaign, CampaignStats]:
        """One GET (campaigns are limited to 5/min): the status and the counters are the same record."""
        body = self.http.get(self._path("campaigns", remote_id), bucket="campaigns")
        return campaign_from_api(body), campaign_stats_from_api(body)

    # -- automations ----------------------------------------------------------------------------------

    def iter_automations(self, *, search: str = "", is_active: bool | None = None) -> Iterator[dict]:
        """Automations as Spoki returns them; webhook_set[] holds each trigger's uuid and secret."""
        params: dict[str, Any] = {}
        if search:
            params["search"] = search
        if is_active is not None:
            params["is_active"] = "true" if is_active else "false"
        yield from self._iter_raw(self._path("automations"), params, bucket="automations")

    def get_automation(self, automation_id: str) -> dict:
        return self.http.get(self._path("automations", automation_id), bucket="automations")

    def create_automation(self, definition: dict) -> dict:
        """POST /automations/ with the documented body (name, steps, trigger sets…)."""
        return self.http.post(self._path("automations"), json_body=definition, bucket="automations")

    def automation_custom_fields_used(self, automation_id: str) -> dict:
        """Which contact fields and custom fields an automation needs before it is started."""
        return self.http.get(
            self._path("automations", automation_id, "custom-fields-used"), bucket="automations"
        )

    def _trigger(self, automation: str | dict) -> tuple[str, str]:
        if isinstance(automation, dict):
            payload = automation
        elif re.fullmatch(r"[0-9a-fA-F-]{32,36}", str(automation)):
            raise Rejected("Pass the automation id or payload: the trigger secret is on the automation.")
        else:
            payload = self.get_automation(str(automation))
        for hook in payload.get("webhook_set") or []:
            if hook.get("is_active", True) and hook.get("uuid") and hook.get("secret"):
                return str(hook["uuid"]), str(hook["secret"])
        raise Rejected(
            f"Spoki automation {payload.get('id')} has no active API trigger (webhook_set) to start it.",
            provider=self.slug,
        )

    @staticmethod
    def _trigger_contact(contact: RemoteContact, metadata: Mapping[str, Any] | None) -> dict:
        body = contact_to_api(contact)
        if metadata:
            body["metadata"] = dict(metadata)
        return body

    def start_automation(
        self, automation: str | dict, contact: RemoteContact, metadata: Mapping[str, Any] | None = None
    ) -> None:
        """POST /wh/ap/{uuid}/ with the trigger secret (no API key). It upserts the contact itself."""
        uuid, secret = self._trigger(automation)
        body = {"secret": secret, **self._trigger_contact(contact, metadata)}
        # Starting sends messages: never retried on a 5xx (idempotent=False).
        self.http.request(
            "POST", f"/wh/ap/{uuid}/", json_body=body, headers={"X-Spoki-Api-Key": None},
            bucket="automation_trigger", idempotent=False,
        )  # fmt: skip

    def start_automation_bulk(
        self, automation: str | dict, contacts: list[RemoteContact], metadata: Mapping[str, Any] | None = None
    ) -> None:
        """POST /wh/ap/{uuid}/bulk/ with up to 500 contacts."""
        if len(contacts) > MAX_BULK:
            raise Rejected(f"Spoki starts at most {MAX_BULK} contacts per call.", provider=self.slug)
        uuid, secret = self._trigger(automation)
        body = {"secret": secret, "contacts": [self._trigger_contact(c, metadata) for c in contacts]}
        self.http.request(
            "POST", f"/wh/ap/{uuid}/bulk/", json_body=body, headers={"X-Spoki-Api-Key": None},
            bucket="automation_trigger", idempotent=False,
        )  # fmt: skip
