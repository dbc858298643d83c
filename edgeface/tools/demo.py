"""``edgeface demo``: the whole system on loopback — sample model, web app, simulated cameras.

The app and each camera run as separate processes (``edgeface serve``, ``edgeface camera``) and
find each other over real mDNS on 127.0.0.1, exactly as on a network. When ``mosquitto`` is
installed (and ``EDGEFACE_MQTT_URL`` is not set), an edge MQTT broker runs beside them on
127.0.0.1 and the app publishes its events there (docs/uplink.md).

The app runs with both roles, so logging in, what a viewer may not do and labelling can be shown:
an admin and a viewer token are made for the run and printed (``EDGEFACE_API_TOKEN`` and
``EDGEFACE_VIEWER_TOKEN``, when set, are used instead and not printed). Ctrl-C stops the cameras
and the app first, then the broker: the app's last events go out while the broker still takes them.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from edgeface.errors import ConfigError, EdgefaceError
from edgeface.lifecycle import ChildProcess, stop_all
from edgeface.ports import free_port
from edgeface.tools.samples import SAMPLE_FACES, SAMPLE_VIDEO

DEFAULT_MODEL = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "edgeface" / "demo" / "model.data"
#: With few cameras the demo can afford a finer face search (full size, upsampled twice, ~4x the
#: CPU of the defaults): it finds the ~26 px face of Alex Lacamoire at the piano in the sample clip,
#: which the 4-camera defaults miss. EDGEFACE_LIVE_* set by the user still win.
FINE_DETECTION = {"EDGEFACE_LIVE_DETECT_SCALE": "1.0", "EDGEFACE_LIVE_UPSAMPLE": "2"}
FINE_DETECTION_MAX_CAMERAS = 1
TOKEN_VARIABLES = {"admin": "EDGEFACE_API_TOKEN", "viewer": "EDGEFACE_VIEWER_TOKEN"}
APP_START_TIMEOUT_S = 90
CAMERA_TIMEOUT_S = 45


class Demo:
    def __init__(self, port: int = 5000, cameras: int = 1, video: str | None = None, faces: str | None = None,
                 model: str | None = None):
        if not 1 <= cameras <= 8:
            raise ConfigError(f"--cameras {cameras} is out of range", "use 1-8 (this runs on one machine)")
        self.port = port
        self.cameras = cameras
        self.video = Path(video) if video else SAMPLE_VIDEO
        self.faces = Path(faces) if faces else SAMPLE_FACES
        self.model = Path(model) if model else DEFAULT_MODEL
        self.url = f"http://127.0.0.1:{port}/"
        self.procs: list[ChildProcess] = []
        self.camera_ports: list[int] = []
        self.mqtt_port: int | None = None
        self.broker: ChildProcess | None = None
        # The user's own tokens when set (never printed), else ones made for this run.
        given = {role: os.environ.get(var) for role, var in TOKEN_VARIABLES.items()}
        self.own_tokens = {role for role, token in given.items() if token}
        self.tokens = {role: token or secrets.token_urlsafe(18) for role, token in given.items()}

    def run(self) -> int:
        if not self.video.is_file():
            raise ConfigError(f"sample video {self.video} not found", "pass --video FILE")
        self.check_port_free()   # at once: not after training, nor "running" against another app
        self.ensure_model()
        stop = {"asked": False}

        def ask_stop(*_):
            stop["asked"] = True
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, ask_stop)
        try:
            self.start_broker()
            self.start_app()
            self.start_cameras()
            self.wait_for_cameras(lambda: stop["asked"])
            events = (f"\n  events over MQTT: mosquitto_sub{'' if self.mqtt_port == 1883 else f' -p {self.mqtt_port}'} "
                      "-t 'edgeface/#' -v" if self.mqtt_port else "")
            print(f"\n  edgeface demo is running: open {self.url} in a browser{events}\n"
                  f"{self.login_lines()}  (Ctrl-C stops everything)\n", flush=True)
            while not stop["asked"]:
                for proc in self.procs:
                    if not proc.running():
                        raise EdgefaceError(f"{proc.label} stopped unexpectedly (exit {proc.returncode})",
                                            "see its messages above")
                time.sleep(0.5)
            return 0
        finally:
            self.stop_all()

    def login_lines(self) -> str:
        """How to log in as either role (the page asks for a token)."""
        lines = []
        for role, var in TOKEN_VARIABLES.items():
            shown = f"your {var}" if role in self.own_tokens else self.tokens[role]
            what = "changes settings, labels faces" if role == "admin" else "watches and searches, read-only"
            lines.append(f"  log in as {role} ({what}) with: {shown}\n")
        return "".join(lines)

    def check_port_free(self) -> None:
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)   # as gunicorn binds
            try:
                probe.bind(("127.0.0.1", self.port))
            except OSError as err:
                raise ConfigError(f"port {self.port} on 127.0.0.1 is in use ({err.strerror})",
                                  "stop what uses it (another demo?) or pass --port") from None

    def ensure_model(self) -> None:
        if self.model.is_file():
            print(f"using model {self.model}", flush=True)
            return
        if not self.faces.is_dir():
            raise ConfigError(f"no model at {self.model} and no sample faces at {self.faces}",
                              "pass --model FILE or --faces DIR")
        from edgeface.training import train
        print(f"training the sample model from {self.faces} (once) …", flush=True)
        model, report = train(self.faces, progress=False)
        model.save(self.model)
        names = ", ".join(i["name"] for i in report["identities"])
        print(f"model {self.model}: {names}", flush=True)

    def _spawn(self, label: str, args: list[str], env: dict) -> ChildProcess:
        return self._spawn_process(label, [sys.executable, "-m", "edgeface", *args], env)

    def _spawn_process(self, label: str, argv: list[str], env: dict) -> ChildProcess:
        # Own session: a Ctrl-C reaches only this process, which then stops the children in order.
        proc = ChildProcess(label, argv, env=env, stdin=None, new_session=True).start()
        self.procs.append(proc)
        return proc

    def start_broker(self) -> None:
        """An edge MQTT broker on 127.0.0.1 (1883 when free), when mosquitto is installed."""
        exe = shutil.which("mosquitto")
        if os.environ.get("EDGEFACE_MQTT_URL") or exe is None:
            if exe is None:
                print("mosquitto is not installed: no MQTT events (docs/uplink.md)", flush=True)
            return
        port = 1883 if _port_free(1883) else free_port()
        conf = Path(tempfile.mkdtemp(prefix="edgeface-demo-mqtt-")) / "mosquitto.conf"
        conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\n")   # loopback only, no store
        proc = self.broker = self._spawn_process("MQTT broker", [exe, "-c", str(conf)], dict(os.environ))
        deadline = time.monotonic() + 10
        while not _port_open(port):
            if not proc.running() or time.monotonic() > deadline:
                raise EdgefaceError("the MQTT broker (mosquitto) did not start", "see its messages above")
            time.sleep(0.1)
        conf.unlink()
        conf.parent.rmdir()
        self.mqtt_port = port
        print(f"MQTT broker on 127.0.0.1:{port}", flush=True)

    def start_app(self) -> None:
        env = {**os.environ, "EDGEFACE_CAMERA_TOKEN": self.camera_token,
               **{var: self.tokens[role] for role, var in TOKEN_VARIABLES.items()}}   # in the environment, not argv
        if self.mqtt_port:
            env.update(EDGEFACE_MQTT_URL=f"mqtt://127.0.0.1:{self.mqtt_port}", EDGEFACE_SITE="demo")
        if self.cameras <= FINE_DETECTION_MAX_CAMERAS:
            for key, value in FINE_DETECTION.items():
                env.setdefault(key, value)
        app = self._spawn("web app", ["serve", "--model", str(self.model), "--host", "127.0.0.1", "--port",
                                str(self.port), "--mdns-interface", "127.0.0.1"], env)
        deadline = time.monotonic() + APP_START_TIMEOUT_S
        while time.monotonic() < deadline:
            if not app.running():
                raise EdgefaceError("the web app did not start", f"is port {self.port} free? try --port")
            if _get_json(self.url + "readyz") is not None:
                return
            time.sleep(0.5)
        raise EdgefaceError("the web app did not become ready in time", "see its messages above")

    @property
    def camera_token(self) -> str:
        if not hasattr(self, "_token"):
            self._token = secrets.token_urlsafe(16)
        return self._token

    def start_cameras(self) -> None:
        env = {**os.environ, "EDGEFACE_CAMERA_TOKEN": self.camera_token}   # not on the command line (ps)
        for i in range(1, self.cameras + 1):
            port = free_port()
            self.camera_ports.append(port)
            self._spawn(f"camera {i}", ["camera", "--source", str(self.video), "--host", "127.0.0.1", "--port",
                                        str(port), "--mdns-interface", "127.0.0.1", "--name", f"demo-camera-{i}"], env)

    def wait_for_cameras(self, stopped) -> None:
        """Until the app shows our cameras online (others on the LAN may register too)."""
        deadline = time.monotonic() + CAMERA_TIMEOUT_S
        while time.monotonic() < deadline and not stopped():
            body = _get_json(self.url + "api/v1/cameras", self.tokens["viewer"]) or {}
            online = {p for c in body.get("cameras", []) if c.get("online")
                      for p in self.camera_ports if f":{p}/" in c.get("url", "")}
            if len(online) == len(self.camera_ports):
                return
            time.sleep(0.5)
        if not stopped():
            print("warning: not every camera came online yet; the page shows their status", flush=True)

    def stop_all(self) -> None:
        """The cameras and the app first (together), then the broker: stopped at once with them, it
        would be gone before the app had sent its last queued events."""
        first = [proc for proc in reversed(self.procs) if proc is not self.broker]
        for group in (first, [self.broker] if self.broker else []):
            for proc in stop_all(group, timeout=15):
                print(f"{proc.label} did not stop in time: killed it", file=sys.stderr)
        self.procs.clear()


def _port_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def _get_json(url: str, token: str | None = None):
    request = urllib.request.Request(url, headers={"Authorization": f"Bearer {token}"} if token else {})
    try:
        with urllib.request.urlopen(request, timeout=2) as response:
            return json.loads(response.read())
    except (urllib.error.URLError, OSError, ValueError):
        return None
