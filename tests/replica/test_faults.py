"""Fault modes, per number and for every request, with ``times=`` and the request log."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from django_cedula.testing.replica import Answer, FaultMode, Replica
from django_cedula.testing.replica.outcomes import CURL_ERROR_TEXT, UPDATING_TEXT

from .helpers import CensoClient, Elements, Response, WspClient

FOUND = "1000000001"
OTHER = "1000000003"


def wsp_kind(client: WspClient, number: str) -> str:
    """Look ``number`` up on Source A and classify the answer (``dropped`` for a closed connection)."""
    try:
        answer = client.lookup(number)
    except ConnectionError:
        return "dropped"
    return classify_wsp(answer)


def classify_wsp(answer: Response) -> str:
    if answer.status == 500:
        return "error_500"
    if Elements(answer.text).with_class("blocked"):
        return "block"
    data: dict[str, Any] = answer.json()
    if data.get("reload"):
        return "reload"
    message = str(data["data"]["message"])
    if not data["success"]:
        if message.startswith("Marque el cuadro"):
            return "captcha"
        return "curl_error" if message == CURL_ERROR_TEXT else "failure"
    if message == UPDATING_TEXT:
        return "updating"
    if "\x00" in message:
        return "garbage"
    return "found" if 'data-th="MESA"' in message else "other"


# Each lookup fault as the client sees it on a number that is otherwise found.
LOOKUP_FAULTS = {
    FaultMode.SLOW: "found",
    FaultMode.DROP: "dropped",
    FaultMode.BLOCK: "block",
    FaultMode.GARBAGE: "garbage",
    FaultMode.CURL_ERROR: "curl_error",
    FaultMode.CAPTCHA_REJECT: "captcha",
    FaultMode.RELOAD: "reload",
    FaultMode.UPDATING: "updating",
}


@pytest.mark.parametrize("mode", list(LOOKUP_FAULTS))
def test_fault_per_number(wsp: WspClient, replica: Replica, mode: FaultMode) -> None:
    replica.set_fault(mode, cedula=FOUND)
    assert wsp_kind(wsp, FOUND) == LOOKUP_FAULTS[mode]
    assert wsp_kind(wsp, FOUND) == LOOKUP_FAULTS[mode], "stays on without times"
    assert wsp_kind(WspClient(replica), OTHER) == "found", "other numbers are unaffected"
    fired = [r for r in replica.lookups(FOUND) if r.fault == mode.value]
    assert len(fired) == 2


@pytest.mark.parametrize("mode", list(LOOKUP_FAULTS))
def test_fault_for_every_request(replica: Replica, mode: FaultMode) -> None:
    replica.set_fault(mode)
    for number in (FOUND, OTHER, "1000000002", "987654"):
        assert wsp_kind(WspClient(replica), number) == LOOKUP_FAULTS[mode]
    assert replica.count(kind="lookup", fault=mode) == 4


@pytest.mark.parametrize("mode", [m for m in LOOKUP_FAULTS if m is not FaultMode.BLOCK])
def test_fault_fires_times_then_stops(wsp: WspClient, replica: Replica, mode: FaultMode) -> None:
    replica.set_fault(mode, times=2)
    assert [wsp_kind(wsp, FOUND) for _ in range(3)] == [LOOKUP_FAULTS[mode]] * 2 + ["found"]
    assert replica.faults == []


def test_slow_fault_takes_slow_seconds(wsp: WspClient, replica: Replica) -> None:
    # 1.5 s slow: an unslowed request on a loaded machine (other suites run beside this one) stays
    # well under it.
    replica.slow_seconds = 1.5
    replica.set_fault("slow", times=1)
    started = time.monotonic()
    assert wsp_kind(wsp, FOUND) == "found"
    assert time.monotonic() - started >= 1.5
    started = time.monotonic()
    assert wsp_kind(wsp, FOUND) == "found"
    assert time.monotonic() - started < 1.0


def test_get500_for_every_request_fails_the_page_once(wsp: WspClient, replica: Replica) -> None:
    replica.set_fault("get500", times=1)
    first = wsp.load()
    assert first.status == 500
    assert "Internal Server Error" in first.text
    assert wsp.load().status == 200
    assert wsp.post(FOUND).json()["success"] is True
    assert [r.answer for r in replica.requests(kind="page")] == ["error_500", "page"]
    assert replica.requests(kind="page")[0].fault == "get500"


def test_get500_for_every_request_does_not_touch_lookups(wsp: WspClient, replica: Replica) -> None:
    wsp.load()
    replica.set_fault("get500")
    assert wsp.post(FOUND).json()["success"] is True
    assert wsp.load().status == 500


@pytest.mark.parametrize("times", [1, None])
def test_get500_per_number_arms_the_reloaded_page(
    wsp: WspClient, replica: Replica, times: int | None
) -> None:
    replica.set_fault("get500", cedula=FOUND, times=times)
    for _ in range(2):
        assert wsp.lookup(FOUND).json() == {"success": False, "reload": True}
        assert replica.lookups()[-1].fault == "get500"
        assert wsp.load().status == 500
        assert wsp.load().status == 200, "retry once works"
        if times == 1:
            break
    assert (wsp.post(FOUND).json()["success"] is True) is (times == 1)
    # Other numbers and other sessions' pages are not affected.
    assert wsp_kind(WspClient(replica), OTHER) == "found"


def test_block_for_every_request_counts_pages_too(wsp: WspClient, replica: Replica) -> None:
    replica.set_fault("block", times=2)
    for _ in range(2):
        assert Elements(wsp.load().text).with_class("blocked")
    assert replica.count(kind="page", answer="block", fault="block") == 2
    assert wsp_kind(wsp, FOUND) == "found"


def test_block_for_every_request_also_blocks_pages(replica: Replica) -> None:
    replica.set_fault("block", times=3)
    for answer in (
        WspClient(replica).load(),
        CensoClient(replica).load(),
        CensoClient(replica).elections(),
    ):
        assert answer.status == 200
        assert Elements(answer.text).with_class("authenticate")
    assert WspClient(replica).load().status == 200


def test_page_faults_leave_the_token_alone(wsp: WspClient, replica: Replica) -> None:
    wsp.load()
    replica.set_fault("block", times=1)
    assert classify_wsp(wsp.post(FOUND)) == "block"
    assert wsp.post(FOUND).json()["success"] is True


def test_a_fault_is_used_up_only_when_it_fires(wsp: WspClient, replica: Replica) -> None:
    replica.set_fault("captcha_reject", times=1)
    wsp.load()
    assert wsp.post(FOUND, token="stale").json() == {"success": False, "reload": True}
    assert len(replica.faults) == 1, "the stale-token answer came before the captcha check"
    assert wsp_kind(wsp, FOUND) == "captcha"
    assert wsp_kind(wsp, FOUND) == "found"


def test_number_fault_wins_over_run_fault_wins_over_table(replica: Replica) -> None:
    replica.set_fault("curl_error")
    replica.set_fault("updating", cedula=FOUND)
    assert wsp_kind(WspClient(replica), FOUND) == "updating"
    assert wsp_kind(WspClient(replica), OTHER) == "curl_error"
    assert wsp_kind(WspClient(replica), "1000000040") == "curl_error"  # the table says "updating"


def test_fault_overrides_the_table_for_a_number(wsp: WspClient, replica: Replica) -> None:
    replica.set_fault("block", cedula="1000000010")
    assert wsp_kind(wsp, "1000000010") == "block"
    replica.clear_fault("block", cedula="1000000010")
    assert "no se encuentra en el censo" in wsp.lookup("1000000010").json()["data"]["message"]


def test_setting_a_fault_again_replaces_it(replica: Replica) -> None:
    replica.set_fault("drop", cedula="1.000.000.001", times=1)
    replica.set_fault("drop", cedula=1000000001, times=3)
    (fault,) = replica.faults
    assert (fault.mode, fault.cedula, fault.remaining) == (FaultMode.DROP, FOUND, 3)


def test_clearing_faults(wsp: WspClient, replica: Replica) -> None:
    replica.set_fault("drop")
    replica.set_fault("block", cedula=FOUND)
    replica.clear_fault("drop")
    assert [f.mode for f in replica.faults] == [FaultMode.BLOCK]
    replica.clear_faults()
    assert replica.faults == []
    assert wsp_kind(wsp, FOUND) == "found"


def test_bad_fault_arguments(replica: Replica) -> None:
    with pytest.raises(ValueError, match="not a valid FaultMode"):
        replica.set_fault("explode")
    with pytest.raises(ValueError, match="times"):
        replica.set_fault("drop", times=0)


def test_reset_restores_everything(wsp: WspClient, replica: Replica) -> None:
    wsp.load()
    replica.form_delay = 1
    replica.valid_token = "x"
    replica.token_max_age = 1
    replica.site_key = "y"
    replica.slow_seconds = 99
    replica.set_fault("drop")
    replica.reset()
    assert (replica.form_delay, replica.valid_token, replica.token_max_age, replica.slow_seconds) == (
        0.0,
        None,
        120.0,
        30.0,
    )
    assert replica.faults == []
    assert replica.requests() == []
    assert wsp.post(FOUND).json() == {"success": False, "reload": True}, "sessions are gone"


def test_reset_and_stop_wake_sleeping_requests(replica: Replica) -> None:
    replica.slow_seconds = 30
    replica.set_fault("slow")
    outcome: list[str] = []
    client = WspClient(replica)
    client.load()
    thread = threading.Thread(target=lambda: outcome.append(_lookup_or_dropped(client)))
    thread.start()
    replica.wait_for(kind="lookup", fault="slow")
    started = time.monotonic()
    replica.reset()
    thread.join(timeout=5)
    assert time.monotonic() - started < 2
    assert outcome == ["dropped"]


def _lookup_or_dropped(client: WspClient) -> str:
    try:
        client.post(FOUND)
    except ConnectionError:
        return "dropped"
    return "answered"


def test_stop_does_not_wait_for_slow_answers() -> None:
    replica = Replica(slow_seconds=30).start()
    replica.set_fault("slow")
    client = WspClient(replica)
    client.load()
    thread = threading.Thread(target=_lookup_or_dropped, args=(client,), daemon=True)
    thread.start()
    replica.wait_for(kind="lookup", fault="slow")
    started = time.monotonic()
    replica.stop()
    assert time.monotonic() - started < 3


def test_request_log_filters_and_counts(wsp: WspClient, replica: Replica) -> None:
    wsp.lookup(FOUND)
    wsp.lookup("1000000010")
    wsp.lookup(FOUND)
    assert replica.count(kind="lookup") == 3
    assert replica.count(kind="page", source="wsp") == 2 + 1
    assert [r.answer for r in replica.lookups(FOUND)] == ["found", "found"]
    assert replica.count(answer=Answer.NOT_FOUND) == 1
    assert replica.lookups(source="censo") == []
    with pytest.raises(TypeError, match="no field"):
        replica.requests(colour="red")
    ids = [r.id for r in replica.requests()]
    assert ids == sorted(ids)


def test_wait_for_times_out(replica: Replica) -> None:
    started = time.monotonic()
    with pytest.raises(TimeoutError):
        replica.wait_for(kind="lookup", timeout=0.2)
    assert time.monotonic() - started < 1


def test_log_is_thread_safe_under_concurrent_lookups(replica: Replica) -> None:
    errors: list[BaseException] = []

    def worker(number: str) -> None:
        try:
            assert WspClient(replica).lookup(number).json()["success"] is True
        except BaseException as exc:  # collected for the main thread
            errors.append(exc)

    run: Callable[[str], None] = worker
    threads = [threading.Thread(target=run, args=(str(3_000_000 + n),)) for n in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=10)
    assert errors == []
    assert replica.count(kind="lookup", answer="found") == 20
    assert len({r.session for r in replica.lookups()}) == 20
