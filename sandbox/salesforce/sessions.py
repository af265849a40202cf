"""Access tokens (Salesforce sessions) and their inactivity timeout.

Salesforce sessions expire after a configurable period of inactivity (two hours by default)
and every API call resets the timer; an expired or unknown token is INVALID_SESSION_ID. The
clock is injected so tests expire a session without waiting.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

Clock = Callable[[], datetime]
DEFAULT_SESSION_TIMEOUT = timedelta(hours=2)


def utc_now() -> datetime:
    return datetime.now(UTC)


class SessionStore:
    def __init__(
        self, org_id: str, timeout: timedelta = DEFAULT_SESSION_TIMEOUT, clock: Clock = utc_now
    ) -> None:
        self.org_id = org_id
        self.timeout = timeout
        self.clock = clock
        self._last_used: dict[str, datetime] = {}

    def issue(self) -> str:
        """A new session; its token looks like Salesforce's (`<org id>!<opaque>`)."""
        token = f"{self.org_id[:15]}!{secrets.token_urlsafe(72)}"
        self._last_used[token] = self.clock()
        return token

    def touch(self, token: str) -> bool:
        """Whether the token names a live session; using it restarts its inactivity timer."""
        last_used = self._last_used.get(token)
        now = self.clock()
        if last_used is None:
            return False
        if now - last_used > self.timeout:
            del self._last_used[token]
            return False
        self._last_used[token] = now
        return True

    def revoke_all(self) -> None:
        """End every session, as an admin's "revoke" or an org-wide logout would."""
        self._last_used.clear()
