from sensor_node.protocol import Detection, Heartbeat, decode_frame
from sensor_node.spool import Spool

KEY = bytes(range(32))


def test_sequence_survives_restart_and_acks_remove(tmp_path):
    sp = Spool(tmp_path / "spool.db", "N1", KEY)
    seqs = [sp.append(Detection("ignored", 10 + k)).seq for k in range(5)]
    assert seqs == [1, 2, 3, 4, 5]
    assert sp.ack(2) and not sp.ack(2)
    sp.close()
    sp = Spool(tmp_path / "spool.db", "N1", KEY)
    assert sp.depth() == 4
    pend = sp.pending(after_seq=0, limit=10)
    assert [s for s, _ in pend] == [1, 3, 4, 5]
    first = decode_frame(pend[0][1], {"N1": KEY}).message
    assert first == Detection("N1", 10, seq=1) or (first.sensor_id, first.t_ns, first.seq) == ("N1", 10, 1)
    assert sp.append(Detection("N1", 99)).seq == 6  # never reuses a number
    hb = decode_frame(sp.heartbeat_frame(Heartbeat("N1", 0, 5)), {"N1": KEY}).message
    assert hb.seq == 7 and sp.depth() == 5  # heartbeats are signed, not spooled
    assert [s for s, _ in sp.pending(after_seq=4, limit=1)] == [5]


def test_full_spool_drops_oldest_and_counts(tmp_path):
    sp = Spool(tmp_path / "s.db", "N1", KEY, max_frames=3)
    for k in range(5):
        sp.append(Detection("N1", k))
    assert sp.depth() == 3 and sp.dropped() == 2
    assert [s for s, _ in sp.pending()] == [3, 4, 5]
