"""The app's blueprints: ``ui`` (pages), ``api`` (JSON), ``feeds`` (MJPEG), ``ops`` (probes, metrics, /register)."""
