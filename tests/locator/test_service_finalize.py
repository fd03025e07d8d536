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

    def submit(pool, cut_ns):
        fut = Future()
        submitted.append((pool, cut_ns, fut))
        return fut

    fin = LocalFinalizer(table, AssociationConfig(), 1500.0, lambda d: list(d), submit)
    prelim = _shot(10 * NS, dets)
    late = 10 * NS + 60 * NS
    out, withdrawn, found = fin.finalize(late, [prelim])
    assert (out, withdrawn, found) == ([], [], []) and len(submitted) == 1 and fin.pending == 1
    assert submitted[0][1] == late  # searched with the detections known up to the watermark
    assert fin.holding == prelim.keys
    # A second tick while the search runs starts no second search.
    fin.finalize(late, [prelim])
    assert len(submitted) == 1
    final = SimpleNamespace(detections=tuple(dets))
    submitted[0][2].set_result([final])
    out, withdrawn, found = fin.finalize(late, [prelim])
    assert out == [final] and withdrawn == [] and found == [] and fin.holding == frozenset()


def test_a_search_that_finds_nothing_withdraws_the_shot():
    table, dets = _setup()

    def submit(pool, cut_ns):
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

    def submit(pool, cut_ns):
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
    inc_id = inc.add(prelim).incident_id
    long_after = 10 * NS + 30 * NS  # past the give-up age of never-confirmed shots
    assert inc.due(long_after, hold=prelim.keys) == []
    assert inc.due(long_after) == [inc_id]


def _at(t_s, xy, keys, final):
    return LiveShot(int(t_s * NS), (xy[0], xy[1], 1.5), 1.0, frozenset(keys), tuple(k.split(":")[0] for k in keys),
                    0.9, final)


def test_an_incident_does_not_creep_across_town_shot_by_shot():
    # a shot joins an incident within the radius of its first shot, as salvo analyze groups
    inc = LiveIncidents(CartesianFrame(), "local", gap_s=10.0, radius_m=150.0)
    ids = [inc.add(_at(2.0 * k, (100.0 * k, 0.0), {f"S{j}:{k}" for j in range(5)}, True))[0] for k in range(4)]
    # 0 and 100 m; 200 m is too far from the first shot and opens its own, which 300 m joins
    assert ids[0] == ids[1] != ids[2] == ids[3]


def test_a_round_sharing_an_arrival_with_the_other_guns_round_keeps_its_own_shot():
    # two guns firing together: where their arrivals coincide the node made one detection,
    # which both rounds use; the first round's final solution must not replace the second's
    inc = LiveIncidents(CartesianFrame(), "local", gap_s=10.0, radius_m=150.0)
    first = [f"S{j}:1" for j in range(8)]
    second = [f"S{j}:2" for j in range(1, 8)] + ["S0:1"]
    inc.add(_at(1.0, (0.0, 0.0), first, False))
    inc.add(_at(1.07, (30.0, 0.0), second, False))
    inc.add(_at(1.0, (0.0, 0.0), first, True))
    assert [sorted(s.keys) for s in inc.unconfirmed()] == [sorted(second)]
    inc.add(_at(1.0, (0.0, 0.0), first[:7], True))  # most of its detections: the same shot, refined
    assert len(inc.recent(0)) == 2


def test_a_final_solution_leaves_the_incident_its_alias_opened():
    # a preliminary alias 400 m off opened an incident; its final solution is a round of the
    # burst: it joins the burst's incident, and the alias's incident, now empty, is retracted
    inc = LiveIncidents(CartesianFrame(), "local", gap_s=10.0, radius_m=150.0)
    burst = inc.add(_at(1.0, (0.0, 0.0), {f"S{j}:1" for j in range(8)}, True)).incident_id
    alias = inc.add(_at(0.9, (400.0, 0.0), {f"S{j}:2" for j in range(8)}, False)).incident_id
    assert alias != burst
    home, _, vacated, left = inc.add(_at(1.07, (0.0, 0.0), {f"S{j}:2" for j in range(8)}, True))
    assert home == burst and vacated is not None and vacated.id == alias and vacated.cls == "retracted"
    assert left is None and inc.open_ids == [burst]


def test_an_incident_a_final_solution_leaves_is_brought_up_to_date():
    # the alias's incident also holds a true shot of its own: it stays open, one shot fewer,
    # and add says so, so that its alert no longer counts the shot that left
    inc = LiveIncidents(CartesianFrame(), "local", gap_s=10.0, radius_m=150.0)
    burst = inc.add(_at(1.0, (0.0, 0.0), {f"S{j}:1" for j in range(8)}, True)).incident_id
    alias = inc.add(_at(0.9, (400.0, 0.0), {f"S{j}:2" for j in range(8)}, False)).incident_id
    assert inc.add(_at(1.5, (410.0, 0.0), {f"S{j}:3" for j in range(8)}, True)).incident_id == alias
    assert inc.snapshot(alias).n_shots == 2
    home, _, vacated, left = inc.add(_at(1.07, (0.0, 0.0), {f"S{j}:2" for j in range(8)}, True))
    assert home == burst and vacated is None and left == alias
    assert inc.snapshot(alias).n_shots == 1 and inc.snapshot(burst).n_shots == 2


def _round(t_s, xy, k, level, p=0.95):
    """A final live shot with a located source of six arrivals (``k`` numbers its detections)
    that the classifier gives ``p`` of being gunfire."""
    dets = tuple(Detection(f"S{i}", int((t_s + 0.1 * i) * NS), 1e-4, snr_db=20.0, peak_dbfs=level - i, p_gunshot=p,
                           kind="blast", seq=k) for i in range(6))
    pos = np.array([*xy, 1.5])
    source = SimpleNamespace(t0_ns=int(t_s * NS), pos_m=pos, err_m=0.8, detections=dets, residual_s=np.zeros(6),
                             sensor_pos_m=np.zeros((6, 3)), solution=None)
    return LiveShot(int(t_s * NS), tuple(pos), 0.8, frozenset(f"S{i}:{k}" for i in range(6)),
                    tuple(d.sensor_id for d in dets), 0.95, True, source)


def test_a_guns_echoes_lined_up_are_not_shots_of_its_incident(rng):
    """A reflector 40 m off the gun: a ghost "fires" 88 ms after each round.  Its first rounds
    join the gun's incident before its place has the rounds to be told an echo (``_fits``);
    once it has, the incident reports the gun's rounds alone, as ``salvo analyze`` does."""
    from locator.incidents import IncidentConfig

    inc = LiveIncidents(CartesianFrame(), "local", gap_s=10.0, radius_m=150.0, labels=IncidentConfig())
    gun = [10.0, 10.37, 10.61, 10.90, 11.29, 11.71]
    k = 0
    for t in gun:
        k += 1
        inc_id = inc.add(_round(t, np.array([100.0, 100.0]) + rng.normal(0, 0.5, 2), k, -20.0)).incident_id
        k += 1
        inc.add(_round(t + 0.088 + rng.normal(0, 0.003), np.array([110.0, 140.0]) + rng.normal(0, 0.5, 2), k, -30.0))
    assert inc.open_ids == [inc_id] and len(inc._open[inc_id]) == 12  # the ghosts are held with their gun
    snap = inc.snapshot(inc_id)
    assert snap.cls == "gunfire" and snap.n_shots == 6 and snap.n_shooters == 1
    assert sorted(s.t_ns for s in snap.shots) == [int(t * NS) for t in gun]


def test_a_firecracker_strings_first_pops_that_pass_for_gunfire_stay_with_the_string(rng):
    """A string's first two pops that the classifier takes for gunfire open an incident; the
    pops after them, which it does not, join it (``salvo analyze`` groups them all, and the
    place's vote makes the string an impulse), instead of leaving two gunfire shots alone."""
    from locator.incidents import IncidentConfig

    inc = LiveIncidents(CartesianFrame(), "local", gap_s=10.0, radius_m=150.0, labels=IncidentConfig())
    for k in range(12):
        p = 0.8 if k < 2 else 0.1
        inc.add(_round(10.0 + 0.12 * k, np.array([200.0, 50.0]) + rng.normal(0, 0.5, 2), k + 1, -25.0, p))
    (only,) = inc.open_ids
    snap = inc.snapshot(only)
    assert snap.n_shots == 12 and snap.cls != "gunfire"


def test_a_gun_that_lost_more_rounds_than_its_echoes_is_still_gunfire(rng):
    """Five rounds of a gun, the third lost, and the echo place of all five: the echoes are the
    larger part, but the incident is gunfire with the gun's four shots, not an echo."""
    from locator.incidents import IncidentConfig

    inc = LiveIncidents(CartesianFrame(), "local", gap_s=10.0, radius_m=150.0, labels=IncidentConfig())
    gun = [10.0, 10.37, 10.61, 10.90, 11.29]
    k = 0
    for j, t in enumerate(gun):
        if j != 2:
            k += 1
            got = inc.add(_round(t, np.array([100.0, 100.0]) + rng.normal(0, 0.5, 2), k, -20.0)).incident_id
            if j == 0:
                inc_id = got
        k += 1
        inc.add(_round(t + 0.088 + rng.normal(0, 0.003), np.array([110.0, 140.0]) + rng.normal(0, 0.5, 2), k, -30.0))
    snap = inc.snapshot(inc_id)
    assert snap.cls == "gunfire" and snap.n_shots == 4 and snap.n_shooters == 1
