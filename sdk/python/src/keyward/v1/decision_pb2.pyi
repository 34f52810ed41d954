import datetime

from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Decision(_message.Message):
    __slots__ = ("valid", "reason", "principal", "account", "user", "client_id", "api_sets", "secret_version", "expire_time")
    class Reason(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        REASON_UNSPECIFIED: _ClassVar[Decision.Reason]
        REASON_INVALID: _ClassVar[Decision.Reason]
        REASON_EXPIRED: _ClassVar[Decision.Reason]
        REASON_REVOKED: _ClassVar[Decision.Reason]
        REASON_DISABLED: _ClassVar[Decision.Reason]
        REASON_OWNER_DISABLED: _ClassVar[Decision.Reason]
        REASON_API_SET_NOT_ALLOWED: _ClassVar[Decision.Reason]
        REASON_STALE_TIMESTAMP: _ClassVar[Decision.Reason]
        REASON_REPLAYED_NONCE: _ClassVar[Decision.Reason]
        REASON_TOO_MANY_ATTEMPTS: _ClassVar[Decision.Reason]
    REASON_UNSPECIFIED: Decision.Reason
    REASON_INVALID: Decision.Reason
    REASON_EXPIRED: Decision.Reason
    REASON_REVOKED: Decision.Reason
    REASON_DISABLED: Decision.Reason
    REASON_OWNER_DISABLED: Decision.Reason
    REASON_API_SET_NOT_ALLOWED: Decision.Reason
    REASON_STALE_TIMESTAMP: Decision.Reason
    REASON_REPLAYED_NONCE: Decision.Reason
    REASON_TOO_MANY_ATTEMPTS: Decision.Reason
    VALID_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    PRINCIPAL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    USER_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    API_SETS_FIELD_NUMBER: _ClassVar[int]
    SECRET_VERSION_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    valid: bool
    reason: Decision.Reason
    principal: str
    account: str
    user: str
    client_id: str
    api_sets: _containers.RepeatedScalarFieldContainer[str]
    secret_version: int
    expire_time: _timestamp_pb2.Timestamp
    def __init__(self, valid: _Optional[bool] = ..., reason: _Optional[_Union[Decision.Reason, str]] = ..., principal: _Optional[str] = ..., account: _Optional[str] = ..., user: _Optional[str] = ..., client_id: _Optional[str] = ..., api_sets: _Optional[_Iterable[str]] = ..., secret_version: _Optional[int] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...
