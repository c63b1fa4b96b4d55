"""Proofs from stored nodes equal the plain O(n) proofs, for every tree shape, as it grows."""

from __future__ import annotations

import hashlib

from hypothesis import given, settings
from hypothesis import strategies as st

from app.custody import merkle
from app.public import nodes


class MemoryStore:
    """The node store in memory, counting what a proof reads."""

    def __init__(self, leaves: list[bytes]) -> None:
        self.all = leaves
        self.stored: dict[int, list[bytes]] = {}
        self.leaf_reads = 0

    def leaves(self, start: int, end: int) -> list[bytes]:
        self.leaf_reads += end - start
        return self.all[start:end]

    def count(self, level: int) -> int:
        return len(self.stored.get(level, []))

    def nodes(self, level: int, start: int, end: int) -> list[bytes]:
        return self.stored[level][start:end]

    def add(self, level: int, start: int, hashes: list[bytes]) -> None:
        assert len(self.stored.setdefault(level, [])) == start
        self.stored[level].extend(hashes)


def leaves(n: int) -> list[bytes]:
    return [merkle.leaf_hash(hashlib.sha256(str(i).encode()).digest()) for i in range(n)]


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(1, 90), min_size=1, max_size=4), st.integers(1, 3), st.data())
def test_stored_node_proofs_match_plain_proofs_as_the_log_grows(
    growth: list[int], base: int, data: st.DataObject
) -> None:
    every = leaves(sum(growth))
    store = MemoryStore(every)
    size = 0
    for step in growth:
        size += step
        nodes.extend(store, size, base)
        get_node = nodes.reader(store, size, base)
        index = data.draw(st.integers(0, size - 1))
        assert merkle.inclusion_proof_from_nodes(index, size, get_node) == merkle.inclusion_proof(
            index, every[:size]
        )
        first = data.draw(st.integers(1, size))
        assert merkle.consistency_proof_from_nodes(
            first, size, get_node
        ) == merkle.consistency_proof(first, every[:size])


def test_a_proof_reads_a_block_or_two_of_leaves_not_the_log() -> None:
    every = leaves(5000)
    store = MemoryStore(every)
    nodes.extend(store, 5000, 4)
    store.leaf_reads = 0
    proof = merkle.inclusion_proof_from_nodes(1234, 5000, nodes.reader(store, 5000, 4))
    assert proof == merkle.inclusion_proof(1234, every)
    assert store.leaf_reads <= 2 * 16
