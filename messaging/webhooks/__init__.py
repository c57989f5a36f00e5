"""Webhooks in: one URL per provider account, store first, process later.

receive.py    the hot path (token → account, provider check, one INSERT under a dedupe key)
views.py      the Django view and the lean WSGI front that serve /hooks/<token>/
drain.py      the drainer: stored events in batches → effects → processed / ignored / failed
effects.py    what a normalised event does (delivery updates, inbound messages, resource changes)
inbound.py    record_inbound(account, inbound): inbound Message rows, contacts, opt-out keywords
tokens.py     per-account webhook tokens and URLs
registration.py  registering our URL with providers whose API allows it
"""
