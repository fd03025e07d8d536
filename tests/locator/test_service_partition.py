"""Which searches the live service runs: a group of new detections is searched only when its
pool could hold a shot (``LocatorService._could_hold_shot``), tested without listing cliques."""

import dataclasses
import itertools

import numpy as np

from locator.service import has_triangle
from locator.service_loadgen import hear_shot
from tests.locator.test_service import make_service, make_site

NS = 1_000_000_000


def _brute_triangle(a):
    n = a.shape[0]
    return any(a[i, j] and a[j, k] and a[i, k] for i in range(n) for j in range(i + 1, n) for k in range(j + 1, n))


def test_has_triangle_agrees_with_brute_force(rng):
    graphs = []
    for n, p in [(3, 1.0), (5, 0.3), (12, 0.2), (20, 0.1), (30, 0.5)]:
        for _ in range(10):
            u = np.triu(rng.random((n, n)) < p, 1)
            graphs.append(u | u.T)
    # triangle-free, and dense enough that a quick look finds none: bipartite graphs, cycles
    for n in (10, 40, 41):
        half = np.arange(n) < n // 2
        graphs.append(half[:, None] != half[None, :])
        ring = np.zeros((n, n), dtype=bool)
        ring[np.arange(n), (np.arange(n) + 1) % n] = True
        graphs.append(ring | ring.T)
    # a triangle only among the least-connected vertices, beside a dense bipartite graph:
    # the quick look at the best-connected ones misses it, the exact test must not
    big = np.zeros((43, 43), dtype=bool)
    half = np.arange(40) < 20
    big[:40, :40] = half[:, None] != half[None, :]
    big[40:, 40:] = ~np.eye(3, dtype=bool)
    graphs.append(big)
    answers = [has_triangle(a) for a in graphs]
    assert answers[-1]
    assert answers == [_brute_triangle(a) for a in graphs]
    assert any(answers) and not all(answers)


def test_a_pool_holding_a_shot_is_never_skipped(tmp_path, rng):
    # _could_hold_shot is a necessary condition: whenever the pool holds min_sensors arrivals
    # of one source at distinct sensors, one of them new, it must say so
    ids, pos = make_site(tmp_path, rng)
    svc = make_service(tmp_path)
    k = svc._assoc_cfg.min_sensors
    t0 = 1_000 * NS
    said = []
    for trial in range(30):
        dets = hear_shot(ids, pos, np.array([*rng.uniform(0, 500, 2), 1.5]), t0, rng)
        keep = rng.choice(len(dets), size=k if trial % 2 else k - 1, replace=False)
        shot = [dets[i] for i in keep]
        noise = [dataclasses.replace(d, t_ns=d.t_ns + int(rng.uniform(-2.0, 2.0) * NS), seq=100 + j)
                 for j, d in enumerate(dets) if j not in keep]
        pool = shot + noise
        got = svc._could_hold_shot([shot[0]], pool)
        s = np.array([svc._index[d.sensor_id] for d in pool])
        t = np.array([d.t_ns for d in pool])
        adj = svc._gate(t, s, t, s) & (s[:, None] != s[None, :])
        clique = any(all(adj[a, b] for a, b in itertools.combinations((0, *rest), 2))
                     for rest in itertools.combinations(range(1, len(pool)), k - 1))
        assert got or not clique
        if trial % 2:
            assert got  # the shot's own arrivals are such a clique
        said.append(got)
    assert not all(said)  # one arrival short, amid scattered noise: mostly no clique, and skipped
