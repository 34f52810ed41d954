import datetime

from google.protobuf import duration_pb2 as _duration_pb2
from google.protobuf import field_mask_pb2 as _field_mask_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from keyward.v1 import decision_pb2 as _decision_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class ApiKey(_message.Message):
    __slots__ = ("name", "display_name", "description", "api_sets", "state", "key_prefix", "expire_time", "revoke_time", "last_used_time", "creator", "create_time", "update_time", "etag")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[ApiKey.State]
        STATE_ACTIVE: _ClassVar[ApiKey.State]
        STATE_REVOKED: _ClassVar[ApiKey.State]
        STATE_EXPIRED: _ClassVar[ApiKey.State]
    STATE_UNSPECIFIED: ApiKey.State
    STATE_ACTIVE: ApiKey.State
    STATE_REVOKED: ApiKey.State
    STATE_EXPIRED: ApiKey.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    API_SETS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    KEY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    api_sets: _containers.RepeatedScalarFieldContainer[str]
    state: ApiKey.State
    key_prefix: str
    expire_time: _timestamp_pb2.Timestamp
    revoke_time: _timestamp_pb2.Timestamp
    last_used_time: _timestamp_pb2.Timestamp
    creator: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., api_sets: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[ApiKey.State, str]] = ..., key_prefix: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class EnrollmentToken(_message.Message):
    __slots__ = ("name", "api_sets", "state", "token_prefix", "expire_time", "creator", "create_time", "redeem_time", "api_key", "revoke_time")
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[EnrollmentToken.State]
        STATE_ACTIVE: _ClassVar[EnrollmentToken.State]
        STATE_REDEEMED: _ClassVar[EnrollmentToken.State]
        STATE_REVOKED: _ClassVar[EnrollmentToken.State]
        STATE_EXPIRED: _ClassVar[EnrollmentToken.State]
    STATE_UNSPECIFIED: EnrollmentToken.State
    STATE_ACTIVE: EnrollmentToken.State
    STATE_REDEEMED: EnrollmentToken.State
    STATE_REVOKED: EnrollmentToken.State
    STATE_EXPIRED: EnrollmentToken.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    API_SETS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_PREFIX_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    REDEEM_TIME_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    REVOKE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    api_sets: _containers.RepeatedScalarFieldContainer[str]
    state: EnrollmentToken.State
    token_prefix: str
    expire_time: _timestamp_pb2.Timestamp
    creator: str
    create_time: _timestamp_pb2.Timestamp
    redeem_time: _timestamp_pb2.Timestamp
    api_key: str
    revoke_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., api_sets: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[EnrollmentToken.State, str]] = ..., token_prefix: _Optional[str] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., redeem_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., api_key: _Optional[str] = ..., revoke_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class ApiSet(_message.Message):
    __slots__ = ("name", "display_name", "description", "methods", "builtin", "create_time", "update_time", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    METHODS_FIELD_NUMBER: _ClassVar[int]
    BUILTIN_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    display_name: str
    description: str
    methods: _containers.RepeatedScalarFieldContainer[str]
    builtin: bool
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    def __init__(self, name: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., methods: _Optional[_Iterable[str]] = ..., builtin: _Optional[bool] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ...) -> None: ...

class CreateApiKeyRequest(_message.Message):
    __slots__ = ("parent", "api_key", "ttl", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    api_key: ApiKey
    ttl: _duration_pb2.Duration
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateApiKeyResponse(_message.Message):
    __slots__ = ("api_key", "key", "suggested_file_name")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    key: str
    suggested_file_name: str
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., key: _Optional[str] = ..., suggested_file_name: _Optional[str] = ...) -> None: ...

class GetApiKeyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetApiKeyResponse(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class ListApiKeysRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "state")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    state: ApiKey.State
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[ApiKey.State, str]] = ...) -> None: ...

class ListApiKeysResponse(_message.Message):
    __slots__ = ("api_keys", "next_page_token")
    API_KEYS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    api_keys: _containers.RepeatedCompositeFieldContainer[ApiKey]
    next_page_token: str
    def __init__(self, api_keys: _Optional[_Iterable[_Union[ApiKey, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateApiKeyRequest(_message.Message):
    __slots__ = ("api_key", "update_mask")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateApiKeyResponse(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class RevokeApiKeyRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeApiKeyResponse(_message.Message):
    __slots__ = ("api_key",)
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ...) -> None: ...

class DeleteApiKeyRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteApiKeyResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyApiKeyRequest(_message.Message):
    __slots__ = ("key", "api_set", "api_method")
    KEY_FIELD_NUMBER: _ClassVar[int]
    API_SET_FIELD_NUMBER: _ClassVar[int]
    API_METHOD_FIELD_NUMBER: _ClassVar[int]
    key: str
    api_set: str
    api_method: str
    def __init__(self, key: _Optional[str] = ..., api_set: _Optional[str] = ..., api_method: _Optional[str] = ...) -> None: ...

class VerifyApiKeyResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _decision_pb2.Decision
    def __init__(self, decision: _Optional[_Union[_decision_pb2.Decision, _Mapping]] = ...) -> None: ...

class CreateEnrollmentTokenRequest(_message.Message):
    __slots__ = ("parent", "enrollment_token", "ttl", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    ENROLLMENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    enrollment_token: EnrollmentToken
    ttl: _duration_pb2.Duration
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., enrollment_token: _Optional[_Union[EnrollmentToken, _Mapping]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateEnrollmentTokenResponse(_message.Message):
    __slots__ = ("enrollment_token", "token")
    ENROLLMENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    enrollment_token: EnrollmentToken
    token: str
    def __init__(self, enrollment_token: _Optional[_Union[EnrollmentToken, _Mapping]] = ..., token: _Optional[str] = ...) -> None: ...

class GetEnrollmentTokenRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetEnrollmentTokenResponse(_message.Message):
    __slots__ = ("enrollment_token",)
    ENROLLMENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    enrollment_token: EnrollmentToken
    def __init__(self, enrollment_token: _Optional[_Union[EnrollmentToken, _Mapping]] = ...) -> None: ...

class ListEnrollmentTokensRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListEnrollmentTokensResponse(_message.Message):
    __slots__ = ("enrollment_tokens", "next_page_token")
    ENROLLMENT_TOKENS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    enrollment_tokens: _containers.RepeatedCompositeFieldContainer[EnrollmentToken]
    next_page_token: str
    def __init__(self, enrollment_tokens: _Optional[_Iterable[_Union[EnrollmentToken, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class RevokeEnrollmentTokenRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class RevokeEnrollmentTokenResponse(_message.Message):
    __slots__ = ("enrollment_token",)
    ENROLLMENT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    enrollment_token: EnrollmentToken
    def __init__(self, enrollment_token: _Optional[_Union[EnrollmentToken, _Mapping]] = ...) -> None: ...

class RedeemEnrollmentTokenRequest(_message.Message):
    __slots__ = ("api_key", "ttl")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    TTL_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    ttl: _duration_pb2.Duration
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., ttl: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ...) -> None: ...

class RedeemEnrollmentTokenResponse(_message.Message):
    __slots__ = ("api_key", "key", "suggested_file_name")
    API_KEY_FIELD_NUMBER: _ClassVar[int]
    KEY_FIELD_NUMBER: _ClassVar[int]
    SUGGESTED_FILE_NAME_FIELD_NUMBER: _ClassVar[int]
    api_key: ApiKey
    key: str
    suggested_file_name: str
    def __init__(self, api_key: _Optional[_Union[ApiKey, _Mapping]] = ..., key: _Optional[str] = ..., suggested_file_name: _Optional[str] = ...) -> None: ...

class ListApiSetsRequest(_message.Message):
    __slots__ = ("page_size", "page_token", "available_in")
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    AVAILABLE_IN_FIELD_NUMBER: _ClassVar[int]
    page_size: int
    page_token: str
    available_in: str
    def __init__(self, page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., available_in: _Optional[str] = ...) -> None: ...

class ListApiSetsResponse(_message.Message):
    __slots__ = ("api_sets", "next_page_token")
    API_SETS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    api_sets: _containers.RepeatedCompositeFieldContainer[ApiSet]
    next_page_token: str
    def __init__(self, api_sets: _Optional[_Iterable[_Union[ApiSet, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class GetApiSetRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetApiSetResponse(_message.Message):
    __slots__ = ("api_set",)
    API_SET_FIELD_NUMBER: _ClassVar[int]
    api_set: ApiSet
    def __init__(self, api_set: _Optional[_Union[ApiSet, _Mapping]] = ...) -> None: ...

class CreateApiSetRequest(_message.Message):
    __slots__ = ("api_set", "api_set_id")
    API_SET_FIELD_NUMBER: _ClassVar[int]
    API_SET_ID_FIELD_NUMBER: _ClassVar[int]
    api_set: ApiSet
    api_set_id: str
    def __init__(self, api_set: _Optional[_Union[ApiSet, _Mapping]] = ..., api_set_id: _Optional[str] = ...) -> None: ...

class CreateApiSetResponse(_message.Message):
    __slots__ = ("api_set",)
    API_SET_FIELD_NUMBER: _ClassVar[int]
    api_set: ApiSet
    def __init__(self, api_set: _Optional[_Union[ApiSet, _Mapping]] = ...) -> None: ...

class UpdateApiSetRequest(_message.Message):
    __slots__ = ("api_set", "update_mask")
    API_SET_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    api_set: ApiSet
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, api_set: _Optional[_Union[ApiSet, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateApiSetResponse(_message.Message):
    __slots__ = ("api_set",)
    API_SET_FIELD_NUMBER: _ClassVar[int]
    api_set: ApiSet
    def __init__(self, api_set: _Optional[_Union[ApiSet, _Mapping]] = ...) -> None: ...

class DeleteApiSetRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteApiSetResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...
