"""The relay session: one HTTP session, login by device-key signature, every call,
and the mapping of relay errors to the client's errors.

::

    session.call("fetch_messages", path=..., query=...)
        -> RelayTransport.call            (retries 5xx / connection errors)
        <- RelayError(UNAUTHORIZED)       -> login once, call again
        <- RelayUnreachable               -> RelayUnreachableError (exit 6)
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from cove.client.errors import ClientError, NoPermission, RelayUnreachableError, UnknownGroup
from cove.client.profile import SUITE
from cove.client.transport import RelayError, RelayTransport, RelayUnreachable
from cove.protocol.crypto import suite_for
from cove.protocol.wire import envelopes as E
from cove.protocol.wire.auth import login_signing_input
from cove.protocol.wire.codes import ErrorCode

__all__ = ["RelayError", "RelaySession", "client_error"]


class RelaySession:
    """Calls to one relay as one account's device.

    ``credentials()`` gives (handle, device_private, device_key) when a login is
    needed; ``on_token`` is awaited with each new token so it can be kept.
    """

    def __init__(
        self,
        url: str,
        token: str | None,
        credentials: Callable[[], tuple[str, bytes, bytes]],
        on_token: Callable[[str], Awaitable[None]],
    ) -> None:
        self.url = url
        self.token = token
        self._credentials = credentials
        self._on_token = on_token
        self._transport: RelayTransport | None = None

    def __repr__(self) -> str:
        return f"RelaySession({self.url!r})"

    async def transport(self) -> RelayTransport:
        """The open transport, logged in."""
        if self._transport is None:
            self._transport = await RelayTransport(self.url).__aenter__()
        if self._transport.token is None:
            self._transport.token = self.token
        if self._transport.token is None:
            await self.login()
        return self._transport

    async def login(self) -> None:
        if self._transport is None:
            self._transport = await RelayTransport(self.url).__aenter__()
        t = self._transport
        t.token = None
        handle, device_private, device_key = self._credentials()
        challenge = await t.call("challenge")
        signed = login_signing_input(challenge.relay_id, challenge.challenge, handle, device_key)
        answer = await t.call("login", E.LoginRequest(
            handle=handle, device_key=device_key, challenge=challenge.challenge,
            signature=suite_for(SUITE).sign(device_private, signed),
        ))  # fmt: skip
        t.token = self.token = answer.token
        await self._on_token(answer.token)

    async def call(self, name: str, request: Any = None, **kwargs: Any) -> Any:
        """One relay call: logs in when needed; RelayUnreachableError if the relay is down.

        A refusal is raised as :class:`RelayError` (callers that expect one of its
        codes look at it; others turn it into a client error with :func:`client_error`).
        """
        try:
            t = await self.transport()
            try:
                return await t.call(name, request, **kwargs)
            except RelayError as exc:
                if exc.code != ErrorCode.UNAUTHORIZED:
                    raise
                await self.login()
                return await t.call(name, request, **kwargs)
        except RelayUnreachable as exc:
            raise RelayUnreachableError(str(exc)) from None

    async def request(self, name: str, request: Any = None, **kwargs: Any) -> Any:
        """:meth:`call`, with every refusal turned into a client error."""
        try:
            return await self.call(name, request, **kwargs)
        except RelayError as exc:
            raise client_error(exc) from None

    async def close(self) -> None:
        if self._transport is not None:
            await self._transport.__aexit__(None, None, None)
            self._transport = None


def client_error(exc: RelayError) -> ClientError:
    """The client error (and so the exit code) for a relay refusal."""
    if exc.code in (ErrorCode.FORBIDDEN, ErrorCode.ACCOUNT_BANNED):
        return NoPermission(f"the relay refused: {exc}")
    if exc.code == ErrorCode.NOT_FOUND:
        return UnknownGroup(f"the relay does not know this group (or you are not in it): {exc}")
    if exc.code == ErrorCode.INVALID_INVITE:
        return NoPermission(f"invalid invite code: {exc}")
    return ClientError(f"the relay refused: {exc}")
