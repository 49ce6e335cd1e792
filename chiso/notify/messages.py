"""E-mail and chat texts, from the templates in ``chiso/notify/templates``
(``{kind}.{language}.txt``: the first line is the e-mail subject, the body
follows a blank line). Names come from the catalogues: the procedure's from the
procedure catalogue, the unit's from the unit catalogue, the officer's from the
recipients file (else the officer id)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

import jinja2

from chiso.notify.config import Recipients
from processors.catalogue import ProcedureCatalogue
from processors.open_state import ALERT_STATES
from processors.timeutil import LOCAL_TZ
from processors.units import UnitCatalogue
from processors.vocabulary import OPEN_STATES, labels

_NO_OFFICER = {"vi": "cán bộ phụ trách", "en": "officer in charge"}


@dataclass(frozen=True, slots=True)
class Message:
    subject: str
    text: str


def local_time(instant: str, language: str) -> str:
    at = datetime.fromisoformat(instant).astimezone(LOCAL_TZ)
    return at.strftime("%H:%M ngày %d/%m/%Y" if language == "vi" else "%d/%m/%Y %H:%M")


class Messages:
    def __init__(self, recipients: Recipients, units: UnitCatalogue, procedures: ProcedureCatalogue) -> None:
        self.recipients = recipients
        self.units = units
        self.procedures = procedures
        self.env = jinja2.Environment(
            loader=jinja2.PackageLoader("chiso.notify", "templates"),
            undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=False,
        )

    def _render(self, name: str, language: str, **context) -> str:
        return self.env.get_template(f"{name}.{language}.txt").render(**context).strip() + "\n"

    def list_url(self, unit_id: str, state: str | None = None) -> str:
        query = {"unit": unit_id, "state": state or ",".join(ALERT_STATES)}
        return f"{self.recipients.base_url.rstrip('/')}/api/v1/dossiers?{urlencode(query)}"

    def context(self, alert: dict, language: str) -> dict:
        unit = self.units.get(alert["unit_id"])
        officer_id = alert.get("officer_id")
        officer = self.recipients.officers.get(officer_id or "")
        if officer is not None and officer.name:
            officer_label = officer.name
        else:
            officer_label = officer_id or _NO_OFFICER[language]
        return {
            "dossier_id": alert["dossier_id"], "state": alert["state"],
            "state_label": labels(OPEN_STATES, language).get(alert["state"], alert["state"]),
            "unit_name": unit.name if unit is not None else alert["unit_id"],
            "procedure_name": self.procedures.name(alert.get("procedure_id")) or alert.get("procedure_id") or "-",
            "due": local_time(alert["due_at"], language), "at": local_time(alert["at"], language),
            "officer_label": officer_label,
            "list_url": self.list_url(alert["unit_id"], alert["state"]),
            "wall_url": f"{self.recipients.base_url.rstrip('/')}/wall",
        }

    def email(self, alert: dict, language: str) -> Message:
        subject, _, body = self._render("alert_email", language, **self.context(alert, language)).partition("\n\n")
        return Message(subject.strip(), body)

    def chat(self, alert: dict, language: str) -> str:
        return self._render("alert_chat", language, **self.context(alert, language)).strip()

    def digest(self, unit_id: str, items: list[dict], states_now: dict[str, str | None],
               counts: dict[str, int], day: datetime, language: str) -> Message:
        """``items``: the alerts since the last digest; those whose dossier is no
        longer in an alert state are only counted (handled since)."""
        latest: dict[str, dict] = {}
        for a in sorted(items, key=lambda a: a["at"]):
            latest[a["dossier_id"]] = a
        still = [self.context({**a, "state": states_now[d]}, language) for d, a in latest.items()
                 if states_now.get(d) in ALERT_STATES]
        still.sort(key=lambda c: (c["state"] != "overdue", c["dossier_id"]))
        unit = self.units.get(unit_id)
        rendered = self._render(
            "digest_email", language, unit_name=unit.name if unit is not None else unit_id,
            day=day.astimezone(LOCAL_TZ).strftime("%d/%m/%Y"), items=list(latest.values()), still=still,
            handled=len(latest) - len(still), counts=counts, list_url=self.list_url(unit_id),
        )
        subject, _, body = rendered.partition("\n\n")
        return Message(subject.strip(), body)
