"""``block_wsp`` and ``block_censo``: the block of one source only, for the fallback chain's tests."""

from __future__ import annotations

import pytest

from django_cedula.testing.replica import FaultMode, Replica
from django_cedula.testing.replica.faults import block_modes

from .helpers import CensoClient, Elements, WspClient

FOUND = "1000000001"


def blocked(text: str) -> bool:
    return bool(Elements(text).with_class("blocked") or Elements(text).with_class("authenticate"))


def test_block_wsp_blocks_source_a_and_leaves_source_b_alone(replica: Replica) -> None:
    replica.set_fault("block_wsp")
    assert blocked(WspClient(replica).load().text)
    assert blocked(WspClient(replica).lookup(FOUND).text)
    censo = CensoClient(replica)
    assert not blocked(censo.load().text)
    assert censo.elections().json()
    assert censo.lookup(FOUND).json()["ok"] is True
    assert replica.count(source="wsp", answer="block", fault="block_wsp") >= 2
    assert replica.count(source="censo", answer="block") == 0


def test_block_censo_blocks_source_b_and_leaves_source_a_alone(replica: Replica) -> None:
    replica.set_fault("block_censo", times=2)
    censo = CensoClient(replica)
    assert blocked(censo.load().text)
    assert blocked(censo.elections().text)
    assert not blocked(WspClient(replica).load().text)
    assert not blocked(censo.load().text), "used up after two firings"


@pytest.mark.parametrize(
    ("source", "modes"),
    [
        ("wsp", (FaultMode.BLOCK, FaultMode.BLOCK_WSP)),
        ("censo", (FaultMode.BLOCK, FaultMode.BLOCK_CENSO)),
        ("recaptcha", (FaultMode.BLOCK,)),
    ],
)
def test_block_modes_per_source(source: str, modes: tuple[FaultMode, ...]) -> None:
    assert block_modes(source) == modes
