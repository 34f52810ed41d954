"""Python client for Keyward, the API-credential service.

The gRPC stubs and messages are generated from the protobuf API, package
``keyward.v1``, by ``scripts/gen-sdks``; import them from :mod:`keyward.v1`::

    from keyward.v1 import api_key_service_pb2, api_key_service_pb2_grpc

:func:`bearer` builds the call metadata that authenticates with an API key, and
:mod:`keyward.errors` reads the ``google.rpc`` details every Keyward error
carries.
"""

from __future__ import annotations

__all__ = ["bearer"]


def bearer(api_key: str) -> tuple[tuple[str, str], ...]:
    """Call metadata that authenticates with an API key:
    ``authorization: Bearer <api key>``."""
    return (("authorization", f"Bearer {api_key}"),)
