"""Openid batches (never one openid alone) and their clientmsgids."""

from __future__ import annotations

import pytest

from services.scheduler.batches import MAX_BATCH, client_msg_id, split

TENANT = "t" * 41  # the longest tenant id


def test_a_client_msg_id_fits_wechats_64_bytes_and_is_deterministic() -> None:
    found = client_msg_id(TENANT, "b" + "0" * 20, "r20261204T120000Z", 12)
    assert len(found.encode("ascii")) <= 64
    assert found == client_msg_id(TENANT, "b" + "0" * 20, "r20261204T120000Z", 12)
    assert found.startswith("wxp")


def test_client_msg_ids_differ_for_any_different_input() -> None:
    inputs = [
        (TENANT, "b1", "r20261204T120000Z", 0),
        (TENANT, "b1", "r20261204T120000Z", 1),
        (TENANT, "b1", "r20261211T120000Z", 0),
        (TENANT, "b2", "r20261204T120000Z", 0),
        ("t" * 40, "b1", "r20261204T120000Z", 0),
        ("ab", "c", "r", 0),  # the same characters joined differently
        ("a", "bc", "r", 0),
        ("a", "b", "cr", 0),
        ("a", "b", "c", 10),
        ("a", "b", "c1", 0),
    ]
    ids = {client_msg_id(*args) for args in inputs}
    assert len(ids) == len(inputs)


def test_small_lists_go_in_one_batch() -> None:
    assert split(["a", "b"]) == [("a", "b")]
    assert split(["o" + str(i) for i in range(MAX_BATCH)]) == [
        tuple("o" + str(i) for i in range(MAX_BATCH))
    ]


def test_a_lone_last_openid_takes_a_partner() -> None:
    openids = [f"o{i}" for i in range(MAX_BATCH + 1)]
    batches = split(openids)
    assert [len(b) for b in batches] == [MAX_BATCH - 1, 2]
    assert [o for b in batches for o in b] == openids
    assert split(list("abcd"), 3) == [("a", "b"), ("c", "d")]
    assert split(list("abcdefg"), 3) == [("a", "b", "c"), ("d", "e"), ("f", "g")]


@pytest.mark.parametrize("size", [3, 4, 5, 7])
def test_no_batch_is_ever_a_single_openid(size: int) -> None:
    for count in range(2, 40):
        openids = [f"o{i}" for i in range(count)]
        batches = split(openids, size)
        assert all(2 <= len(b) <= size for b in batches), (count, batches)
        assert [o for b in batches for o in b] == openids


@pytest.mark.parametrize("openids", [[], ["a"]])
def test_fewer_than_two_openids_cannot_be_sent_as_a_list(openids: list[str]) -> None:
    with pytest.raises(ValueError, match="at least 2"):
        split(openids)


def test_a_batch_size_below_three_cannot_always_avoid_a_lone_openid() -> None:
    with pytest.raises(ValueError, match="at least 3"):
        split(list("abc"), 2)
