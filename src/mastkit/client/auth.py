"""MAST token authentication, confined to the host the token was given for."""

from __future__ import annotations

from collections.abc import Generator

import httpx

__all__ = ["MastToken"]


class MastToken(httpx.Auth):
    """Send a MAST API token, but only to one host.

    The token goes out as ``Authorization: token <t>`` (MAST's download and curl convention) and
    as the ``mast_token`` cookie (what the portal API reads), and only on requests whose scheme
    and host equal the ones of ``server``. A request anywhere else (a redirect target, a
    mirror, a user-supplied URL) is sent without it.

    Parameters
    ----------
    token : str
        The token.
    server : str
        Base URL of the server the token belongs to.
    """

    def __init__(self, token: str, server: str) -> None:
        self._token = token
        origin = httpx.URL(server)
        self._scheme = origin.scheme
        self._host = origin.host
        self._port = origin.port

    def __repr__(self) -> str:  # never show the token
        return f"MastToken(host={self._host!r}, token=<hidden>)"

    def applies_to(self, url: httpx.URL) -> bool:
        """Whether a request to ``url`` may carry the token."""
        return url.scheme == self._scheme and url.host == self._host and url.port == self._port

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        """Add the token when the request goes to the token's own host."""
        if self.applies_to(request.url):
            request.headers["Authorization"] = f"token {self._token}"
            cookie = request.headers.get("Cookie")
            pair = f"mast_token={self._token}"
            request.headers["Cookie"] = f"{cookie}; {pair}" if cookie else pair
        yield request
