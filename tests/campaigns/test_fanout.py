"""Fan-out: a killed worker never causes a duplicate or a lost recipient; cap, window, auto-pause."""

import datetime as dt

import pytest
from django.utils import timezone

from campaigns.models import Campaign
from campaigns.services import start_campaign
from campaigns.services.fanout import Pacer, acquire_lease, next_opening, recipient_zone, run_campaign
from campaigns.services.polling import poll_campaign
from messaging.models import Message, SandboxObject
from messaging.providers.sandbox import SandboxProvider
from messaging.sending import queue_message
from messaging.status import mark_replied

from .helpers import assert_counters_match_rows, list_of, predictable_outcomes, sandbox_account, sms_campaign

pytestmark = pytest.mark.django_db

NO_SLEEP = {"sleep": lambda s: None}


@pytest.fixture
def account():
    return sandbox_account()


def sent_remotely():
    return list(SandboxObject.objects.filter(kind="message").values_list("data__to", flat=True))


def test_worker_killed_between_the_call_and_the_record(account, monkeypatch):
    """The call left, the worker died before recording: the resumed run finds it, sends nobody twice."""
    contact_list, contacts = list_of(30)
    campaign = sms_campaign(account, [contact_list], text="Saldi!")  # same text: batch calls of 50
    start_campaign(campaign)
    real = SandboxProvider.send_batch
    state = {"calls": 0}

    def send_then_die(self, messages):
        results = real(self, messages)
        state["calls"] += 1
        if state["calls"] == 1:
            raise SystemExit("worker killed")  # after the provider accepted, before we recorded
        return results

    monkeypatch.setattr(SandboxProvider, "send_batch", send_then_die)
    monkeypatch.setattr("campaigns.services.fanout.Pacer.wait_for", lambda self, n: None)
    with pytest.raises(SystemExit):
        run_campaign(campaign.pk, **NO_SLEEP)
    # The dead worker's lease runs out; another worker resumes.
    Campaign.objects.filter(pk=campaign.pk).update(runner_until=timezone.now() - dt.timedelta(seconds=1))
    assert Message.objects.filter(campaign=campaign, dispatched_at__isnull=False, status="queued").exists()
    report = run_campaign(campaign.pk, **NO_SLEEP)
    assert report.status == "completed"
    phones = sent_remotely()
    assert len(phones) == len(set(phones)) == len(contacts)  # zero duplicates, zero lost
    assert Message.objects.filter(campaign=campaign, status="sent").count() == len(contacts)
    assert_counters_match_rows(campaign)


def test_crash_between_rounds_resumes_without_gaps(account):
    contact_list, contacts = list_of(12)
    campaign = sms_campaign(account, [contact_list])  # personal text: one call per message
    start_campaign(campaign)
    with pytest.raises(RuntimeError):
        run_campaign(campaign.pk, crash_after=5, **NO_SLEEP)
    assert len(sent_remotely()) == 5
    assert_counters_match_rows(campaign)
    Campaign.objects.filter(pk=campaign.pk).update(runner_until=None)
    run_campaign(campaign.pk, **NO_SLEEP)
    phones = sent_remotely()
    assert sorted(phones) == sorted(c.phone for c in contacts)


def test_one_runner_at_a_time(account):
    contact_list, _ = list_of(3)
    campaign = sms_campaign(account, [contact_list])
    start_campaign(campaign)
    assert acquire_lease(campaign.pk, "other-worker")
    report = run_campaign(campaign.pk, **NO_SLEEP)
    assert report.detail == "another runner holds the lease"
    assert sent_remotely() == []


def test_unknown_outcome_is_never_blindly_retried(account, monkeypatch):
    from messaging.providers.errors import Unavailable

    contact_list, contacts = list_of(4)
    campaign = sms_campaign(account, [contact_list])
    start_campaign(campaign)

    def timeout(self, message):
        raise Unavailable("Sandbox unreachable: timeout after 10 s")

    monkeypatch.setattr(SandboxProvider, "send", timeout)
    monkeypatch.setattr(
        SandboxProvider, "lookup_message", lambda self, ref, to="": (_ for _ in ()).throw(Unavailable("x"))
    )
    run_campaign(campaign.pk, **NO_SLEEP)
    campaign.refresh_from_db()
    assert campaign.status == "completed"
    totals = assert_counters_match_rows(campaign)
    assert totals["unknown"] == len(contacts)
    assert Message.objects.filter(campaign=campaign).first().status_history[-1]["status"] == "unknown"


def test_auto_pause_on_failure_rate_and_resume(account, monkeypatch):
    contact_list, _contacts = list_of(20)
    campaign = sms_campaign(account, [contact_list], failure_window=5, failure_threshold_percent=50)
    start_campaign(campaign)
    from messaging.providers.errors import Rejected

    monkeypatch.setattr(
        SandboxProvider, "send", lambda self, m: (_ for _ in ()).throw(Rejected("number not valid"))
    )
    report = run_campaign(campaign.pk, **NO_SLEEP)
    campaign.refresh_from_db()
    assert report.status == "paused" == campaign.status
    assert "5 of the last 5 messages failed" in campaign.status_reason
    totals = assert_counters_match_rows(campaign)
    assert totals["failed"] == 5 and totals["queued"] == 15
    from messaging.stats import campaign_failure_reasons

    assert campaign_failure_reasons(campaign.pk) == [("number not valid", 5)]
    monkeypatch.undo()
    from campaigns.services import resume_campaign

    resume_campaign(campaign)
    run_campaign(campaign.pk, **NO_SLEEP)
    totals = assert_counters_match_rows(campaign)
    assert (totals["sent"], totals["failed"]) == (15, 5)


def test_frequency_cap_holds_back_and_counts(account, settings):
    settings.SWITCHBOARD_FREQUENCY_CAP_PER_DAY = 1
    contact_list, contacts = list_of(4)
    queue_message(account, channel="sms", contact=contacts[0], text="earlier promo", is_marketing=True)
    campaign = sms_campaign(account, [contact_list])
    start_campaign(campaign)
    run_campaign(campaign.pk, **NO_SLEEP)
    campaign.refresh_from_db()
    totals = assert_counters_match_rows(campaign)
    assert totals["skipped"] == 1 and totals["sent"] == 3
    assert campaign.excluded_counts["frequency_cap"] == 1


def test_sending_window_in_the_recipients_time_zone(account):
    italy = recipient_zone("+393331234567")
    assert str(italy) == "Europe/Rome"
    assert str(recipient_zone("+393331234567", country="IN")) in ("Asia/Calcutta", "Asia/Kolkata")
    contact_list, _ = list_of(2)
    campaign = sms_campaign(account, [contact_list])
    campaign.window_start, campaign.window_end, campaign.window_days = (
        dt.time(9),
        dt.time(20),
        [0, 1, 2, 3, 4, 5],
    )
    monday_8 = dt.datetime(2026, 3, 2, 8, 0, tzinfo=italy)
    assert next_opening(campaign, italy, monday_8) == dt.datetime(2026, 3, 2, 9, 0, tzinfo=italy)
    assert next_opening(campaign, italy, monday_8.replace(hour=10)) is None
    saturday_21 = dt.datetime(2026, 3, 7, 21, 0, tzinfo=italy)
    assert next_opening(campaign, italy, saturday_21) == dt.datetime(2026, 3, 9, 9, 0, tzinfo=italy)  # Monday


def test_outside_the_window_waits_and_resumes(account):
    contact_list, _contacts = list_of(3)
    now = timezone.now().astimezone(recipient_zone("+39333"))
    closed_start = (now + dt.timedelta(hours=2)).time().replace(minute=0, second=0, microsecond=0)
    closed_end = (now + dt.timedelta(hours=3)).time().replace(minute=0, second=0, microsecond=0)
    if closed_start >= closed_end:
        pytest.skip("window arithmetic crosses midnight at this hour")
    campaign = sms_campaign(account, [contact_list], window_start=closed_start, window_end=closed_end)
    start_campaign(campaign)
    report = run_campaign(campaign.pk, **NO_SLEEP)
    assert report.deferred == 3 and report.again_in and report.again_in > 3000
    assert sent_remotely() == []
    Message.objects.filter(campaign=campaign).update(not_before=timezone.now() - dt.timedelta(seconds=1))
    Campaign.objects.filter(pk=campaign.pk).update(window_start=None, window_end=None)
    assert run_campaign(campaign.pk, **NO_SLEEP).status == "completed"


def test_polling_fills_the_funnel_and_replies_count(account, monkeypatch):
    predictable_outcomes(monkeypatch)
    contact_list, contacts = list_of(40)
    campaign = sms_campaign(account, [contact_list])
    start_campaign(campaign)
    run_campaign(campaign.pk, **NO_SLEEP)
    counts = poll_campaign(campaign.pk)
    assert counts["applied"] > 0
    assert poll_campaign(campaign.pk).get("applied", 0) == 0  # nothing new the second time
    mark_replied(account, contacts[0])
    totals = assert_counters_match_rows(campaign)
    assert totals["delivered"] > 0 and totals["read"] > 0 and totals["failed"] > 0
    assert totals["replied"] == (1 if Message.objects.get(contact=contacts[0]).replied_at else 0)


def test_pacer_keeps_the_rate():
    clock = {"t": 0.0}
    slept = []

    def sleep(s):
        slept.append(s)
        clock["t"] += s

    pacer = Pacer(10, clock=lambda: clock["t"], sleep=sleep)
    for _ in range(20):
        pacer.wait_for(1)
    assert clock["t"] == pytest.approx(1.9)  # 20 messages at 10/s: the last leaves at 1.9 s


@pytest.mark.parametrize("work", [0.02, 0.06])
def test_pacer_counts_the_time_calls_take_and_makes_up_an_overrun(work):
    """Each call (and its recording) costs time; one in five overruns its slot: the rate still holds."""
    clock = {"t": 0.0}

    def sleep(s):
        clock["t"] += s

    pacer = Pacer(10, clock=lambda: clock["t"], sleep=sleep)
    departures = []
    for i in range(100):
        pacer.wait_for(1)
        departures.append(clock["t"])
        clock["t"] += 0.25 if i % 5 == 0 else work  # the call and the record (on average < 0.1 s)
    # never ahead of the schedule: message k leaves no earlier than k / rate
    assert all(t >= k * 0.1 - 1e-9 for k, t in enumerate(departures))
    # 100 messages at 10/s: the last leaves at 9.9 s (a fixed sleep after each call would take far longer)
    assert departures[-1] == pytest.approx(9.9, abs=0.05)  # without making up overruns: 12.9 s
