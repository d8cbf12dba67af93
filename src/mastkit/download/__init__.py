"""Downloads in three layers: a pure planner, an engine (async, plus a sync facade), a manifest.

Examples
--------
>>> from mastkit.download import plan_downloads
>>> plan = plan_downloads(["mast:HST/product/a.fits"], "/tmp/d", server="https://mast.stsci.edu")
>>> plan.urls()
['https://mast.stsci.edu/api/v0.1/Download/file?uri=mast:HST/product/a.fits']

Then ``download(plan, client=client)`` (a :class:`mastkit.client.Client`) or
``await adownload(plan, client=aclient)``: each returns the manifest as a ResultTable, also
written to ``manifest.csv`` in the download directory.
"""

from mastkit.download._transfer import DownloadOptions
from mastkit.download.bundle import acurl_script, curl_script
from mastkit.download.engine import adownload
from mastkit.download.manifest import MANIFEST_NAME, Outcome, Status, manifest_table
from mastkit.download.plan import (
    DEFAULT_TEMPLATE,
    TEMPLATES,
    DownloadItem,
    DownloadPlan,
    PlanSummary,
    download_url,
    plan_downloads,
    safe_relative_path,
)
from mastkit.download.progress import NullProgress, Progress
from mastkit.download.sync import download

__all__ = [
    "DEFAULT_TEMPLATE",
    "MANIFEST_NAME",
    "TEMPLATES",
    "DownloadItem",
    "DownloadOptions",
    "DownloadPlan",
    "NullProgress",
    "Outcome",
    "PlanSummary",
    "Progress",
    "Status",
    "acurl_script",
    "adownload",
    "curl_script",
    "download",
    "download_url",
    "manifest_table",
    "plan_downloads",
    "safe_relative_path",
]

for _name in __all__:
    _obj = globals()[_name]
    if hasattr(_obj, "__module__") and isinstance(_obj, type):
        _obj.__module__ = __name__
