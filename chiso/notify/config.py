"""The recipients file (``CHISO_NOTIFY_RECIPIENTS``, TOML; docs/thong-bao.md).

Validated completely at start-up: a mistake stops `chiso notify` with the key
and the reason (``units.dng-sxd.email.0: not an e-mail address``), never
mid-delivery. Units that the unit catalogue does not know are reported (a typo
would otherwise silently send their alerts to the parent's address).
"""

from __future__ import annotations

import re
import tomllib
from datetime import time
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from processors.units import UnitCatalogue

# Deliberately loose: the mail server is the judge; this catches typos and lists
# written as one string.
_ADDRESS = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>]+$")


def _address(value: str) -> str:
    if not _ADDRESS.match(value):
        raise ValueError(f"not an e-mail address: {value!r}")
    return value


Address = Annotated[str, AfterValidator(_address)]
Language = Literal["vi", "en"]


class NotifyConfigError(ValueError):
    """A recipients file that cannot be used; the message names the keys."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SmtpSettings(_Strict):
    host: str
    port: int = Field(587, ge=1, le=65535)
    security: Literal["starttls", "tls", "none"] = "starttls"
    username: str | None = None
    password: SecretStr | None = None
    sender: str                       # "Chỉ số phục vụ <chiso@danang.gov.vn>"
    timeout_s: float = Field(30.0, gt=0)


class Webhook(_Strict):
    url: SecretStr                    # chat webhooks carry their token in the URL: never printed
    text_key: str = "text"            # where the rendered text goes: "text" (Slack, Mattermost, Google Chat, Telegram), "content" (Discord)
    fields: dict[str, Any] = {}       # constant fields, e.g. Telegram's chat_id
    headers: dict[str, SecretStr] = {}
    include_alert: bool = True        # also send the alert itself under "alert"
    timeout_s: float = Field(10.0, gt=0)


def _officer(value: Any) -> Any:
    return {"email": value} if isinstance(value, str) else value


class Officer(_Strict):
    email: Address | None = None
    name: str | None = None


class UnitRecipients(_Strict):
    email: list[Address] = []         # each alert of the unit, unless its officer has an address
    digest: list[Address] = []        # the unit's daily digest
    webhooks: list[str] = []          # names of [webhooks.NAME]
    language: Language | None = None


class Delivery(_Strict):
    group_id: str = "chiso-notify"    # the notifier's own consumer group on dossier-alerts
    quick_attempts: int = Field(3, ge=1)      # tries in a row before waiting (tenacity)
    quick_wait_s: float = Field(1.0, gt=0)    # first wait between them, doubling, jittered
    attempts: int = Field(10, ge=1)           # rounds of quick tries before giving up
    backoff_initial_s: float = Field(30.0, gt=0)
    backoff_max_s: float = Field(3600.0, gt=0)
    claim_timeout_s: float = Field(300.0, gt=0)  # a delivery whose sender died is tried again after this
    dedup_days: float = Field(35.0, gt=0)       # how long an alert id is remembered


class Recipients(_Strict):
    base_url: str = "http://127.0.0.1:8000"   # where officers open the dossier list
    language: Language = "vi"
    digest_at: time = time(16, 0)             # local time of the daily digest, on working days
    smtp: SmtpSettings | None = None
    webhooks: dict[str, Webhook] = {}
    units: dict[str, UnitRecipients] = {}
    officers: dict[str, Annotated[Officer, BeforeValidator(_officer)]] = {}
    delivery: Delivery = Delivery()

    @model_validator(mode="after")
    def _consistent(self) -> Recipients:
        for unit, r in self.units.items():
            for name in r.webhooks:
                if name not in self.webhooks:
                    raise ValueError(f"units.{unit}.webhooks: no [webhooks.{name}] section")
        wants_mail = any(r.email or r.digest for r in self.units.values()) or any(o.email for o in self.officers.values())
        if wants_mail and self.smtp is None:
            raise ValueError("smtp: e-mail addresses are configured but there is no [smtp] section")
        return self


def load_recipients(path: str | Path) -> Recipients:
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotifyConfigError(f"{path}: cannot read: {exc.strerror or exc}") from None
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise NotifyConfigError(f"{path}: not valid TOML: {exc}") from None
    try:
        return Recipients.model_validate(raw)
    except ValidationError as exc:
        lines = []
        for err in exc.errors():
            key = ".".join(str(part) for part in err["loc"])
            reason = err["msg"].removeprefix("Value error, ")
            lines.append(f"{key}: {reason}" if key else reason)
        raise NotifyConfigError(f"{path}: " + "; ".join(lines)) from None


def unknown_units(recipients: Recipients, units: UnitCatalogue) -> list[str]:
    """Unit ids of the file that the unit catalogue does not know."""
    return sorted(u for u in recipients.units if u not in units)
