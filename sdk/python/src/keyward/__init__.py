"""Python client for Keyward, the API-credential service.

The gRPC stubs and messages are generated from the protobuf API, package
``keyward.v1``, by ``scripts/gen-sdks``; import them from :mod:`keyward.v1`::

    from keyward.v1 import api_key_service_pb2, api_key_service_pb2_grpc

:func:`bearer` builds the call metadata that authenticates with an API key,
:func:`acting_as` the entry with which a front end acts for a signed-in user,
and :mod:`keyward.errors` reads the ``google.rpc`` details every Keyward error
carries.
"""

from __future__ import annotations

__all__ = ["ACT_AS_METADATA", "acting_as", "bearer"]

#: The metadata entry naming the user a front end acts for.
ACT_AS_METADATA = "keyward-act-as"


def bearer(api_key: str) -> tuple[tuple[str, str], ...]:
    """Call metadata that authenticates with an API key:
    ``authorization: Bearer <api key>``."""
    return (("authorization", f"Bearer {api_key}"),)


def acting_as(user: str) -> tuple[tuple[str, str], ...]:
    """Call metadata with which a front end acts for one of its signed-in
    users, ``accounts/{account}/users/{user}``: add it to the front end's own
    credential, ``metadata=bearer(key) + acting_as(user)``. The call runs as
    that user, within the credential's own API sets, which must include
    ``keyward.delegation``."""
    return ((ACT_AS_METADATA, user),)
