"""The public end of click tracking: /r/<code> redirects a recipient to the link they were sent.

No login, no session write, two or three short statements: the redirect answers at once.
HEAD requests and link-preview fetchers (chat apps unfurling the link, crawlers) are redirected
too but not counted, so "clicked" means a person opened the link. An unknown or malformed code
gets a friendly 404 page in the visitor's language, never an error.
"""

from __future__ import annotations

import logging
import re

from django.db import DatabaseError
from django.http import HttpResponseRedirect
from django.shortcuts import render
from django.views.decorators.http import require_safe

from .services.links import record_click, resolve

logger = logging.getLogger("switchboard.campaigns")

# User agents that fetch a link to show a preview, or crawl it; their visits are not clicks.
NOT_A_PERSON = re.compile(
    r"bot\b|bot/|crawl|spider|slurp|preview|facebookexternalhit|facebookcatalog|whatsapp|telegram|slack|"
    r"discord|skype|linkedin|embedly|quora link|pinterest|vkshare|w3c_validator|curl/|wget/|python-requests",
    re.IGNORECASE,
)


def is_person(request) -> bool:
    return request.method == "GET" and not NOT_A_PERSON.search(request.META.get("HTTP_USER_AGENT", "")[:500])


@require_safe
def follow_link(request, code: str):
    link = resolve(code)
    if link is None:
        return render(request, "campaigns/link_not_found.html", status=404)
    if is_person(request):
        try:
            record_click(link)
        except DatabaseError:  # a lost count is better than a lost visitor: they still get their page
            logger.exception("click on /r/%s not counted", code)
    response = HttpResponseRedirect(link["url"])
    response["Cache-Control"] = "no-store"  # every visit must reach us to be counted
    response["Referrer-Policy"] = "no-referrer"
    response["X-Robots-Tag"] = "noindex"
    return response
