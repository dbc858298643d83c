"""A stand-in ONVIF device (device and media service over HTTP on 127.0.0.1): no real ONVIF
camera runs here, and the one ONVIF server on PyPI (``ipycam``) needs ``opencv-python`` beside
the project's ``opencv-python-headless`` (both install ``cv2``) and serves two fixed profiles
only, so it cannot be a one-profile camera or one that answers garbage.

It answers GetSystemDateAndTime (without credentials, as the spec allows), GetCapabilities (the
media service at its own path), GetProfiles and GetStreamUri as cameras do, and checks every other
request's WS-Security UsernameToken as the ONVIF Core spec says: PasswordDigest = Base64(SHA-1(nonce
+ created + password)), computed here on its own, with ``Created`` within 5 minutes of its own clock
(``clock``: how far it is from the real one, as on a camera without NTP; ``tells_time=False``: it
wants credentials for GetSystemDateAndTime too). A wrong one gets HTTP 400 with the
``ter:NotAuthorized`` fault.
"""

from __future__ import annotations

import base64
import hashlib
import threading
import xml.etree.ElementTree as ET
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENVELOPE = ('<?xml version="1.0" encoding="UTF-8"?><env:Envelope xmlns:env="http://www.w3.org/2003/05/soap-envelope" '
            'xmlns:tt="http://www.onvif.org/ver10/schema" xmlns:trt="http://www.onvif.org/ver10/media/wsdl" '
            'xmlns:tds="http://www.onvif.org/ver10/device/wsdl" xmlns:ter="http://www.onvif.org/ver10/error">'
            '<env:Body>{}</env:Body></env:Envelope>')
NOT_AUTHORIZED = ('<env:Fault><env:Code><env:Value>env:Sender</env:Value><env:Subcode><env:Value>ter:NotAuthorized'
                  '</env:Value></env:Subcode></env:Code><env:Reason><env:Text xml:lang="en">Sender not Authorized'
                  '</env:Text></env:Reason></env:Fault>')
WSSE = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd}"
WSU = "{http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd}"


class OnvifDevice:
    """``profiles``: (token, encoding, width, height, stream URI); ``garbage``: answer HTML."""

    def __init__(self, username: str, password: str, profiles: list[tuple[str, str, int, int, str]],
                 garbage: bool = False, clock: timedelta = timedelta(0), tells_time: bool = True):
        self.username, self.password, self.profiles, self.garbage = username, password, profiles, garbage
        self.clock, self.tells_time = clock, tells_time
        self.requests: list[str] = []      # the actions asked, in order
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                status, answer = outer.answer(self.path, body)
                data = answer.encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/soap+xml; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.xaddr = f"http://127.0.0.1:{self.port}/onvif/device_service"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def answer(self, path: str, body: bytes) -> tuple[int, str]:
        if self.garbage:
            return 200, "<html><body>It works!</body></html>"
        request = ET.fromstring(body)
        call = next(iter(request.find("{http://www.w3.org/2003/05/soap-envelope}Body")))
        action = call.tag.rsplit("}", 1)[-1]
        self.requests.append(action)
        now = datetime.now(timezone.utc) + self.clock
        if action == "GetSystemDateAndTime" and self.tells_time and path == "/onvif/device_service":
            return 200, ENVELOPE.format(
                "<tds:GetSystemDateAndTimeResponse><tds:SystemDateAndTime><tt:DateTimeType>Manual</tt:DateTimeType>"
                f"<tt:UTCDateTime><tt:Time><tt:Hour>{now.hour}</tt:Hour><tt:Minute>{now.minute}</tt:Minute>"
                f"<tt:Second>{now.second}</tt:Second></tt:Time><tt:Date><tt:Year>{now.year}</tt:Year>"
                f"<tt:Month>{now.month}</tt:Month><tt:Day>{now.day}</tt:Day></tt:Date></tt:UTCDateTime>"
                "</tds:SystemDateAndTime></tds:GetSystemDateAndTimeResponse>")
        if not self.authorized(request, now):
            return 400, ENVELOPE.format(NOT_AUTHORIZED)
        if action == "GetCapabilities" and path == "/onvif/device_service":
            media = f"http://127.0.0.1:{self.port}/onvif/media_service"
            return 200, ENVELOPE.format(f"<tds:GetCapabilitiesResponse><tds:Capabilities><tt:Media><tt:XAddr>{media}"
                                        "</tt:XAddr></tt:Media></tds:Capabilities></tds:GetCapabilitiesResponse>")
        if action == "GetProfiles" and path == "/onvif/media_service":
            profiles = "".join(
                f'<trt:Profiles token="{token}" fixed="true"><tt:Name>{token}</tt:Name>'
                f'<tt:VideoEncoderConfiguration token="enc-{token}"><tt:Name>enc</tt:Name><tt:Encoding>{encoding}'
                f'</tt:Encoding><tt:Resolution><tt:Width>{width}</tt:Width><tt:Height>{height}</tt:Height>'
                f'</tt:Resolution></tt:VideoEncoderConfiguration></trt:Profiles>'
                for token, encoding, width, height, _ in self.profiles)
            return 200, ENVELOPE.format(f"<trt:GetProfilesResponse>{profiles}</trt:GetProfilesResponse>")
        if action == "GetStreamUri" and path == "/onvif/media_service":
            token = call.findtext("{http://www.onvif.org/ver10/media/wsdl}ProfileToken")
            uri = next(p[4] for p in self.profiles if p[0] == token)
            return 200, ENVELOPE.format(f"<trt:GetStreamUriResponse><trt:MediaUri><tt:Uri>{uri}</tt:Uri>"
                                        "</trt:MediaUri></trt:GetStreamUriResponse>")
        return 400, ENVELOPE.format("<env:Fault><env:Code><env:Value>env:Sender</env:Value></env:Code>"
                                    "<env:Reason><env:Text>Action not supported</env:Text></env:Reason></env:Fault>")

    def authorized(self, request: ET.Element, now: datetime) -> bool:
        token = request.find(f".//{WSSE}UsernameToken")
        if token is None or token.findtext(f"{WSSE}Username") != self.username:
            return False
        nonce = base64.b64decode(token.findtext(f"{WSSE}Nonce") or "")
        created = token.findtext(f"{WSU}Created") or ""
        when = datetime.strptime(created, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        expected = base64.b64encode(hashlib.sha1(nonce + created.encode() + self.password.encode()).digest()).decode()
        return token.findtext(f"{WSSE}Password") == expected and \
            abs(now - when) < timedelta(minutes=5)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
