"""IP cameras: the app's CameraSource against real RTSP (GStreamer) and RTMP (nginx) servers on
loopback, with digest and basic authentication, TCP and UDP transports, restarts and refusals."""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import sys
import threading
import time

import av
import pytest
from camera_helpers import DEADLINE_S, REPO, wait_until
from stream_servers import PASSWORD, USER

from edgeface.cameras import rtsp
from edgeface.cameras.source import CameraSource
from edgeface.ports import free_port
from edgeface.tools import bench_decode

RESTART_CYCLES = 20
AT_ONCE, ROUNDS = 6, 8     # clients asking one mount together, and how many times
LIN = "Lin-Manuel Miranda"  # in the sample clip and the sample faces


def error_like(src: CameraSource, text: str) -> dict:
    """The first status whose error contains ``text`` (polled)."""
    return wait_until(lambda: text in ((status := src.status())["error"] or "") and status,
                      what=f"error {text!r}")


def own_udp_sockets() -> int:
    """UDP sockets this process holds (FFmpeg's RTP/RTCP sockets when RTSP runs over UDP)."""
    inodes = set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            continue
        if target.startswith("socket:["):
            inodes.add(target[8:-1])
    with open("/proc/net/udp") as table:
        rows = [line.split() for line in table.readlines()[1:]]
    return sum(1 for row in rows if row[9] in inodes)


@pytest.mark.parametrize(("auth", "transport"), [("digest", "tcp"), ("basic", "udp"), ("digest", "udp")])
def test_rtsp_frames_arrive_over_the_chosen_transport(rtsp_factory, sources, auth, transport):
    server = rtsp_factory(auth)
    udp_before = own_udp_sockets()
    src = sources("ipcam", server.url(query=f"transport={transport}"))
    frame = src.wait_frame(0, timeout=DEADLINE_S)
    assert frame is not None and frame.bgr.shape == (360, 640, 3)
    later = src.wait_frame(frame.seq, timeout=DEADLINE_S)
    assert later is not None and later.seq > frame.seq
    wait_until(lambda: src.status()["online"] and src.status()["fps"] > 5, what="online with a frame rate")
    udp_now = own_udp_sockets() - udp_before
    if transport == "udp":
        assert udp_now >= 2, "RTP over UDP needs RTP and RTCP sockets"
    else:
        assert udp_now == 0, "RTP interleaved in the RTSP TCP connection opens no UDP socket"


def test_clients_setting_up_one_mount_at_once_all_get_frames(rtsp_factory):
    """A camera's detect and identify readers (each after its DESCRIBE check) set up one mount
    together. Every client gets frames and the server lives on; with one shared pipeline per
    mount, gst-rtsp-server 1.22 answered 503, or aborted, within ten such rounds under load."""
    server = rtsp_factory("digest")

    def read() -> int:
        url, _ = rtsp.checked(server.url(), 10)
        with av.open(url, options={"rtsp_transport": "tcp"}, timeout=10) as container:
            return next(container.decode(video=0)).width

    errors: list[BaseException] = []

    def client() -> None:
        try:
            assert read() == 640
        except BaseException as err:  # noqa: BLE001 - collected for the assert below
            errors.append(err)

    for _ in range(ROUNDS):
        threads = [threading.Thread(target=client) for _ in range(AT_ONCE)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert not errors, errors
        assert server.child is not None and server.child.running()


def test_rtmp_frames_arrive(rtmp_server, sources):
    src = sources("rtmp", rtmp_server.url())
    frame = src.wait_frame(0, timeout=DEADLINE_S)
    assert frame is not None and frame.bgr.shape == (360, 640, 3)
    wait_until(lambda: src.status()["online"], what="RTMP camera online")


def test_rtmp_wrong_stream_name_is_a_clear_error(rtmp_server, sources):
    src = sources("rtmp", rtmp_server.url().replace("/live/cam", "/live/nobody"))
    status = error_like(src, "the server answers but FFmpeg cannot play /live/nobody")
    assert not status["online"]
    rtmp_server.close()
    error_like(src, f"127.0.0.1:{rtmp_server.port}: connection refused")


def test_bad_transport_is_a_clear_error(rtsp_factory, sources):
    server = rtsp_factory()
    src = sources("ipcam", server.url(query="transport=carrier-pigeon"))
    error_like(src, "use transport=tcp or transport=udp")


@pytest.mark.slow
def test_rtsp_server_restarted_20_times_camera_returns_each_time(rtsp_factory, sources):
    server = rtsp_factory()
    src = sources("ipcam", server.url(), stall_timeout=1.0)
    assert src.wait_frame(0, timeout=DEADLINE_S) is not None
    returns = []
    for _ in range(RESTART_CYCLES):
        server.stop()
        wait_until(lambda: not src.status()["online"] and src.status()["error"], what="offline with an error")
        seq = src.latest().seq
        server.start()
        started = time.monotonic()
        assert src.wait_frame(seq, timeout=DEADLINE_S) is not None, "no frame after the server came back"
        returns.append(time.monotonic() - started)
    median, worst = statistics.median(returns), max(returns)
    print(f"\nRTSP server restarted {RESTART_CYCLES}x: camera back after median {median:.2f} s, max {worst:.2f} s")
    # Backoff is capped at 10 s and reset by every frame, so each return is bounded by it plus an open.
    assert worst < 10 + DEADLINE_S / 2


@pytest.mark.slow
def test_wrong_password_is_a_clear_error_and_retried_slowly(rtsp_factory, sources, caplog):
    server = rtsp_factory("digest")
    src = sources("ipcam", server.url(password="not-" + PASSWORD))
    status = error_like(src, "401 Unauthorized: check the camera's user name and password")
    assert not status["online"] and src.latest() is None
    first = server.connections()
    window = 20.0
    time.sleep(window)
    attempts = server.connections() - first
    print(f"\nwrong password: {attempts} connection(s) in the {window:g} s after the first 401")
    # Each attempt is FFmpeg's connection plus one DESCRIBE to explain the failure. With the
    # normal backoff (0.5 s doubling to 10 s) there would be ~5 attempts in this window.
    assert attempts <= 2, f"{attempts} connections in {window:g} s after a 401: a retry storm"
    logged = [r for r in caplog.records if "401 Unauthorized" in r.getMessage()]
    assert len(logged) == 1, "a refusal that does not change is logged once"


@pytest.fixture
def silent_server():
    """A TCP server on 127.0.0.1 that accepts connections and never says anything; its port."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    held: list[socket.socket] = []
    done = threading.Event()

    def accept():
        while not done.is_set():
            try:
                held.append(listener.accept()[0])
            except TimeoutError:
                continue

    acceptor = threading.Thread(target=accept, daemon=True)
    acceptor.start()
    yield listener.getsockname()[1]
    done.set()
    acceptor.join(5)
    for conn in held:
        conn.close()
    listener.close()


def test_silent_server_does_not_block_the_camera_thread(sources, silent_server):
    """A server that accepts and never answers: the open times out, the error says so, stop works."""
    src = sources("mute", f"rtsp://u:p@127.0.0.1:{silent_server}/cam", stall_timeout=1.0)
    error_like(src, "no answer within 1 s")
    src.close(timeout=DEADLINE_S)
    assert not src._thread.is_alive()


def test_cameras_timing_out_do_not_hold_up_another_camera(sources, silent_server, rtsp_factory):
    """Opens run side by side: three unanswering cameras, each taking its whole open timeout, do
    not queue a working camera behind them (they did while OpenCV serialised FFmpeg opens)."""
    server = rtsp_factory()
    mute = [sources(f"mute-{i}", f"rtsp://127.0.0.1:{silent_server}/cam{i}", stall_timeout=4.0) for i in range(3)]
    time.sleep(0.5)  # their opens are under way
    good = sources("good", server.url(), stall_timeout=4.0)
    assert good.wait_frame(0, timeout=DEADLINE_S) is not None
    assert not any(src.status()["error"] for src in mute), "the working camera waited for the silent ones"
    for src in mute:
        error_like(src, "no answer within 4 s")


def test_credentials_never_in_status_repr_or_logs(rtsp_factory, sources, caplog):
    server = rtsp_factory()
    good = sources("good", server.url())
    bad = sources("bad", server.url(password="wrong-" + PASSWORD))
    assert good.wait_frame(0, timeout=DEADLINE_S) is not None
    error_like(bad, "401 Unauthorized")
    for src in (good, bad):
        text = repr(src) + repr(src.status())
        assert PASSWORD not in text and "Pa55" not in text
        assert ":***@" in src.status()["url"]
    assert caplog.records and "Pa55" not in caplog.text


@pytest.mark.slow
def test_real_app_names_people_and_never_shows_rtsp_credentials(rtsp_factory, sample_model, tmp_path):
    """``edgeface serve`` with an RTSP camera that has credentials and one with a wrong password:
    the first one's people are named; neither password is in the API answers, pages, metrics or
    the app's log."""
    sys.path.insert(0, str(REPO / "tests" / "webapp"))  # a folder of helpers, not a package
    from webapp_helpers import App
    from webapp_helpers import wait_until as app_wait_until

    server = rtsp_factory()
    app = App(free_port(), {"EDGEFACE_API_TOKEN": secrets.token_urlsafe(16)}, tmp_path / "app.log",
              "--model", str(sample_model), "--mdns-interface", "127.0.0.1")
    answers = {}
    try:
        app.wait_ready()
        for camera_id, url in (("door", server.url()), ("gate", server.url(password="x" + PASSWORD))):
            added = app.request("POST", "/api/v1/cameras", json={"url": url, "id": camera_id})
            assert added.status_code == 201, added.text
            answers[f"POST {camera_id}"] = added.text
        app_wait_until(lambda: (app.camera("door") or {}).get("online"), what="the RTSP camera online in the app")
        # The app names the people in the clip from the H.264 stream, as from MJPEG cameras.
        named = app_wait_until(lambda: app.get(f"/api/v1/events?camera=door&name={LIN}").json()["events"],
                               what=f"an event naming {LIN} from the RTSP camera")
        assert named[0]["camera"] == "door" and 0 <= named[0]["distance"] <= 0.6
        answers["/api/v1/events"] = app.get("/api/v1/events?camera=door").text
        app_wait_until(lambda: "401 Unauthorized: check the camera's user name and password"
                       in ((app.camera("gate") or {}).get("error") or ""), what="the wrong password's error")
        for path in ("/api/v1/cameras", "/api/v1/cameras/door", "/api/v1/cameras/gate", "/metrics", "/",
                     "/api/v1/cameras/door/frame.jpg"):
            answers[path] = app.get(path).content.decode("latin-1")
    finally:
        app.stop()
    answers["log"] = app.log()
    for where, text in answers.items():
        assert "Pa55" not in text, f"the camera password appears in {where}"
    assert answers["/api/v1/cameras"].count(f"{USER}:***@127.0.0.1") == 2


@pytest.mark.slow
def test_decode_bench_measures_both_protocols(video_path):
    result = bench_decode.run(video_path, duration=1.0, heights=(360,))
    rows = {row["protocol"]: row for row in result["rows"]}
    assert set(rows) == {"rtsp/h264", "mjpeg, received", "mjpeg, all decoded", "identify, 0 asks/s",
                         "identify, 1 asks/s", "identify, 5 asks/s"}
    # a main stream is kept as packets: nobody asking, nothing is decoded; asked, some frames are
    idle, asked = rows.pop("identify, 0 asks/s"), rows.pop("identify, 5 asks/s")
    assert idle["decoded_fps"] == 0 and idle["fps"] > 5
    assert asked["decoded_fps"] > 0 and asked["fps"] > 5
    rows.pop("identify, 1 asks/s")
    for row in rows.values():
        assert row["size"] == "640x360" and row["fps"] > 5 and row["cpu_ms_per_frame"] > 0
    assert rows["mjpeg, all decoded"]["decoded_fps"] > 5
    assert "rtsp/h264" in bench_decode.format_table(result)
