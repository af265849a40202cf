"""What every resolver gets as `info.context`: the app's services and this request's loaders."""

from __future__ import annotations

from dataclasses import dataclass, field

from starlette.requests import Request
from starlette.responses import Response
from starlette.websockets import WebSocket
from strawberry.types import Info as StrawberryInfo

from commerce.principal import ANONYMOUS, Principal
from engine.loaders import Loaders
from gateway.services import Services


@dataclass(slots=True)
class Context:
    services: Services
    request: Request | WebSocket
    response: Response | WebSocket | None = None
    principal: Principal = ANONYMOUS
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.loaders = Loaders(self.services)


Info = StrawberryInfo[Context, None]
