"""The heartbeat benchmark's load generator (bench/heartbeats.py, EpollLearners) against a small HTTP server on
127.0.0.1: the schedule, bodies and closed loop its figures rest on (issue 4's benchmark, LRN-01)."""

from __future__ import annotations

import importlib.util
import json
import socketserver
import threading
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def _bench():
    spec = importlib.util.spec_from_file_location("bench_heartbeats", ROOT / "bench" / "heartbeats.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


class _Player(socketserver.StreamRequestHandler):
    """Answers every beat with the credit a server would give (the interval), slowly for session 2; closes the
    connection without answering session 3's second beat."""

    def handle(self) -> None:
        while True:
            head = b""
            while not head.endswith(b"\r\n\r\n"):
                chunk = self.rfile.readline()
                if not chunk:
                    return
                head += chunk
            lines = head.decode().split("\r\n")
            headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
            beat = json.loads(self.rfile.read(int(headers["Content-Length"])))
            sid = int(lines[0].split("/")[4])
            self.server.beats.append((sid, headers["X-Study-Key"], beat, time.monotonic()))
            if sid == 3 and beat["seq"] == 2:
                return  # the connection drops: the client counts an error and reconnects
            if sid == 2:
                time.sleep(0.35)
            reply = json.dumps({"credited_seconds": 0.25, "state": "ok"}).encode()
            status = b"409 Conflict" if sid == 1 and beat["seq"] == 3 else b"200 OK"
            self.wfile.write(
                b"HTTP/1.1 " + status + b"\r\nContent-Type: application/json\r\n"
                b"Content-Length: " + str(len(reply)).encode() + b"\r\n\r\n" + reply
            )


@pytest.fixture
def player_server():
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _Player)
    server.daemon_threads = True
    server.beats = []
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def test_lrn_01_the_benchmarks_learners_beat_on_schedule_in_a_closed_loop(player_server):
    bench = _bench()
    base = f"http://127.0.0.1:{player_server.server_address[1]}"
    opened = [(sid, {"Authorization": f"Bearer t{sid}", "X-Study-Key": f"k{sid}"}) for sid in (1, 2, 3, 4)]
    learners = bench.EpollLearners(base, opened, interval=0.25)
    learners.WINDOW = 0.5
    result = learners.run(seconds=1.0, server_group=None)

    by_session: dict[int, list] = {}
    for sid, key, beat, at in player_server.beats:
        assert key == f"k{sid}"
        by_session.setdefault(sid, []).append((beat, at))
    # Every learner's four beats due before the end (at 0, 0.25, 0.5 and 0.75 s) were sent, in order, each one
    # an interval further at rate 1, the page visible and focused.
    for sid, beats in by_session.items():
        assert [b["seq"] for b, _at in beats] == [1, 2, 3, 4], sid
        assert [b["position"] for b, _at in beats] == [0.25, 0.5, 0.75, 1.0]
        assert all(b["playing"] and b["visible"] and b["focused"] and b["rate"] == 1 for b, _at in beats)
    assert set(by_session) == {1, 2, 3, 4}
    # A learner beats an interval apart, spread over the interval from the others...
    fast = [at for _b, at in by_session[4]]
    assert all(0.2 < later - earlier < 0.3 for earlier, later in zip(fast, fast[1:], strict=False))
    # ... and never sends a beat before the reply to its previous one: session 2's replies take 0.35 s.
    slow = [at for _b, at in by_session[2]]
    assert all(later - earlier >= 0.35 for earlier, later in zip(slow, slow[1:], strict=False))

    # 16 beats sent; session 3's dropped connection and session 1's 409 are errors; 14 answered with credit.
    assert result["played"] == pytest.approx(16 * 0.25)
    assert result["errors"] == 2
    assert result["ok"] == 14
    assert (result["hot_path"], result["full_stack"]) == (0, 15)  # no Server-Timing: all by the "full stack"
    assert result["credited"] == pytest.approx(14 * 0.25)
    assert len([x for x in (result["p50"], result["p95"], result["p99"]) if x > 0]) == 3
    assert result["p99"] >= 350  # the slow learner's replies are in the percentiles
    # ... and in the p99 of the window they were sent in (the first half-second: its first beat and its second)
    windows = result["p99_by_window"]
    assert windows[0] >= 350
    # (session 2's last beat, due at 0.75 s, goes out when its third is answered: a third window)
    assert 2 <= len(windows) <= 3
    assert sum(len(w) for w in learners.windows) == len(learners.latencies) == 15


def test_the_busy_neighbour_burns_its_share_and_stops_by_itself():
    """--neighbour: another process takes a share of a core while the learners beat, and never outlives the run."""
    bench = _bench()
    with bench.busy_neighbour(0.5, longest=30) as process:
        time.sleep(1.5)
        used = bench.process_cpu(process.pid)
        assert process.poll() is None
    assert process.poll() is not None  # stopped at the end of the run
    assert 0.2 < used < 1.2  # about half of one core for 1.5 s (a shared machine: loosely)
    with bench.busy_neighbour(1.0, longest=0.5) as process:
        time.sleep(2)
        assert process.poll() is not None  # and by itself once its time is up
    with bench.busy_neighbour(0.0, longest=10) as process:
        assert process is None
    with pytest.raises(SystemExit, match="share of one core"), bench.busy_neighbour(1.5, longest=1):
        pass


def test_busy_neighbours_burn_a_core_each_and_stop_by_themselves():
    """--busy-neighbour N: N processes burn a whole core each while the load runs, and never outlive it."""
    bench = _bench()
    with bench.busy_neighbours(2, longest=30) as burning:
        time.sleep(1.5)
    assert burning["processes"] == 2
    assert burning["tool"] in ("stress-ng", "python busy loop")
    assert 0.5 < burning["cores"] <= 2.1  # up to two cores' worth (a shared machine: loosely)
    with bench.busy_neighbours(1, longest=0.5) as burning:
        time.sleep(2)
    assert burning["cores"] < 0.75  # stopped by itself after its time (stress-ng rounds it up to a second)
    with bench.busy_neighbours(0, longest=10) as burning:
        assert burning == {"processes": 0}
    with pytest.raises(SystemExit, match="number of processes"), bench.busy_neighbours(-1, longest=1):
        pass


def test_a_reply_tells_which_hot_path_answered_it():
    """The reports' hot_path / full_stack counts: the hot path names its route in Server-Timing."""
    bench = _bench()
    head = b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nserver-timing: exam_answer;dur=1.2\r\n"
    assert bench.served_by(head, b"exam_answer")
    assert not bench.served_by(head, b"exam")
    assert not bench.served_by(head, b"heartbeat")
    assert bench.served_by(b"HTTP/1.1 503 Service Unavailable\r\nServer-Timing: heartbeat\r\n", b"heartbeat")
    assert not bench.served_by(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n", b"exam_answer")
