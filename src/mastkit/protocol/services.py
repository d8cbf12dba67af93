"""MAST service names and what the protocol says about each family.

Service names are matched case-insensitively by MAST (one of its own examples spells
``Mast.JWST.Filtered.Nircam``); :func:`canonical` returns the canonical spelling of a known name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from mastkit.errors import BadInputError
from mastkit.protocol.filters import validate_position

__all__ = [
    "CAOM_ALL",
    "CAOM_CONE",
    "CAOM_CROSSMATCH",
    "CAOM_FILTERED",
    "CAOM_FILTERED_POSITION",
    "CAOM_PRODUCTS",
    "MISSIONS_LIST",
    "NAME_LOOKUP",
    "canonical",
    "columns_config_id",
    "is_filtered",
    "is_position",
    "is_valid_name",
    "validate_params",
]

NAME_LOOKUP = "Mast.Name.Lookup"
CAOM_CONE = "Mast.Caom.Cone"
CAOM_FILTERED = "Mast.Caom.Filtered"
CAOM_FILTERED_POSITION = "Mast.Caom.Filtered.Position"
CAOM_PRODUCTS = "Mast.Caom.Products"
CAOM_ALL = "Mast.Caom.All"
CAOM_CROSSMATCH = "Mast.Caom.Crossmatch"
MISSIONS_LIST = "Mast.Missions.List"

_KNOWN = (
    NAME_LOOKUP,
    CAOM_CONE,
    CAOM_FILTERED,
    CAOM_FILTERED_POSITION,
    CAOM_PRODUCTS,
    CAOM_ALL,
    CAOM_CROSSMATCH,
    MISSIONS_LIST,
)
_BY_LOWER = {name.lower(): name for name in _KNOWN}
_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]*(\.[A-Za-z0-9_]+)+$")


def canonical(service: str) -> str:
    """The canonical spelling of a known service name, or the name itself, stripped."""
    stripped = service.strip()
    return _BY_LOWER.get(stripped.lower(), stripped)


def is_valid_name(service: str) -> bool:
    """Whether ``service`` has the shape of a MAST service name (dotted identifiers)."""
    return bool(_NAME.match(service.strip()))


def is_filtered(service: str) -> bool:
    """Whether the service takes ``columns`` and ``filters`` (the ``*.Filtered*`` family)."""
    return ".filtered" in service.lower()


def is_position(service: str) -> bool:
    """Whether a Filtered service also takes a position."""
    return is_filtered(service) and ".position" in service.lower()


def columns_config_id(service: str) -> str:
    """The columns-config id astroquery uses for a service's column metadata.

    CAOM Filtered services share ``Mast.Caom.Cone``'s config; TIC and CTL use
    ``Mast.Catalogs.Tess.Cone``; every other service uses its own name.
    """
    lower = service.lower()
    if lower.startswith("mast.caom.filtered"):
        return CAOM_CONE
    if lower.startswith(("mast.catalogs.filtered.tic", "mast.catalogs.filtered.ctl")):
        return "Mast.Catalogs.Tess.Cone"
    return canonical(service)


def validate_params(service: str, params: Mapping[str, Any]) -> None:
    """Check the positional parameters every cone-like service shares, before sending.

    ``ra``/``dec``/``radius`` must be finite degrees with ``|dec| <= 90`` and a radius in
    [0, 180]; a ``position`` string must hold three such numbers. Other parameters are the
    service's business.

    Raises
    ------
    BadInputError
        Naming the parameter and what is wrong with it.
    """
    if "ra" in params or "dec" in params:
        if "ra" not in params or "dec" not in params:
            raise BadInputError(f"{service} needs both ra and dec.", service=service)
        radius = params.get("radius", 0.0)
        validate_position(
            _degrees(params["ra"], "ra", service),
            _degrees(params["dec"], "dec", service),
            _degrees(radius, "radius", service),
        )
    elif "radius" in params:
        validate_position(0.0, 0.0, _degrees(params["radius"], "radius", service))
    position = params.get("position")
    if position is not None:
        parts = str(position).split(",")
        if len(parts) != 3:
            raise BadInputError(
                f"position must be 'ra, dec, radius' in degrees, not {position!r}.", service=service
            )
        ra, dec, radius = (
            _degrees(p.strip(), name, service)
            for p, name in zip(parts, ("ra", "dec", "radius"), strict=True)
        )
        validate_position(ra, dec, radius)


def _degrees(value: Any, name: str, service: str) -> float:
    if isinstance(value, bool):
        raise BadInputError(f"{name} must be a number of degrees, not {value!r}.", service=service)
    try:
        return float(value)
    except (TypeError, ValueError):
        raise BadInputError(
            f"{name} must be a number of degrees, not {value!r}.", service=service
        ) from None
