"""Campaign services: every write to a campaign goes through these (admin, API, CLI and tasks call them)."""

from .audience import Audience, compute_audience
from .lifecycle import (
    CampaignError,
    cancel_campaign,
    create_campaign,
    delete_campaign,
    pause_campaign,
    resume_campaign,
    start_campaign,
    update_campaign,
)

__all__ = [
    "Audience", "CampaignError", "cancel_campaign", "compute_audience", "create_campaign", "delete_campaign",
    "pause_campaign", "resume_campaign", "start_campaign", "update_campaign",
]  # fmt: skip
