"""Who gets an alert (pure).

- The unit's *section* is the ``[units.ID]`` of the alert's unit, or else of its
  nearest ancestor in the unit catalogue that has one: a commune without its own
  addresses is covered by its district or department. A unit with a section
  whose lists are empty opts out; it does not fall through to its parent.
- E-mail: the officer's address when the alert names an officer (``officer_id``
  of the dossier's reception or latest assignment) listed in ``[officers]``;
  otherwise the section's ``email`` addresses.
- Webhooks: the section's; digest: the section's unit, when it has ``digest``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass

import orjson

from chiso.notify.config import Recipients
from processors.units import UnitCatalogue
from store.scripts import NotifyIntake


@dataclass(frozen=True, slots=True)
class Route:
    emails: tuple[str, ...]
    webhooks: tuple[str, ...]
    digest_unit: str | None
    language: str


def alert_id(alert: dict) -> str:
    """One alert: a dossier entering a state at an instant (a redelivery has the same id)."""
    return f"{alert['dossier_id']}|{alert['state']}|{alert['at']}"


def delivery_id(alert: str, channel: str, target: str) -> str:
    return hashlib.sha1(f"{alert}|{channel}|{target}".encode()).hexdigest()[:24]


def section_of(unit_id: str, recipients: Recipients, units: UnitCatalogue) -> str | None:
    seen: set[str] = set()
    current: str | None = unit_id
    while current is not None and current not in seen:
        if current in recipients.units:
            return current
        seen.add(current)
        unit = units.get(current)
        current = unit.parent_id if unit is not None else None
    return None


def route(alert: dict, recipients: Recipients, units: UnitCatalogue) -> Route:
    section_id = section_of(alert["unit_id"], recipients, units)
    section = recipients.units[section_id] if section_id is not None else None
    officer = recipients.officers.get(alert.get("officer_id") or "")
    if officer is not None and officer.email:
        emails: tuple[str, ...] = (officer.email,)
    else:
        emails = tuple(dict.fromkeys(section.email)) if section else ()
    return Route(
        emails=emails,
        webhooks=tuple(dict.fromkeys(section.webhooks)) if section else (),
        digest_unit=section_id if section is not None and section.digest else None,
        language=(section.language if section and section.language else recipients.language),
    )


def intake_of(raw: bytes, recipients: Recipients, units: UnitCatalogue) -> NotifyIntake:
    """The deliveries of one alert as read from the topic (raises ValueError or
    KeyError on a malformed alert)."""
    alert = orjson.loads(raw)
    aid = alert_id(alert)
    r = route(alert, recipients, units)
    jobs = []
    for channel, targets in (("email", r.emails), ("webhook", r.webhooks)):
        for target in targets:
            body = {"channel": channel, "to": target, "language": r.language, "alert": alert}
            jobs.append((delivery_id(aid, channel, target), orjson.dumps(body)))
    return NotifyIntake(aid, r.digest_unit or "", raw, tuple(jobs))
