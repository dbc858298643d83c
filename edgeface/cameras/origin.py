"""How a camera came to the app: the one list of origins, and what each one implies."""

from __future__ import annotations

from enum import Enum


class CameraOrigin(str, Enum):
    """The value is what the API and the logs show."""

    API = "api"              # added by the REST API or the operator's configuration
    REGISTER = "register"    # the camera called /register (ESP32-CAM protocol)
    MDNS = "mdns"            # the camera advertised _edgecam._tcp

    def __str__(self) -> str:
        return self.value

    @property
    def announced(self) -> bool:
        """The camera announced itself: it may come back elsewhere (a new DHCP address), so it is
        forgotten when long offline; cameras an operator added stay."""
        return self is not CameraOrigin.API
