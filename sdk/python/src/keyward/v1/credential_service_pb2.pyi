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

class Credential(_message.Message):
    __slots__ = ("name", "client_id", "display_name", "description", "contact_email", "application", "scheme", "api_sets", "state", "expire_time", "secret_versions", "creator", "create_time", "update_time", "etag", "compromise_time")
    class Scheme(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        SCHEME_UNSPECIFIED: _ClassVar[Credential.Scheme]
        SCHEME_BASIC: _ClassVar[Credential.Scheme]
        SCHEME_HMAC: _ClassVar[Credential.Scheme]
    SCHEME_UNSPECIFIED: Credential.Scheme
    SCHEME_BASIC: Credential.Scheme
    SCHEME_HMAC: Credential.Scheme
    class State(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        STATE_UNSPECIFIED: _ClassVar[Credential.State]
        STATE_ACTIVE: _ClassVar[Credential.State]
        STATE_DISABLED: _ClassVar[Credential.State]
    STATE_UNSPECIFIED: Credential.State
    STATE_ACTIVE: Credential.State
    STATE_DISABLED: Credential.State
    NAME_FIELD_NUMBER: _ClassVar[int]
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONTACT_EMAIL_FIELD_NUMBER: _ClassVar[int]
    APPLICATION_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    API_SETS_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    SECRET_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    CREATOR_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    UPDATE_TIME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    COMPROMISE_TIME_FIELD_NUMBER: _ClassVar[int]
    name: str
    client_id: str
    display_name: str
    description: str
    contact_email: str
    application: str
    scheme: Credential.Scheme
    api_sets: _containers.RepeatedScalarFieldContainer[str]
    state: Credential.State
    expire_time: _timestamp_pb2.Timestamp
    secret_versions: _containers.RepeatedCompositeFieldContainer[SecretVersion]
    creator: str
    create_time: _timestamp_pb2.Timestamp
    update_time: _timestamp_pb2.Timestamp
    etag: str
    compromise_time: _timestamp_pb2.Timestamp
    def __init__(self, name: _Optional[str] = ..., client_id: _Optional[str] = ..., display_name: _Optional[str] = ..., description: _Optional[str] = ..., contact_email: _Optional[str] = ..., application: _Optional[str] = ..., scheme: _Optional[_Union[Credential.Scheme, str]] = ..., api_sets: _Optional[_Iterable[str]] = ..., state: _Optional[_Union[Credential.State, str]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., secret_versions: _Optional[_Iterable[_Union[SecretVersion, _Mapping]]] = ..., creator: _Optional[str] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., update_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., etag: _Optional[str] = ..., compromise_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class SecretVersion(_message.Message):
    __slots__ = ("version", "create_time", "expire_time", "last_used_time")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CREATE_TIME_FIELD_NUMBER: _ClassVar[int]
    EXPIRE_TIME_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_TIME_FIELD_NUMBER: _ClassVar[int]
    version: int
    create_time: _timestamp_pb2.Timestamp
    expire_time: _timestamp_pb2.Timestamp
    last_used_time: _timestamp_pb2.Timestamp
    def __init__(self, version: _Optional[int] = ..., create_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., expire_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., last_used_time: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ...) -> None: ...

class CreateCredentialRequest(_message.Message):
    __slots__ = ("parent", "credential", "identifier", "request_id")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    IDENTIFIER_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    parent: str
    credential: Credential
    identifier: str
    request_id: str
    def __init__(self, parent: _Optional[str] = ..., credential: _Optional[_Union[Credential, _Mapping]] = ..., identifier: _Optional[str] = ..., request_id: _Optional[str] = ...) -> None: ...

class CreateCredentialResponse(_message.Message):
    __slots__ = ("credential", "client_secret")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    client_secret: str
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ..., client_secret: _Optional[str] = ...) -> None: ...

class GetCredentialRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class GetCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class ListCredentialsRequest(_message.Message):
    __slots__ = ("parent", "page_size", "page_token", "state", "scheme")
    PARENT_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    parent: str
    page_size: int
    page_token: str
    state: Credential.State
    scheme: Credential.Scheme
    def __init__(self, parent: _Optional[str] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ..., state: _Optional[_Union[Credential.State, str]] = ..., scheme: _Optional[_Union[Credential.Scheme, str]] = ...) -> None: ...

class ListCredentialsResponse(_message.Message):
    __slots__ = ("credentials", "next_page_token")
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    next_page_token: str
    def __init__(self, credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class UpdateCredentialRequest(_message.Message):
    __slots__ = ("credential", "update_mask")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    UPDATE_MASK_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    update_mask: _field_mask_pb2.FieldMask
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ..., update_mask: _Optional[_Union[_field_mask_pb2.FieldMask, _Mapping]] = ...) -> None: ...

class UpdateCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class EnableCredentialRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class EnableCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class DisableCredentialRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DisableCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class RenewCredentialSecretRequest(_message.Message):
    __slots__ = ("name", "grace_period", "request_id", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    GRACE_PERIOD_FIELD_NUMBER: _ClassVar[int]
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    grace_period: _duration_pb2.Duration
    request_id: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., grace_period: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., request_id: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class RenewCredentialSecretResponse(_message.Message):
    __slots__ = ("credential", "client_secret", "secret_version")
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    SECRET_VERSION_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    client_secret: str
    secret_version: int
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ..., client_secret: _Optional[str] = ..., secret_version: _Optional[int] = ...) -> None: ...

class DeleteCredentialRequest(_message.Message):
    __slots__ = ("name", "etag")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ETAG_FIELD_NUMBER: _ClassVar[int]
    name: str
    etag: str
    def __init__(self, name: _Optional[str] = ..., etag: _Optional[str] = ...) -> None: ...

class DeleteCredentialResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class VerifyClientSecretRequest(_message.Message):
    __slots__ = ("client_id", "client_secret", "authorization", "api_set", "api_method")
    CLIENT_ID_FIELD_NUMBER: _ClassVar[int]
    CLIENT_SECRET_FIELD_NUMBER: _ClassVar[int]
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    API_SET_FIELD_NUMBER: _ClassVar[int]
    API_METHOD_FIELD_NUMBER: _ClassVar[int]
    client_id: str
    client_secret: str
    authorization: str
    api_set: str
    api_method: str
    def __init__(self, client_id: _Optional[str] = ..., client_secret: _Optional[str] = ..., authorization: _Optional[str] = ..., api_set: _Optional[str] = ..., api_method: _Optional[str] = ...) -> None: ...

class VerifyClientSecretResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _decision_pb2.Decision
    def __init__(self, decision: _Optional[_Union[_decision_pb2.Decision, _Mapping]] = ...) -> None: ...

class VerifyHmacSignatureRequest(_message.Message):
    __slots__ = ("authorization", "http_method", "path", "query", "body_sha256", "api_set", "api_method")
    AUTHORIZATION_FIELD_NUMBER: _ClassVar[int]
    HTTP_METHOD_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    BODY_SHA256_FIELD_NUMBER: _ClassVar[int]
    API_SET_FIELD_NUMBER: _ClassVar[int]
    API_METHOD_FIELD_NUMBER: _ClassVar[int]
    authorization: str
    http_method: str
    path: str
    query: str
    body_sha256: str
    api_set: str
    api_method: str
    def __init__(self, authorization: _Optional[str] = ..., http_method: _Optional[str] = ..., path: _Optional[str] = ..., query: _Optional[str] = ..., body_sha256: _Optional[str] = ..., api_set: _Optional[str] = ..., api_method: _Optional[str] = ...) -> None: ...

class VerifyHmacSignatureResponse(_message.Message):
    __slots__ = ("decision",)
    DECISION_FIELD_NUMBER: _ClassVar[int]
    decision: _decision_pb2.Decision
    def __init__(self, decision: _Optional[_Union[_decision_pb2.Decision, _Mapping]] = ...) -> None: ...

class ReportLeakedSecretsRequest(_message.Message):
    __slots__ = ("secrets",)
    SECRETS_FIELD_NUMBER: _ClassVar[int]
    secrets: _containers.RepeatedCompositeFieldContainer[LeakedSecret]
    def __init__(self, secrets: _Optional[_Iterable[_Union[LeakedSecret, _Mapping]]] = ...) -> None: ...

class LeakedSecret(_message.Message):
    __slots__ = ("secret", "location")
    SECRET_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    secret: str
    location: str
    def __init__(self, secret: _Optional[str] = ..., location: _Optional[str] = ...) -> None: ...

class ReportLeakedSecretsResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[LeakReport]
    def __init__(self, results: _Optional[_Iterable[_Union[LeakReport, _Mapping]]] = ...) -> None: ...

class LeakReport(_message.Message):
    __slots__ = ("outcome", "display_prefix", "name", "retry_after", "was_valid")
    class Outcome(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
        __slots__ = ()
        OUTCOME_UNSPECIFIED: _ClassVar[LeakReport.Outcome]
        OUTCOME_NOT_KEYWARD: _ClassVar[LeakReport.Outcome]
        OUTCOME_UNKNOWN: _ClassVar[LeakReport.Outcome]
        OUTCOME_REVOKED: _ClassVar[LeakReport.Outcome]
        OUTCOME_ALREADY_REVOKED: _ClassVar[LeakReport.Outcome]
        OUTCOME_RETRY_LATER: _ClassVar[LeakReport.Outcome]
    OUTCOME_UNSPECIFIED: LeakReport.Outcome
    OUTCOME_NOT_KEYWARD: LeakReport.Outcome
    OUTCOME_UNKNOWN: LeakReport.Outcome
    OUTCOME_REVOKED: LeakReport.Outcome
    OUTCOME_ALREADY_REVOKED: LeakReport.Outcome
    OUTCOME_RETRY_LATER: LeakReport.Outcome
    OUTCOME_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_PREFIX_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    RETRY_AFTER_FIELD_NUMBER: _ClassVar[int]
    WAS_VALID_FIELD_NUMBER: _ClassVar[int]
    outcome: LeakReport.Outcome
    display_prefix: str
    name: str
    retry_after: _duration_pb2.Duration
    was_valid: bool
    def __init__(self, outcome: _Optional[_Union[LeakReport.Outcome, str]] = ..., display_prefix: _Optional[str] = ..., name: _Optional[str] = ..., retry_after: _Optional[_Union[datetime.timedelta, _duration_pb2.Duration, _Mapping]] = ..., was_valid: _Optional[bool] = ...) -> None: ...
