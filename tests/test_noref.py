"""minikv._noref (the keyspace's shard counts read through borrowed pointers) against the plain
Python expressions it replaces, on shards shaped like a database's: the same figures."""

from __future__ import annotations

import importlib.util
import random

import pytest

from minikv import keyspace

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("minikv._noref") is None,
    reason="minikv._noref is not built (pip install -e . with a C compiler)",
)


def _shards(seed: int, with_deadlines: bool) -> list[dict[bytes, int]]:
    rnd = random.Random(seed)
    shards: list[dict[bytes, int]] = [{} for _ in range(keyspace.NSHARDS)]
    for i in range(rnd.randint(0, 5000)):
        key = b"k%d" % i
        deadline = rnd.randint(0, 2_000_000_000_000) if with_deadlines else 0
        shards[hash(key) & (keyspace.NSHARDS - 1)][key] = deadline
    return shards


@pytest.mark.parametrize("seed", range(6))
def test_total_len_is_the_sum_of_the_shard_sizes(seed: int) -> None:
    from minikv import _noref  # type: ignore[attr-defined]

    shards = _shards(seed, with_deadlines=False)
    assert _noref.total_len(shards) == sum(map(len, shards))
    assert _noref.total_len([]) == 0


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("sample", [1, 7, 1000, 10**9])
def test_deadline_sample_is_the_python_rule(seed: int, sample: int) -> None:
    from minikv import _noref  # type: ignore[attr-defined]

    shards = _shards(seed, with_deadlines=True)
    for now in (0, 1_000_000_000_000, 3_000_000_000_000):
        assert _noref.deadline_sample(shards, now, sample) == keyspace._py_deadline_sample(
            shards, now, sample
        )


def test_the_keyspace_uses_it_when_built() -> None:
    # In the pure build (MINIKV_PURE=1) native.load refuses it and the Python rule runs.
    assert (not keyspace.native.PURE) == keyspace.NOREF
