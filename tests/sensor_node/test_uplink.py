import socket
import threading
import time

from sensor_node.protocol import LENGTH_PREFIX, Ack, Detection, decode_frame, encode_frame, length_prefixed
from sensor_node.spool import Spool
from sensor_node.uplink import Uplink, UplinkConfig

KEY = bytes(range(32))


class AckServer:
    """A minimal locator on 127.0.0.1: records detection seqs and acks them (optionally drops the link)."""

    def __init__(self, port=0, drop_after=None):
        self.sock = socket.create_server(("127.0.0.1", port))
        self.port = self.sock.getsockname()[1]
        self.seen = []
        self.drop_after = drop_after
        self._t = threading.Thread(target=self._serve, daemon=True)
        self._t.start()

    def _serve(self):
        self.sock.settimeout(10)
        try:
            conn, _ = self.sock.accept()
        except OSError:
            return
        with conn:
            conn.settimeout(10)
            buf = b""
            while True:
                try:
                    chunk = conn.recv(65536)
                except OSError:
                    return
                if not chunk:
                    return
                buf += chunk
                while len(buf) >= 4:
                    (n,) = LENGTH_PREFIX.unpack_from(buf)
                    if len(buf) < 4 + n:
                        break
                    msg = decode_frame(buf[4 : 4 + n], {"N1": KEY}).message
                    buf = buf[4 + n :]
                    if isinstance(msg, Detection):
                        self.seen.append(msg.seq)
                        if self.drop_after is not None and len(self.seen) >= self.drop_after:
                            return  # the link dies before this one is acked
                        conn.sendall(length_prefixed(encode_frame(Ack("N1", msg.seq), KEY)))

    def close(self):
        self.sock.close()
        self._t.join(5)


def test_delivers_in_order_and_resends_unacked_after_reconnect(tmp_path):
    sp = Spool(tmp_path / "s.db", "N1", KEY)
    for k in range(10):
        sp.append(Detection("N1", k))
    first = AckServer(drop_after=4)
    up = Uplink(sp, KEY, UplinkConfig(port=first.port, backoff_min_s=0.05, backoff_max_s=0.2), seed=1).start()
    try:
        first._t.join(10)
        first.close()
        assert first.seen[:4] == [1, 2, 3, 4]
        deadline = time.monotonic() + 5
        while sp.depth() > 7 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert sp.depth() == 7  # 1..3 acked; 4 was received but its ack was lost
        second = AckServer(port=first.port)
        assert up.wait_drained(10)
        # Everything not acked comes again, oldest first; 4 arrives twice (at least once).
        assert second.seen == [4, 5, 6, 7, 8, 9, 10]
        assert up.stats().connects == 2
    finally:
        up.stop()
    second.close()
