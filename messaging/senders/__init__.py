"""Senders: what an account sends from (SMS originators, WhatsApp numbers, RCS agents).

models.py   Sender (account, channel, address, label, active, source pulled|manual)
services.py record_pulled_senders (the sync's upsert), save_manual_sender, check_sender, choices
sync.py     SenderSync, the "senders" resource of the sync engine
"""
