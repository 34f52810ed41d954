"""Reading the details of a failed Keyward call.

Every error status Keyward sends carries a ``google.rpc.Status`` in the
``grpc-status-details-bin`` trailer with one ``google.rpc.ErrorInfo`` (domain
``keyward``, an UPPER_SNAKE ``reason``) and, for INVALID_ARGUMENT, a
``google.rpc.BadRequest`` naming each wrong field. These helpers decode them
from the ``grpc.RpcError`` a stub raised::

    try:
        stub.CreateApiKey(request, metadata=keyward.bearer(key))
    except grpc.RpcError as err:
        info = error_info(err)          # info.reason == "INVALID_ARGUMENT"
        for violation in field_violations(err):
            print(violation.field, violation.description)
"""

from __future__ import annotations

import grpc
from google.rpc import error_details_pb2, status_pb2
from grpc_status import rpc_status

#: The ``ErrorInfo.domain`` of every Keyward error.
ERROR_DOMAIN = "keyward"


def status_details(error: grpc.RpcError) -> status_pb2.Status | None:
    """The ``google.rpc.Status`` of a failed call, or None if it carries none."""
    if not isinstance(error, grpc.Call):
        return None
    return rpc_status.from_call(error)


def error_info(error: grpc.RpcError) -> error_details_pb2.ErrorInfo | None:
    """The ``google.rpc.ErrorInfo`` of a failed call, or None."""
    status = status_details(error)
    if status is None:
        return None
    for detail in status.details:
        info = error_details_pb2.ErrorInfo()
        if detail.Unpack(info):
            return info
    return None


def field_violations(
    error: grpc.RpcError,
) -> list[error_details_pb2.BadRequest.FieldViolation]:
    """The field violations of an INVALID_ARGUMENT error (empty otherwise)."""
    status = status_details(error)
    if status is None:
        return []
    violations: list[error_details_pb2.BadRequest.FieldViolation] = []
    for detail in status.details:
        bad_request = error_details_pb2.BadRequest()
        if detail.Unpack(bad_request):
            violations.extend(bad_request.field_violations)
    return violations
