"""`chiso notify` against a real local SMTP server (aiosmtpd) and a real local
HTTP webhook receiver, over the real broker and Redis."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from sources.producers import make_producer
from tests.notify_servers import SmtpRecorder, WebhookRecorder, wait_until

pytestmark = pytest.mark.integration

WEDNESDAY_4_30PM = "2024-03-20T16:30:00+07:00"  # a working day, after the 16:00 digest, office open


def recipients_file(tmp: Path, smtp: SmtpRecorder, hooks: WebhookRecorder, **delivery) -> Path:
    extra = "\n".join(f"{k} = {v}" for k, v in {"quick_wait_s": 0.05, "backoff_initial_s": 0.2,
                                                "claim_timeout_s": 3, **delivery}.items())
    path = tmp / "recipients.toml"
    path.write_text(f"""
base_url = "http://chiso.test"
digest_at = 16:00:00
[smtp]
host = "127.0.0.1"
port = {smtp.port}
security = "none"
sender = "Chỉ số phục vụ <chiso@test.vn>"
[webhooks.sxd]
url = "{hooks.url('/sxd')}"
[webhooks.broken]
url = "{hooks.url('/broken')}"
[units.dng-sxd]
email = ["motcua@sxd.test.vn"]
digest = ["lanhdao@sxd.test.vn"]
webhooks = ["sxd"]
[units.dng-stp]
webhooks = ["broken"]
[officers]
"cb-1" = {{ email = "a@sxd.test.vn", name = "Nguyễn Văn A" }}
[delivery]
{extra}
""", encoding="utf-8")
    return path


def alert(dossier: str, unit: str = "dng-sxd", officer: str | None = None, state: str = "overdue") -> bytes:
    return orjson.dumps({"dossier_id": dossier, "unit_id": unit, "state": state,
                         "due_at": "2024-03-19T17:00:00+07:00", "at": "2024-03-20T08:00:00+07:00",
                         "procedure_id": "1.001193", "officer_id": officer})


def publish(stack, values: list[bytes]) -> None:
    producer = make_producer(stack.settings.kafka)
    for v in values:
        producer.send(stack.settings.alerts_topic, key=orjson.loads(v)["dossier_id"].encode(), value=v)
    producer.flush()
    producer.close()


def stats(stack) -> dict[str, int]:
    raw = stack.redis.hgetall(f"{stack.settings.redis_prefix}n:stats")
    return {k.decode(): int(v) for k, v in raw.items()}


@pytest.fixture
def servers():
    smtp = SmtpRecorder().start()
    hooks = WebhookRecorder({"/sxd": [503, 503], "/broken": [400]}).start()
    yield smtp, hooks
    smtp.stop()
    hooks.stop()


def test_alerts_reach_officers_units_digests_and_webhooks_once(make_stack, servers, tmp_path: Path) -> None:
    smtp, hooks = servers
    stack = make_stack(now=WEDNESDAY_4_30PM)
    stack.env["CHISO_NOTIFY_RECIPIENTS"] = str(recipients_file(tmp_path, smtp, hooks))
    p = stack.settings.redis_prefix
    # D1 and D2 still overdue when the digest is made; D3 resolved since.
    stack.redis.hset(f"{p}open", mapping={d: orjson.dumps(["dng-sxd", "overdue", 1, "|overdue|"]) for d in ("D1", "D2")})
    publish(stack, [alert("D1", officer="cb-1"), alert("D2"), alert("D2"), alert("D3", state="nearing_due"),
                    alert("S1", unit="dng-stp")])  # D2 twice: a redelivery is one alert
    stack.start("notifier")
    stack.start("server")
    want = {"sent:email": 3, "sent:digest": 1, "sent:webhook": 3, "failed:webhook": 1, "retries:webhook": 2}
    wait_until(lambda: all(stats(stack).get(k) == n for k, n in want.items()), 120,
               lambda: f"{stats(stack)}\n{stack.logs()}")
    assert stack.redis.zcard(f"{p}n:due") == 0, "nothing left to send"

    by_to = {m["X-Envelope-To"]: m for m in smtp.messages}
    assert len(smtp.messages) == 4 and sorted(by_to) == ["a@sxd.test.vn", "lanhdao@sxd.test.vn", "motcua@sxd.test.vn"]
    officer = by_to["a@sxd.test.vn"]
    assert officer["Subject"] == "[chiso] Hồ sơ D1 quá hạn: hạn 17:00 ngày 19/03/2024"
    body = officer.get_content()
    assert "Thủ tục đăng ký khai sinh" in body and "Nguyễn Văn A" in body
    assert "http://chiso.test/api/v1/dossiers?unit=dng-sxd&state=overdue" in body
    unit_mails = [m for m in smtp.messages if m["X-Envelope-To"] == "motcua@sxd.test.vn"]
    assert sorted(m["Subject"].split()[3] for m in unit_mails) == ["D2", "D3"]
    digest = by_to["lanhdao@sxd.test.vn"].get_content()
    assert "D1 | Quá hạn" in digest and "D2 | Quá hạn" in digest and "D3" not in digest
    assert "Đã xử lý hoặc không còn cảnh báo từ đó: 1 hồ sơ" in digest

    chat = hooks.accepted["/sxd"]
    assert sorted(c["alert"]["dossier_id"] for c in chat) == ["D1", "D2", "D3"]
    assert all(c["text"].startswith(("⛔ Hồ sơ", "⚠️ Hồ sơ")) for c in chat)
    assert len({c["_key"] for c in chat}) == 3 and "/broken" not in hooks.accepted
    dead = stack.redis.hgetall(f"{p}n:dead")
    assert len(dead) == 1 and "HTTP 400" in orjson.loads(next(iter(dead.values())))["error"]

    metrics = {(s.name, s.labels.get("channel")): s.value
               for f in text_string_to_metric_families(stack.http.get("/metrics").text) for s in f.samples}
    assert metrics[("dvc_notify_deliveries_total", "email")] == 3
    assert metrics[("dvc_notify_deliveries_total", "digest")] == 1
    assert metrics[("dvc_notify_failures_total", "webhook")] == 1
    assert metrics[("dvc_notify_retries_total", "webhook")] == 2


@pytest.mark.parametrize(("hold", "copies"), [("hold-then-refuse", 1), ("record-then-hold", 2)])
def test_a_crash_mid_delivery_loses_nothing_and_repeats_at_most_the_one_in_flight(
        make_stack, servers, tmp_path: Path, hold: str, copies: int) -> None:
    """SIGKILL while the SMTP server holds its answer to one message (the others settled).
    Refused after the crash: the message is sent once, by the restarted notifier.
    Stored by the server before the crash: it is sent again (at-least-once)."""
    smtp, hooks = servers
    stack = make_stack(now="2024-03-20T10:00:00+07:00")  # no digest due
    stack.env["CHISO_NOTIFY_RECIPIENTS"] = str(recipients_file(tmp_path, smtp, hooks, claim_timeout_s=2))
    smtp.hold_next = hold
    publish(stack, [alert(f"K{i}", officer="cb-1") for i in range(5)])
    stack.start("notifier")
    wait_until(smtp.holding.is_set, 120, stack.logs)
    # The other deliveries are sent concurrently: let them settle, so that the held
    # one is the only delivery in flight when the process dies.
    wait_until(lambda: stats(stack).get("sent:email") == 4, 120, lambda: f"{stats(stack)}\n{stack.logs()}")
    stack.kill("notifier")
    smtp.release()
    stack.start("notifier")
    wait_until(lambda: stats(stack).get("sent:email") == 5, 120, lambda: f"{stats(stack)}\n{stack.logs()}")
    ids = [m["Message-ID"] for m in smtp.messages]
    subjects = sorted(m["Subject"].split()[3] for m in smtp.messages)
    assert sorted(set(subjects)) == [f"K{i}" for i in range(5)], "every delivery made"
    assert len(ids) == 4 + copies and len(set(ids)) == 5, "only the delivery in flight may repeat, same Message-ID"


def test_dry_run_prints_what_would_be_sent_and_sends_nothing(make_stack, servers, tmp_path: Path) -> None:
    smtp, hooks = servers
    stack = make_stack(now="2024-03-20T10:00:00+07:00")
    stack.env["CHISO_NOTIFY_RECIPIENTS"] = str(recipients_file(tmp_path, smtp, hooks))
    publish(stack, [alert("R1", officer="cb-1"), alert("R2", unit="dng-stp")])
    out = subprocess.run([sys.executable, "-m", "chiso.cli", "notify", "--dry-run"], env=stack.env,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "alerts not yet taken by the notifier: 2" in out.stdout
    assert "--- e-mail to a@sxd.test.vn: R1 overdue (dng-sxd)" in out.stdout
    assert "Subject: [chiso] Hồ sơ R1 quá hạn: hạn 17:00 ngày 19/03/2024" in out.stdout
    assert f"--- webhook broken (http://127.0.0.1:{hooks.port}/…): R2 overdue (dng-stp)" in out.stdout
    assert "next digest: 2024-03-20T16:00:00+07:00" in out.stdout
    assert smtp.messages == [] and hooks.attempts == {}
    assert stack.redis.keys(f"{stack.settings.redis_prefix}n:*") == []


def test_a_bad_recipients_file_stops_with_the_key_and_reason(make_stack, tmp_path: Path) -> None:
    stack = make_stack()
    bad = tmp_path / "bad.toml"
    bad.write_text('[units.dng-sxd]\nwebhooks = ["nope"]\n[units.dng-nowhere]\n', encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "chiso.cli", "notify", "--recipients", str(bad)], env=stack.env,
                         capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert out.stderr.strip() == f"chiso notify: {bad}: units.dng-sxd.webhooks: no [webhooks.nope] section"
    bad.write_text('[units.dng-nowhere]\n', encoding="utf-8")
    out = subprocess.run([sys.executable, "-m", "chiso.cli", "notify", "--recipients", str(bad), "--dry-run"],
                         env=stack.env, capture_output=True, text=True, timeout=120)
    assert "warning: units.dng-nowhere: not in the unit catalogue" in out.stderr
