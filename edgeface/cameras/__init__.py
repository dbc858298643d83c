"""The camera side: reading camera streams, finding and registering cameras, simulating one.

Modules (import what you need; this package imports nothing heavy by itself):

- ``mjpeg``: ``iter_mjpeg``/``MjpegStream``, a reader that survives what cheap cameras send.
- ``source``: ``CameraSource`` (one camera, latest frame only, reconnects) and ``Frame``.
- ``registry``: ``CameraRegistry``, every camera the app reads, however it arrived.
- ``netpolicy``: which addresses a self-registering camera may have.
- ``mdns``: ``RegistrationAnnouncer``, ``CameraBrowser``, ``CameraAnnouncer``, ``resolve_host``.
- ``simulator``, ``registrar``: an ESP32-CAM look-alike fed from a video or image folder
  (``edgeface camera``), and how it finds and registers with the app.
- ``playback``, ``latest``, ``urls``: local media as frames, the latest-value hand-off, URL helpers.
"""
