"""The curl-script option: the server's ``Download/bundle.sh`` for a plan's URIs."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import httpx

from mastkit.client import AsyncClient, Client
from mastkit.download.plan import DownloadPlan
from mastkit.errors import DownloadError

__all__ = ["BUNDLE_PATH", "acurl_script", "curl_script"]

BUNDLE_PATH = "/api/v0.1/Download/bundle.sh"


def _form(plan: DownloadPlan) -> dict[str, list[str]]:
    if not plan.items:
        raise DownloadError("Nothing to put in a curl script: the plan is empty.")
    return {"uri": [i.uri for i in plan.items]}


def _save(plan: DownloadPlan, response: httpx.Response) -> Path:
    if response.status_code != 200:
        raise DownloadError(
            f"The bundle endpoint answered HTTP {response.status_code}.",
            server_message=response.text[:300],
        )
    plan.root.mkdir(parents=True, exist_ok=True)
    path = plan.root / f"mastDownload_{datetime.now(UTC):%Y%m%d%H%M%S}.sh"
    path.write_bytes(response.content)
    path.chmod(0o755)
    return path


def curl_script(plan: DownloadPlan, client: Client) -> Path:
    """Ask the server for a curl script fetching the plan's files; save it in the plan's root."""
    response = client.http.post(client.server + BUNDLE_PATH, data=_form(plan))
    return _save(plan, response)


async def acurl_script(plan: DownloadPlan, client: AsyncClient) -> Path:
    """The async :func:`curl_script`."""
    response = await client.http.post(client.server + BUNDLE_PATH, data=_form(plan))
    return _save(plan, response)
