"""Adapters chosen by settings: which connector serves each port (docs/operations.md
"Adapters").

`OMNIGATE_ADAPTERS__POS|ECOMMERCE|INVENTORY|CRM` name one adapter per port. The names come
from a registry that installed packages extend the way pytest finds plugins: an entry point
in the group `omnigate.adapters.<port>` names an `AdapterFactory`, so a retailer's own
adapter is a package of its own, installed next to omnigate, with no change to omnigate.

omnigate's own adapters (gateway/wiring/builtin_adapters.py) are registered the same way in
pyproject.toml, and BUILTIN below says the same (tests/test_adapters.py holds the two
equal). The registry takes omnigate's own from BUILTIN, the code that runs, and skips the
entry points of the installed omnigate distribution (`omnigate-retail`, OMNIGATE): a source
tree run from PYTHONPATH, or an install whose metadata predates an adapter, still knows
every adapter its code has, and stale metadata can never shadow it. Every other
distribution's entry points are read as they are, except one identical to omnigate's own
(same name, same factory): that is the same adapter, not a second one (an environment still
holding omnigate's install from before its distribution was renamed lists them). A name
registered twice (an installed package reusing `square`, say) is refused when chosen, never
settled silently.

Factories run in PORTS order, each given an AdapterContext: the settings, `upstream` (an
UpstreamHttp for a service name and base URL, with that service's resilience policy), and
the adapters built before it (Square inventory shares the Square POS's catalog). The
policies are made for exactly the services the factories ask for (`Upstreams`), so /readyz
and the metrics name those services and no others.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from importlib.metadata import EntryPoint, entry_points
from typing import Protocol, TypeVar

import httpx

from connectors.http import UpstreamHttp
from connectors.ports import CrmPort, EcommercePort, InventoryPort, PosPort
from connectors.resilience import ResilienceSettings, UpstreamPolicy
from gateway import DISTRIBUTION
from gateway.metrics import Metrics
from gateway.settings import AdaptersSettings, Settings, UpstreamsSettings

# The ports, in the order their adapters are built.
PORTS: tuple[str, ...] = ("pos", "ecommerce", "inventory", "crm")
# the distribution whose adapters BUILTIN lists (normalized: lower case, runs of -_. as -)
OMNIGATE = DISTRIBUTION

# omnigate's own adapters per port: name -> entry point value, exactly as pyproject.toml
# registers them.
BUILTIN: Mapping[str, Mapping[str, str]] = {
    "pos": {
        "square": "gateway.wiring.builtin_adapters:square_pos",
        "shopify": "gateway.wiring.builtin_adapters:shopify_pos",
    },
    "ecommerce": {"shopify": "gateway.wiring.builtin_adapters:shopify_ecommerce"},
    "inventory": {
        "square": "gateway.wiring.builtin_adapters:square_inventory",
        "shopify": "gateway.wiring.builtin_adapters:shopify_inventory",
    },
    "crm": {
        "salesforce": "gateway.wiring.builtin_adapters:salesforce_crm",
        "hubspot": "gateway.wiring.builtin_adapters:hubspot_crm",
    },
}


def group(port: str) -> str:
    """The entry-point group an adapter for `port` is registered in."""
    return f"omnigate.adapters.{port}"


def variable(port: str) -> str:
    """The setting naming `port`'s adapter."""
    return f"OMNIGATE_ADAPTERS__{port.upper()}"


class UpstreamFactory(Protocol):
    def __call__(self, service: str, base_url: str) -> UpstreamHttp:
        """The door to `service` at `base_url`: the app's HTTP client under the service's
        resilience policy (deadline, retries, breaker, concurrency), reported to metrics
        under the service's name. The same arguments give the same UpstreamHttp."""
        ...


@dataclass(frozen=True, slots=True)
class AdapterContext:
    """What a factory gets. `pos`, `ecommerce` and `inventory` are the adapters built
    before this one (PORTS order), None for this one and those after it."""

    settings: Settings
    upstream: UpstreamFactory
    pos: PosPort | None = None
    ecommerce: EcommercePort | None = None
    inventory: InventoryPort | None = None


PortT_co = TypeVar("PortT_co", covariant=True)


class AdapterFactory(Protocol[PortT_co]):
    """What an entry point in `omnigate.adapters.<port>` names: a callable that makes the
    port's adapter, e.g. `def make(context: AdapterContext) -> AcmeCrm`. It runs once per
    app, in the lifespan; it should only build (no I/O): the adapter calls its upstream
    when asked."""

    def __call__(self, context: AdapterContext, /) -> PortT_co: ...


@dataclass(frozen=True, slots=True)
class Registration:
    """One adapter name in one port's group: its factory's entry point, and who registers
    it (OMNIGATE, or the installed distribution's name and version)."""

    entry_point: EntryPoint
    source: str

    @property
    def name(self) -> str:
        return self.entry_point.name

    def describe(self) -> str:
        return f"{self.entry_point.value} from {self.source}"

    def factory(self, port: str) -> Callable[[AdapterContext], object]:
        """The factory, its module imported; AdapterError if that fails or it is not
        callable."""
        try:
            loaded: object = self.entry_point.load()
        except Exception as exc:
            raise AdapterError([self.problem(port, f"could not be loaded: {_error(exc)}")]) from exc
        if not callable(loaded):
            raise AdapterError([self.problem(port, "names something that is not callable")])
        return loaded

    def problem(self, port: str, what: str) -> str:
        return f"{variable(port)}: adapter {self.name!r} ({self.describe()}) {what}"


class AdapterError(ValueError):
    """Adapters that cannot be built: one line per problem, each naming the variable."""

    def __init__(self, problems: Sequence[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = list(problems)


def registry() -> dict[str, dict[str, list[Registration]]]:
    """Per port, every adapter name and its registrations: omnigate's own, then the entry
    points of every other installed distribution. More than one is a clash."""
    installed = entry_points()
    found: dict[str, dict[str, list[Registration]]] = {}
    for port in PORTS:
        names: dict[str, list[Registration]] = {}
        for name, value in BUILTIN[port].items():
            own = Registration(EntryPoint(name, value, group(port)), OMNIGATE)
            names.setdefault(name, []).append(own)
        for entry_point in installed.select(group=group(port)):
            dist = entry_point.dist
            if dist is not None and _normalized(dist.name) == OMNIGATE:
                continue  # BUILTIN's, read from the code instead
            if BUILTIN[port].get(entry_point.name) == entry_point.value:
                continue  # omnigate's own factory, listed again: the same adapter
            source = f"{dist.name} {dist.version}" if dist is not None else "an unnamed package"
            names.setdefault(entry_point.name, []).append(Registration(entry_point, source))
        found[port] = names
    return found


def chosen_adapters(
    adapters: AdaptersSettings,
) -> tuple[dict[str, Registration], dict[str, str]]:
    """Each port's registration for the name the settings choose, or the port's problem:
    its name unknown or registered more than once."""
    known = registry()
    chosen: dict[str, Registration] = {}
    problems: dict[str, str] = {}
    for port in PORTS:
        name: str = getattr(adapters, port)
        registrations = known[port].get(name, [])
        if not registrations:
            names = ", ".join(sorted(known[port])) or "none"
            problems[port] = f"{variable(port)}: unknown adapter {name!r}; known: {names}"
        elif len(registrations) > 1:
            where = "; ".join(r.describe() for r in registrations)
            problems[port] = (
                f"{variable(port)}: adapter {name!r} is registered more than once ({where}); "
                "uninstall all but one"
            )
        else:
            chosen[port] = registrations[0]
    return chosen, problems


def adapter_problems(adapters: AdaptersSettings) -> list[str]:
    """What `omnigate serve` and `omnigate check-config` refuse, one line per port: its
    name unknown or registered twice, or its factory not loadable."""
    chosen, problems = chosen_adapters(adapters)
    lines = []
    for port in PORTS:
        if port in problems:
            lines.append(problems[port])
            continue
        try:
            chosen[port].factory(port)
        except AdapterError as error:
            lines += error.problems
    return lines


def adapters_summary(adapters: AdaptersSettings) -> str:
    """`pos=square (omnigate-retail), ...`: each port's adapter and who registers it."""
    chosen, _ = chosen_adapters(adapters)
    return ", ".join(
        f"{port}={getattr(adapters, port)} "
        f"({chosen[port].source if port in chosen else 'not registered'})"
        for port in PORTS
    )


@dataclass(frozen=True, slots=True)
class Adapters:
    pos: PosPort
    ecommerce: EcommercePort
    inventory: InventoryPort
    crm: CrmPort


def build_adapters(settings: Settings, upstream: UpstreamFactory) -> Adapters:
    """The adapters `settings.adapters` choose, built in PORTS order; AdapterError (every
    problem adapter_problems finds, or the first factory that fails) otherwise."""
    chosen, problems = chosen_adapters(settings.adapters)
    if problems:
        raise AdapterError(list(problems.values()))
    factories = {port: chosen[port].factory(port) for port in PORTS}

    def made(port: str, context: AdapterContext) -> object:
        try:
            return factories[port](context)
        except Exception as exc:
            raise AdapterError([chosen[port].problem(port, f"failed: {_error(exc)}")]) from exc

    def not_a(port: str, adapter: object, protocol: str) -> AdapterError:
        what = f"made an instance of {type(adapter).__qualname__}, which is not a {protocol}"
        return AdapterError([chosen[port].problem(port, what + " (connectors/ports.py)")])

    context = AdapterContext(settings=settings, upstream=upstream)
    pos = made("pos", context)
    if not isinstance(pos, PosPort):
        raise not_a("pos", pos, "PosPort")
    context = replace(context, pos=pos)
    ecommerce = made("ecommerce", context)
    if not isinstance(ecommerce, EcommercePort):
        raise not_a("ecommerce", ecommerce, "EcommercePort")
    context = replace(context, ecommerce=ecommerce)
    inventory = made("inventory", context)
    if not isinstance(inventory, InventoryPort):
        raise not_a("inventory", inventory, "InventoryPort")
    context = replace(context, inventory=inventory)
    crm = made("crm", context)
    if not isinstance(crm, CrmPort):
        raise not_a("crm", crm, "CrmPort")
    return Adapters(pos=pos, ecommerce=ecommerce, inventory=inventory, crm=crm)


class Upstreams:
    """The `upstream` factories get: one UpstreamHttp per (service, base URL) over the
    app's client, and one UpstreamPolicy per service, each made when first asked for. So
    `policies` (the breakers /readyz reports, the circuit metrics) and `base_urls` (/readyz's
    upstreams) hold exactly the services the chosen adapters call."""

    def __init__(
        self,
        client: httpx.AsyncClient,
        settings: UpstreamsSettings,
        metrics: Metrics,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """`transport`: the one under `client`, sent through directly (UpstreamHttp)."""
        self._client = client
        self._settings = settings
        self._metrics = metrics
        self._transport = transport
        self._made: dict[tuple[str, str], UpstreamHttp] = {}
        self.policies: dict[str, UpstreamPolicy] = {}
        self.base_urls: dict[str, tuple[str, ...]] = {}

    def __call__(self, service: str, base_url: str) -> UpstreamHttp:
        made = self._made.get((service, base_url))
        if made is None:
            policy = self.policies.get(service)
            if policy is None:
                policy = self.policies[service] = UpstreamPolicy(
                    service, resilience_for(self._settings, service), observer=self._metrics
                )
            made = self._made[service, base_url] = UpstreamHttp(
                self._client,
                service=service,
                base_url=base_url,
                observer=self._metrics.observe_upstream,
                policy=policy,
                transport=self._transport,
            )
            self.base_urls[service] = (*self.base_urls.get(service, ()), base_url)
        return made


def resilience_for(settings: UpstreamsSettings, service: str) -> ResilienceSettings:
    """`OMNIGATE_UPSTREAMS__<SERVICE>__*` over `..._ALL__*` for the services that have a
    section (square, shopify, salesforce, hubspot); `all` alone for any other."""
    if service != "all" and service in type(settings).model_fields:
        return settings.for_service(service)
    return settings.all


def _normalized(distribution: str) -> str:
    return re.sub(r"[-_.]+", "-", distribution).lower()


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
