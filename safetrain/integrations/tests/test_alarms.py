"""OPS-02: Alertmanager's alerts become entries of the alarm log (预警记录); operators see and acknowledge them."""

from __future__ import annotations

import json

import pytest
from django.test import Client

from safetrain.integrations.models import Alarm, AlarmStatus
from safetrain.records.models import AuditEntry

TOKEN = "alert-webhook-test-token"


def notification(status: str = "firing", **changes) -> dict:
    alert = {
        "status": status,
        "labels": {"alertname": "LoadAbove70PercentOfDesign", "severity": "warning", "node": "web1"},
        "annotations": {"summary": "节点 web1 负载达到设计负荷的 75%（预警线 70%）", "description": "请关注"},
        "startsAt": "2026-12-07T08:00:00.123Z",
        "endsAt": "2026-12-07T08:05:00Z" if status == "resolved" else "0001-01-01T00:00:00Z",
        "fingerprint": "a1b2c3d4e5f60718",
        **changes,
    }
    return {"version": "4", "status": status, "receiver": "safetrain", "alerts": [alert]}


def post(payload, token: str = TOKEN):
    return Client().post(
        "/ops/alerts/webhook",
        json.dumps(payload) if not isinstance(payload, bytes) else payload,
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {token}",
    )


@pytest.fixture(autouse=True)
def webhook_token(settings):
    settings.ALERT_WEBHOOK_TOKEN = TOKEN


@pytest.mark.django_db
def test_ops_02_an_alert_is_stored_once_and_its_resolution_updates_it():
    assert post(notification()).json() == {"stored": 1}
    assert post(notification()).status_code == 200  # Alertmanager repeats a firing alert
    alarm = Alarm.objects.get()
    assert (alarm.name, alarm.severity, alarm.node, alarm.status) == (
        "LoadAbove70PercentOfDesign",
        "warning",
        "web1",
        AlarmStatus.FIRING,
    )
    assert alarm.summary.startswith("节点 web1 负载达到设计负荷的 75%")
    assert alarm.notifications == 2
    assert alarm.ends_at is None
    post(notification("resolved"))
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RESOLVED
    assert alarm.ends_at.isoformat() == "2026-12-07T08:05:00+00:00"
    post(notification())  # a late repeat of the same occurrence does not reopen it
    alarm.refresh_from_db()
    assert alarm.status == AlarmStatus.RESOLVED
    post(notification(startsAt="2026-12-07T09:00:00Z"))  # the same alert again later: a new entry
    assert Alarm.objects.count() == 2


@pytest.mark.django_db
@pytest.mark.parametrize(
    "payload",
    [
        b"{not json",
        {"alerts": []},
        {"alerts": "x"},
        {"alerts": [1]},
        {"alerts": [{"labels": {"alertname": "X"}, "startsAt": "2026-12-07T08:00:00Z"}]},  # no fingerprint
        {"alerts": [{"labels": {}, "startsAt": "2026-12-07T08:00:00Z", "fingerprint": "f"}]},  # no name
    ],
)
def test_ops_02_a_malformed_notification_is_refused_and_stores_nothing(payload):
    response = post(payload)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_alerts"
    assert not Alarm.objects.exists()


@pytest.mark.django_db
def test_ops_02_the_webhook_is_closed_without_the_token(settings):
    assert post(notification(), token="wrong").status_code == 404
    settings.ALERT_WEBHOOK_TOKEN = ""
    assert post(notification(), token="").status_code == 404  # unset: closed to everyone
    assert not Alarm.objects.exists()


@pytest.mark.django_db
def test_ops_02_operators_see_and_acknowledge_alarms_others_cannot(world, web_client):
    post(notification())
    alarm = Alarm.objects.get()
    operator = web_client(world.operator)
    page = operator.get("/ops/alarms/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "预警记录" in html
    assert "节点 web1 负载达到设计负荷的 75%" in html
    assert "有 1 条预警尚未确认" in html
    for outsider in (world.regulator_city, world.admin_nanshan, world.learner_nanshan):
        client = web_client(outsider)
        assert client.get("/ops/alarms/").status_code == 403
        client.post(f"/ops/alarms/{alarm.pk}/acknowledge", {"note": "x"})
        alarm.refresh_from_db()
        assert alarm.acknowledged_at is None
    response = operator.post(
        f"/ops/alarms/{alarm.pk}/acknowledge", {"note": "已扩容一台 Web 节点"}, follow=True
    )
    assert "预警已确认" in response.content.decode()
    alarm.refresh_from_db()
    assert alarm.acknowledged_by == world.operator
    assert alarm.acknowledgement_note == "已扩容一台 Web 节点"
    entry = AuditEntry.objects.filter(action="ops.alarm_acknowledge").get()
    assert entry.object_id == str(alarm.pk)
    again = operator.post(f"/ops/alarms/{alarm.pk}/acknowledge", {"note": ""}, follow=True)
    assert "该预警已确认" in again.content.decode()
    assert "有 0 条预警尚未确认" in operator.get("/ops/alarms/").content.decode()
    too_long = Alarm.objects.create(
        fingerprint="f2", starts_at=alarm.starts_at, name="X", status="firing",
        received_at=alarm.received_at, updated_at=alarm.updated_at,
    )  # fmt: skip
    refused = operator.post(f"/ops/alarms/{too_long.pk}/acknowledge", {"note": "长" * 1001}, follow=True)
    assert "处理说明最多 1000 字" in refused.content.decode()
    too_long.refresh_from_db()
    assert too_long.acknowledged_at is None
