"""An ONVIF camera's streams, asked of its media service: GetProfiles, then GetStreamUri.

Asked once, when an admin adds a discovered camera without giving its URLs: the smallest
H.264/H.265 profile is the detect stream, the largest the identify (main) stream; a camera with
one size of stream has no identify stream. Every address the device gives (its service XAddrs,
its stream URIs) must be a plain IP inside the allowed networks, checked before any connection
(``netpolicy.allowed_address``), and the URL used is rebuilt from the checked address.

Hand-written SOAP rather than a library: the two calls (and GetCapabilities for the media
service's address) are a few envelopes; the maintained client, ``onvif-zeep-async``, is
asyncio-only and brings zeep, lxml, aiohttp and httpx into an app image with ~49 MB to spare,
and parses some 30 bundled WSDL/XSD files per client; ``onvif-zeep`` has had no release since
2018. What a device answers is untrusted: at most ``MAX_ANSWER`` bytes are read, a DTD is
refused (no entity expansion), redirects are not followed, elements are found by their local
name whatever prefixes the device uses, and its texts are cut and reduced to printable characters
before they reach a message.
"""

from __future__ import annotations

import base64
import hashlib
import os
import xml.etree.ElementTree as ET
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from urllib.parse import urlsplit, urlunsplit
from xml.sax.saxutils import escape

import requests

from edgeface.cameras.netpolicy import Address, Network, TargetRefused, allowed_address
from edgeface.cameras.urls import parse_camera_url
from edgeface.errors import EdgefaceError

MAX_ANSWER = 1_000_000          # bytes; a GetProfiles answer of a 16-profile NVR is ~100 kB
MAX_PROFILES = 64
TIMEOUT_S = (3.0, 5.0)          # connect, read
VIDEO_CODECS = ("H264", "H265")
SOAP_ENV = "http://www.w3.org/2003/05/soap-envelope"
WSSE = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-secext-1.0.xsd"
WSU = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-wssecurity-utility-1.0.xsd"
PASSWORD_DIGEST = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-username-token-profile-1.0#PasswordDigest"
BASE64 = "http://docs.oasis-open.org/wss/2004/01/oasis-200401-wss-soap-message-security-1.0#Base64Binary"
DEVICE_NS = "http://www.onvif.org/ver10/device/wsdl"
MEDIA_NS = "http://www.onvif.org/ver10/media/wsdl"
SCHEMA_NS = "http://www.onvif.org/ver10/schema"
GIVE_URLS = "or give 'url' (and 'identify_url') in the request yourself"


class OnvifError(EdgefaceError):
    """The device could not tell its streams; ``status`` is what the API answers (502: the device
    failed, 400: the request's credentials were refused)."""

    def __init__(self, message: str, hint: str, status: int = 502):
        super().__init__(message, hint)
        self.status = status


class OnvifUnreachable(OnvifError):
    """No answer at all: the device is off, unplugged or not listening."""


@dataclass(frozen=True)
class Profile:
    token: str
    encoding: str
    width: int
    height: int


@dataclass(frozen=True)
class Streams:
    """RTSP URIs without credentials: ``detect`` the smallest profile, ``identify`` the largest."""
    detect: str
    identify: str | None


def camera_streams(xaddrs: Iterable[str], username: str, password: str, networks: Iterable[Network]) -> Streams:
    """The camera's detect and identify streams; ``OnvifError`` or ``TargetRefused`` saying why not."""
    networks = list(networks)
    device = OnvifDevice(_device_service(xaddrs, networks), username, password, networks)
    profiles = device.profiles()
    small = min(profiles, key=lambda p: p.width * p.height)
    large = max(profiles, key=lambda p: p.width * p.height)
    identify = device.stream_uri(large) if large.width * large.height > small.width * small.height else None
    return Streams(device.stream_uri(small), identify)


class OnvifDevice:
    """SOAP calls to one device, with a WS-Security UsernameToken (PasswordDigest) in each."""

    def __init__(self, service_url: str, username: str, password: str, networks: list[Network]):
        self.device_url, self.username, self.password, self.networks = service_url, username, password, networks
        self._media_url: str | None = None
        self._clock: timedelta | None = None      # the camera's clock less ours (``clock_offset``)

    def clock_offset(self) -> timedelta:
        """How far the camera's clock is from ours (GetSystemDateAndTime, which the spec answers
        without credentials): the password digest carries a timestamp the camera checks against its
        own clock, often minutes or years off on a camera without NTP. Zero when it does not say."""
        if self._clock is None:
            self._clock = timedelta(0)
            try:
                answer = self.call(self.device_url, DEVICE_NS, "GetSystemDateAndTime", signed=False)
            except OnvifUnreachable:
                raise
            except OnvifError:
                return self._clock         # some cameras want credentials even for this: ours then
            utc = next(_named(answer, "UTCDateTime"), None)
            fields = ("Year", "Month", "Day", "Hour", "Minute", "Second")
            try:
                year, month, day, hour, minute, second = (int(_text(next(_named(utc, f), None))) for f in fields)
                camera = datetime(year, month, day, hour, minute, second, tzinfo=timezone.utc)
            except ValueError:            # not told, or not a date
                return self._clock
            self._clock = camera - datetime.now(timezone.utc)
        return self._clock

    def media_url(self) -> str:
        """The media service's address (GetCapabilities); the device service's if none is given."""
        if self._media_url is None:
            answer = self.call(self.device_url, DEVICE_NS, "GetCapabilities", "<Category>Media</Category>")
            media = next(_named(answer, "Media"), None)
            xaddr = _text(next(_named(media, "XAddr"), None)) if media is not None else ""
            self._media_url = service_url(xaddr, self.networks) if xaddr else self.device_url
        return self._media_url

    def profiles(self) -> list[Profile]:
        """The media profiles with an H.264/H.265 video encoder and a resolution."""
        answer = self.call(self.media_url(), MEDIA_NS, "GetProfiles")
        found = []
        for element in list(_named(answer, "Profiles"))[:MAX_PROFILES]:
            profile = _profile(element)
            if profile is not None:
                found.append(profile)
        if not found:
            raise OnvifError(f"the camera has no H.264/H.265 media profile ({_host(self.device_url)})",
                             f"enable an H.264 or H.265 stream in the camera's settings, {GIVE_URLS}")
        return found

    def stream_uri(self, profile: Profile) -> str:
        """The profile's RTSP URI (unicast), its host checked against the allowed networks."""
        setup = (f'<StreamSetup><Stream xmlns="{SCHEMA_NS}">RTP-Unicast</Stream><Transport xmlns="{SCHEMA_NS}">'
                 f'<Protocol>RTSP</Protocol></Transport></StreamSetup>'
                 f'<ProfileToken>{escape(profile.token)}</ProfileToken>')
        answer = self.call(self.media_url(), MEDIA_NS, "GetStreamUri", setup)
        uri = _text(next(_named(answer, "Uri"), None))
        what = f"the camera's stream URI for profile {profile.token!r} ({profile.width}x{profile.height})"
        try:
            return _checked_url(uri, ("rtsp", "rtsps"), self.networks)
        except TargetRefused as err:
            raise TargetRefused(f"{what}: {err.message}", f"{err.hint}; {GIVE_URLS}") from None
        except EdgefaceError as err:
            raise OnvifError(f"{what} is not usable: {err.message}", GIVE_URLS) from None

    def call(self, url: str, namespace: str, action: str, arguments: str = "", signed: bool = True) -> ET.Element:
        """POST one SOAP request (``signed``: with the UsernameToken, on the camera's clock); the
        answer's Body, or ``OnvifError`` saying what went wrong."""
        where = f"{action} at {_host(url)}"
        body = f'<{action} xmlns="{namespace}">{arguments}</{action}>'
        content_type = f'application/soap+xml; charset=utf-8; action="{namespace}/{action}"'
        token = username_token(self.username, self.password, when=datetime.now(timezone.utc) + self.clock_offset()) \
            if signed and self.username else ""
        try:
            with requests.post(url, data=_envelope(token, body), timeout=TIMEOUT_S, allow_redirects=False, stream=True,
                               headers={"Content-Type": content_type}) as resp:
                data = _read_bounded(resp, where)
                status = resp.status_code
        except requests.Timeout:
            raise OnvifUnreachable(f"the camera's ONVIF service did not answer {where} within {TIMEOUT_S[1]:.0f} s",
                                   f"check the camera is on and reachable, {GIVE_URLS}") from None
        except requests.RequestException as err:
            reason = "connection refused" if "refused" in str(err).lower() else "cannot connect"
            raise OnvifUnreachable(f"cannot reach the camera's ONVIF service for {where} ({reason})",
                                   f"check the camera is on and its ONVIF service enabled, {GIVE_URLS}") from None
        if 300 <= status < 400:
            raise OnvifError(f"the camera answered {where} with a redirect ({status}), which is not followed",
                             GIVE_URLS)
        envelope = _parse(data, where, status)
        fault = next(_named(envelope, "Fault"), None)
        if status in (401, 403) or (fault is not None and _not_authorized(fault)):
            raise OnvifError(f"the camera refused the user name and password ({where})",
                             "check 'username' and 'password' (an ONVIF user of the camera); if the camera did not "
                             "tell its clock, check it too: ONVIF passwords are checked with a timestamp", status=400)
        if fault is not None or status != 200:
            reason = _text(next(_named(fault, "Text"), None))[:200] if fault is not None else ""
            raise OnvifError(f"the camera answered {where} with an error ({status}{': ' + reason if reason else ''})",
                             f"check the camera supports the ONVIF media service (Profile S), {GIVE_URLS}")
        found = next(_named(envelope, "Body"), None)
        if found is None:
            raise OnvifError(f"the camera's answer to {where} is not a SOAP envelope", GIVE_URLS)
        return found



def _envelope(header: str, body: str) -> bytes:
    return (f'<?xml version="1.0" encoding="UTF-8"?><s:Envelope xmlns:s="{SOAP_ENV}"><s:Header>{header}</s:Header>'
            f'<s:Body>{body}</s:Body></s:Envelope>').encode()


def username_token(username: str, password: str, nonce: bytes | None = None, when: datetime | None = None) -> str:
    """A WS-Security header with a UsernameToken: Base64(SHA-1(nonce + created + password)),
    created ``when`` (now, by default)."""
    nonce = nonce if nonce is not None else os.urandom(16)
    created = (when or datetime.now(timezone.utc)).strftime("%Y-%m-%dT%H:%M:%SZ")
    digest = base64.b64encode(hashlib.sha1(nonce + created.encode() + password.encode()).digest()).decode()
    return (f'<wsse:Security xmlns:wsse="{WSSE}" xmlns:wsu="{WSU}"><wsse:UsernameToken>'
            f'<wsse:Username>{escape(username)}</wsse:Username>'
            f'<wsse:Password Type="{PASSWORD_DIGEST}">{digest}</wsse:Password>'
            f'<wsse:Nonce EncodingType="{BASE64}">{base64.b64encode(nonce).decode()}</wsse:Nonce>'
            f'<wsu:Created>{created}</wsu:Created></wsse:UsernameToken></wsse:Security>')


def service_url(xaddr: str, networks: Iterable[Network]) -> str:
    """An ONVIF service address (http/https), its host inside the allowed networks."""
    try:
        return _checked_url(xaddr, ("http", "https"), networks)
    except TargetRefused as err:
        raise TargetRefused(f"the camera's ONVIF service address: {err.message}", f"{err.hint}; {GIVE_URLS}") from None
    except EdgefaceError as err:
        raise OnvifError(f"the camera's ONVIF service address is not usable: {err.message}", GIVE_URLS) from None


def _device_service(xaddrs: Iterable[str], networks: list[Network]) -> str:
    """The first announced device service address that may be connected to."""
    refused: EdgefaceError | None = None
    for xaddr in xaddrs:
        try:
            return service_url(xaddr, networks)
        except EdgefaceError as err:
            refused = refused or err
    if refused is not None:
        raise refused
    raise OnvifError("the device announced no ONVIF service address (XAddrs)", GIVE_URLS, status=400)


def _checked_url(url: str, schemes: tuple[str, ...], networks: Iterable[Network]) -> str:
    """``url`` rebuilt from its host checked by ``allowed_address`` (no user info, no fragment)."""
    parts = parse_camera_url(url, schemes)
    addr: Address = allowed_address(parts.hostname or "", networks)
    host = f"[{addr}]" if addr.version == 6 else str(addr)
    return urlunsplit((parts.scheme.lower(), host + (f":{parts.port}" if parts.port else ""),
                       parts.path or "/", parts.query, ""))


def _read_bounded(resp: requests.Response, where: str) -> bytes:
    data = b""
    for chunk in resp.iter_content(65536):
        data += chunk
        if len(data) > MAX_ANSWER:
            raise OnvifError(f"the camera's answer to {where} is larger than {MAX_ANSWER} bytes", GIVE_URLS)
    return data


def _parse(data: bytes, where: str, status: int) -> ET.Element:
    garbage = OnvifError(f"the camera's answer to {where} is not SOAP XML (HTTP {status})",
                         f"check the address is the camera's ONVIF service, {GIVE_URLS}")
    if b"<!doctype" in data.lower():   # no DTD in SOAP: refusing it rules out entity expansion
        raise garbage
    try:
        root = ET.fromstring(data)
    except ET.ParseError:
        raise garbage from None
    if _local(root.tag) != "Envelope":
        raise garbage
    return root


def _profile(element: ET.Element) -> Profile | None:
    encoder = next(_named(element, "VideoEncoderConfiguration"), None)
    if encoder is None:
        return None
    encoding = _text(next(_named(encoder, "Encoding"), None)).upper()
    try:
        width = int(_text(next(_named(encoder, "Width"), None)))
        height = int(_text(next(_named(encoder, "Height"), None)))
    except ValueError:
        return None
    token = _clean(element.get("token", ""))
    if encoding not in VIDEO_CODECS or not token or not (0 < width <= 16384 and 0 < height <= 16384):
        return None
    return Profile(token, encoding, width, height)


def _not_authorized(fault: ET.Element) -> bool:
    """ONVIF's ``ter:NotAuthorized`` subcode, or a reason that says so (devices differ)."""
    said = " ".join(_text(e) for e in _named(fault, "Value", "Text")).lower()
    return "notauthorized" in said.replace(" ", "") or "not authorized" in said


def _named(element: ET.Element | None, *names: str) -> Iterator[ET.Element]:
    """Descendants of ``element`` with one of these local names, in document order."""
    if element is None:
        return iter(())
    return (e for e in element.iter() if isinstance(e.tag, str) and _local(e.tag) in names)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _text(element: ET.Element | None) -> str:
    return _clean(element.text or "") if element is not None else ""


def _clean(text: str) -> str:
    return "".join(ch for ch in text.strip()[:2048] if ch.isprintable())


def _host(url: str) -> str:
    return urlsplit(url).netloc
