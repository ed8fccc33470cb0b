"""Login throttling: too many wrong passwords for one login from one address wait a while."""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

# Five failures in fifteen minutes, per login and client address.
MAX_FAILURES = 5
WINDOW_SECONDS = 15 * 60
# Bounds the memory an attacker spraying logins can make us hold.
MAX_KEYS = 10_000


class LoginThrottle:
    """Failed logins per (login, address) in a sliding window, held in this process's memory.

    Each process counts on its own: behind N processes an attacker gets up to N × MAX_FAILURES
    tries per window. A shared store (Redis) would make it exact.
    """

    def __init__(
        self,
        max_failures: int = MAX_FAILURES,
        window: float = WINDOW_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_failures = max_failures
        self.window = window
        self.clock = clock
        self._failures: dict[tuple[str, str], deque[float]] = {}

    @staticmethod
    def _key(login: str, address: str) -> tuple[str, str]:
        return login.strip().lower(), address

    def _recent(self, key: tuple[str, str]) -> deque[float]:
        """The key's failures still inside the window (older ones dropped)."""
        times = self._failures.get(key, deque())
        cutoff = self.clock() - self.window
        while times and times[0] <= cutoff:
            times.popleft()
        if not times:
            self._failures.pop(key, None)
        return times

    def retry_after(self, login: str, address: str) -> int | None:
        """Seconds until this login may be tried again from this address; None if it may now."""
        times = self._recent(self._key(login, address))
        if len(times) < self.max_failures:
            return None
        return max(1, math.ceil(times[0] + self.window - self.clock()))

    def failed(self, login: str, address: str) -> None:
        """Count a wrong password."""
        key = self._key(login, address)
        times = self._recent(key)
        if key not in self._failures and len(self._failures) >= MAX_KEYS:
            # Forget the key whose last failure is oldest.
            stale = min(self._failures, key=lambda k: self._failures[k][-1])
            del self._failures[stale]
        times.append(self.clock())
        self._failures[key] = times

    def succeeded(self, login: str, address: str) -> None:
        """A right password clears the count."""
        self._failures.pop(self._key(login, address), None)
