"""`chiso notify`: delivers the deadline alerts of ``dossier-alerts`` to people.

config.py    the recipients file (TOML, validated at start-up)
routing.py   who gets an alert: officer, unit, nearest configured ancestor (pure)
schedule.py  when the daily digest goes: working days, office hours (pure)
messages.py  e-mail and chat texts from the Vietnamese / English templates
channels.py  SMTP and JSON webhooks, with quick retries; errors sorted into
             worth retrying or not
service.py   the consumer, the sender and the digest loops over the durable
             delivery state (store/notify_queue.py)
metrics.py   deliveries, failures and retries by channel for /metrics
"""
