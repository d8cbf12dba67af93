"""The MAST wire protocol, without I/O: envelopes, codec, filters, services and flows.

Shared by the client (which encodes requests and decodes replies) and the local server (which
does the reverse). Nothing here imports httpx or performs I/O.
"""

from mastkit.protocol.codec import (
    decode_columns_config,
    decode_request,
    decode_response,
    encode_envelope,
    encode_error,
    encode_form,
    encode_json,
    encode_query,
    request_from_wire,
    request_to_wire,
)
from mastkit.protocol.envelopes import (
    FORMATS,
    Field,
    MashupRequest,
    MashupResponse,
    Paging,
    Status,
    new_cachebreaker,
)

__all__ = [
    "FORMATS",
    "Field",
    "MashupRequest",
    "MashupResponse",
    "Paging",
    "Status",
    "decode_columns_config",
    "decode_request",
    "decode_response",
    "encode_envelope",
    "encode_error",
    "encode_form",
    "encode_json",
    "encode_query",
    "new_cachebreaker",
    "request_from_wire",
    "request_to_wire",
]
