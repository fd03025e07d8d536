"""Final solutions searched asynchronously: collected at a later tick, their incidents held open meanwhile."""

from concurrent.futures import Future
from types import SimpleNamespace

import numpy as np

from locator.associate import AssociationConfig, SensorTable
from locator.geodesy import CartesianFrame
from locator.service_finalize import LocalFinalizer
from locator.service_incidents import LiveIncidents, LiveShot
from sensor_node.protocol import Detection

NS = 1_000_000_000


def _shot(t0_ns, dets, final=False):
    source = SimpleNamespace(detections=tuple(dets), t0_ns=t0_ns, pos_m=np.array([100.0, 100.0, 1.5]))
    return LiveShot(t0_ns, (100.0, 100.0, 1.5), 1.0, frozenset(f"{d.sensor_id}:{d.seq}" for d in dets),
                    tuple(d.sensor_id for d in dets), 0.9, final, source)


def _setup():
    pos = np.array([[0.0, 0.0, 5.0], [300.0, 0.0, 5.0], [0.0, 300.0, 5.0], [300.0, 300.0, 5.0]])
    table = SensorTable.from_any({f"S{i}": p for i, p in enumerate(pos)})
    dets = [Detection(f"S{i}", 10 * NS + i * NS // 1000, 1e-4, 7, kind="blast") for i in range(4)]
    return table, dets


def test_a_final_search_in_flight_is_collected_later_and_holds_its_incident():
    table, dets = _setup()
    submitted = []

    def submit(pool):
        fut = Future()
        submitted.append((pool, fut))
        return fut

    fin = LocalFinalizer(table, AssociationConfig(), 1500.0, lambda d: list(d), submit)
    prelim = _shot(10 * NS, dets)
    late = 10 * NS + 60 * NS
    out, withdrawn, found = fin.finalize(late, [prelim])
    assert (out, withdrawn, found) == ([], [], []) and len(submitted) == 1 and fin.pending == 1
    assert fin.holding == prelim.keys
    # A second tick while the search runs starts no second search.
    fin.finalize(late, [prelim])
    assert len(submitted) == 1
    final = SimpleNamespace(detections=tuple(dets))
    submitted[0][1].set_result([final])
    out, withdrawn, found = fin.finalize(late, [prelim])
    assert out == [final] and withdrawn == [] and found == [] and fin.holding == frozenset()


def test_a_search_that_finds_nothing_withdraws_the_shot():
    table, dets = _setup()

    def submit(pool):
        fut = Future()
        fut.set_result([])
        return fut

    fin = LocalFinalizer(table, AssociationConfig(), 1500.0, lambda d: list(d), submit)
    prelim = _shot(10 * NS, dets)
    assert fin.finalize(10 * NS, [prelim]) == ([], [], [])  # not due yet: sensors may still hear it
    assert fin.finalize(20 * NS, [prelim]) == ([], [prelim], [])


def test_a_shot_found_beside_is_handed_back_when_no_preliminary_shot_has_it():
    # A round whose arrivals first went to an alias (since replaced) has no preliminary shot:
    # the final searches around it find it, and it is handed back to be searched for itself.
    table, dets = _setup()
    other = [Detection(f"S{i}", 10 * NS + 70_000_000 + i * NS // 1000, 1e-4, 8, kind="blast") for i in range(4)]
    third = [Detection(f"S{i}", 10 * NS + 140_000_000 + i * NS // 1000, 1e-4, 9, kind="blast") for i in range(4)]
    mine, beside, claimed = (SimpleNamespace(detections=tuple(d)) for d in (dets, other, third))

    def submit(pool):
        fut = Future()
        fut.set_result([mine, beside, claimed])
        return fut

    fin = LocalFinalizer(table, AssociationConfig(), 1500.0, lambda d: list(d), submit)
    prelim, waiting = _shot(10 * NS, dets), _shot(10 * NS + 140_000_000, third)
    cut = fin.final_by_ns(prelim)
    assert fin.final_by_ns(waiting) > cut  # only prelim is due
    out, withdrawn, found = fin.finalize(cut, [prelim, waiting])
    assert out == [mine] and withdrawn == []
    assert found == [beside]  # not the shot of the preliminary shot still waiting for its own search


def test_incidents_held_open_while_their_final_search_runs():
    _, dets = _setup()
    inc = LiveIncidents(CartesianFrame(), "local", gap_s=2.0, radius_m=300.0)
    prelim = _shot(10 * NS, dets)
    inc_id, _, _ = inc.add(prelim)
    long_after = 10 * NS + 30 * NS  # past the give-up age of never-confirmed shots
    assert inc.due(long_after, hold=prelim.keys) == []
    assert inc.due(long_after) == [inc_id]
