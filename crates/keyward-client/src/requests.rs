//! The requests of the high-level API, one builder per RPC that takes more than a name.
//!
//! A builder's `new` takes what names the new resource (its parent and ID); setters fill
//! the rest, and `into_request` hands over the raw request for fields a builder does not
//! cover. The creates and the renewal that accept a `request_id` get one generated when
//! the builder is made (a random UUID from the operating system's CSPRNG), so that the
//! client's own retries — and a caller's, with a clone of the builder — return the first
//! result instead of creating twice; `.request_id(..)` sets one of the caller's choosing.
//!
//! State changes and deletes take a [`Target`] (a name, and optionally the etag it must
//! still have): a plain name converts into one. The three verification calls share one
//! [`Scope`] question.
//!
//! A list RPC takes its `List…` builder: `new` takes the parent whose items it lists (a
//! plain parent name converts into one; [`ListAccounts`] and [`ListApiSets`] have none:
//! `all()`), `page_size` and `page_token` page through it, and typed setters filter it
//! where the RPC can ([`ListCredentials::state`], [`ListCredentials::scheme`],
//! [`ListApiKeys::state`], [`ListApiSets::available_in`]).
//!
//! ```
//! use keyward_client::proto::credential::State;
//! use keyward_client::{ListApiSets, ListCredentials, ListUsers, NewUser, Scope, Target};
//!
//! let request = NewUser::new("accounts/acme", "kai")
//!     .display_name("Kai")
//!     .email("kai@acme.example")
//!     .roles(["accounts/acme/roles/auditor"])
//!     .into_request();
//! assert_eq!(request.request_id.len(), 36);
//!
//! let conditional = Target::new("accounts/acme/users/kai").etag("\"2\"");
//! let unconditional = Target::from("accounts/acme/users/kai");
//! assert_ne!(conditional, unconditional);
//!
//! let scope = Scope::any()
//!     .api_set("apiSets/billing")
//!     .api_method("/billing.v1.Invoices/List");
//! # let _ = scope;
//!
//! let second_page = ListUsers::new("accounts/acme").page_size(2).page_token("Mg");
//! assert_eq!(second_page.into_request().page_token, "Mg");
//! let disabled = ListCredentials::from("accounts/acme").state(State::Disabled);
//! assert_eq!(disabled.into_request().state(), State::Disabled);
//! let offered = ListApiSets::all().available_in("accounts/-").into_request();
//! assert_eq!(offered.available_in, "accounts/-");
//! ```

use std::time::Duration;

use crate::proto as pb;

/// A fresh request id: a version-4 UUID from the operating system's CSPRNG. Empty (no
/// idempotency, as without an id) in the unlikely case that the OS has no randomness.
fn new_request_id() -> String {
    let Ok(mut bytes) = keyward_core::key::random_bytes::<16>() else {
        return String::new();
    };
    bytes[6] = (bytes[6] & 0x0f) | 0x40;
    bytes[8] = (bytes[8] & 0x3f) | 0x80;
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &hex[..8],
        &hex[8..12],
        &hex[12..16],
        &hex[16..20],
        &hex[20..]
    )
}

pub(crate) fn duration(d: Duration) -> prost_types::Duration {
    prost_types::Duration {
        seconds: i64::try_from(d.as_secs()).unwrap_or(i64::MAX),
        nanos: i32::try_from(d.subsec_nanos()).unwrap_or(0),
    }
}

fn strings<I, S>(items: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    items.into_iter().map(Into::into).collect()
}

/// Declares a builder around its raw request, with `into_request`; `request_id` adds the
/// setter that overrides the generated id.
macro_rules! builder {
    ($(#[$doc:meta])* $name:ident($request:ty)) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[must_use]
        pub struct $name {
            request: $request,
        }

        impl $name {
            /// The raw request, for fields this builder does not cover.
            pub fn into_request(self) -> $request {
                self.request
            }
        }
    };
    ($(#[$doc:meta])* $name:ident($request:ty), request_id) => {
        builder!($(#[$doc])* $name($request));

        impl $name {
            /// Replaces the generated request id: a retry with the same id returns the
            /// first result and never creates twice (nor mints a second secret).
            pub fn request_id(mut self, request_id: impl Into<String>) -> Self {
                self.request.request_id = request_id.into();
                self
            }
        }
    };
}

/// The setters of a builder whose request holds the new resource in `request.$inner`:
/// string fields, then (after `;`) repeated string fields, each filling one field.
macro_rules! setters {
    (
        $builder:ident . $inner:ident: $message:ty {
            $($(#[$doc:meta])* $field:ident),* ;
            $($(#[$list_doc:meta])* $list:ident),* $(,)?
        }
    ) => {
        impl $builder {
            fn $inner(&mut self) -> &mut $message {
                self.request.$inner.get_or_insert_with(Default::default)
            }

            $(
                $(#[$doc])*
                pub fn $field(mut self, $field: impl Into<String>) -> Self {
                    self.$inner().$field = $field.into();
                    self
                }
            )*

            $(
                $(#[$list_doc])*
                pub fn $list<I, S>(mut self, $list: I) -> Self
                where
                    I: IntoIterator<Item = S>,
                    S: Into<String>,
                {
                    self.$inner().$list = strings($list);
                    self
                }
            )*
        }
    };
}

/// `From` a resource name (`&str`, `String`, `&String`) for a type whose `new` takes one.
macro_rules! from_name {
    ($name:ident) => {
        impl From<&str> for $name {
            fn from(name: &str) -> Self {
                Self::new(name)
            }
        }

        impl From<String> for $name {
            fn from(name: String) -> Self {
                Self::new(name)
            }
        }

        impl From<&String> for $name {
            fn from(name: &String) -> Self {
                Self::new(name.as_str())
            }
        }
    };
}

builder!(
    /// A `CreateAccount` request (operators only): the account, its first administrator,
    /// the platform API sets it is entitled to. Pass it to
    /// [`Client::create_account`](crate::Client::create_account).
    NewAccount(pb::CreateAccountRequest),
    request_id
);

impl NewAccount {
    /// The account `account_id`, named `accounts/{account_id}`.
    pub fn new(account_id: impl Into<String>) -> Self {
        Self {
            request: pb::CreateAccountRequest {
                account_id: account_id.into(),
                account: Some(pb::Account::default()),
                administrator: Some(pb::User::default()),
                request_id: new_request_id(),
            },
        }
    }

    /// Its first administrator's display name and email; required.
    pub fn administrator(
        mut self,
        display_name: impl Into<String>,
        email: impl Into<String>,
    ) -> Self {
        let admin = self
            .request
            .administrator
            .get_or_insert_with(Default::default);
        admin.display_name = display_name.into();
        admin.email = email.into();
        self
    }
}

setters!(NewAccount.account: pb::Account {
    /// Its display name; required.
    display_name;
    /// The platform API sets (`apiSets/{id}`) its keys and credentials may hold.
    entitled_api_sets,
});

builder!(
    /// A `CreateUser` request; pass it to [`Client::create_user`](crate::Client::create_user).
    NewUser(pb::CreateUserRequest),
    request_id
);

impl NewUser {
    /// The user `user_id` in `parent` (`accounts/{account}`).
    pub fn new(parent: impl Into<String>, user_id: impl Into<String>) -> Self {
        Self {
            request: pb::CreateUserRequest {
                parent: parent.into(),
                user_id: user_id.into(),
                user: Some(pb::User::default()),
                request_id: new_request_id(),
            },
        }
    }
}

setters!(NewUser.user: pb::User {
    /// Their display name; required.
    display_name,
    /// Their email; required.
    email;
    /// The roles they hold (`accounts/{account}/roles/{role}`).
    roles,
});

builder!(
    /// A `CreateRole` request; pass it to [`Client::create_role`](crate::Client::create_role).
    NewRole(pb::CreateRoleRequest)
);

impl NewRole {
    /// The role `role_id` in `parent` (`accounts/{account}`).
    pub fn new(parent: impl Into<String>, role_id: impl Into<String>) -> Self {
        Self {
            request: pb::CreateRoleRequest {
                parent: parent.into(),
                role_id: role_id.into(),
                role: Some(pb::Role::default()),
            },
        }
    }

    /// The authorities it grants.
    pub fn authorities(mut self, authorities: impl IntoIterator<Item = pb::Authority>) -> Self {
        self.role().authorities = authorities.into_iter().map(|a| a as i32).collect();
        self
    }
}

setters!(NewRole.role: pb::Role {
    /// Its display name; required.
    display_name,
    /// A description.
    description;
});

builder!(
    /// A `CreateApiSet` request (operators only); pass it to
    /// [`Client::create_api_set`](crate::Client::create_api_set).
    NewApiSet(pb::CreateApiSetRequest)
);

impl NewApiSet {
    /// The platform API set `api_set_id`, named `apiSets/{api_set_id}`.
    pub fn new(api_set_id: impl Into<String>) -> Self {
        Self {
            request: pb::CreateApiSetRequest {
                api_set_id: api_set_id.into(),
                api_set: Some(pb::ApiSet::default()),
            },
        }
    }
}

setters!(NewApiSet.api_set: pb::ApiSet {
    /// Its display name; required.
    display_name,
    /// A description.
    description;
    /// The methods it groups (`/package.Service/Method`).
    methods,
});

builder!(
    /// A `CreateCredential` request; pass it to
    /// [`Client::create_credential`](crate::Client::create_credential).
    NewCredential(pb::CreateCredentialRequest),
    request_id
);

impl NewCredential {
    /// A credential in `parent` (`accounts/{account}`) whose Client ID is the account's
    /// prefix plus `identifier`. The server also requires a display name, an application,
    /// a contact email (one credential per contact email in an account) and at least one
    /// API set. Scheme Basic unless [`NewCredential::scheme`] says otherwise.
    pub fn new(parent: impl Into<String>, identifier: impl Into<String>) -> Self {
        Self {
            request: pb::CreateCredentialRequest {
                parent: parent.into(),
                identifier: identifier.into(),
                credential: Some(pb::Credential {
                    scheme: pb::credential::Scheme::Basic as i32,
                    ..Default::default()
                }),
                request_id: new_request_id(),
            },
        }
    }

    /// Basic or HMAC.
    pub fn scheme(mut self, scheme: pb::credential::Scheme) -> Self {
        self.credential().scheme = scheme as i32;
        self
    }
}

setters!(NewCredential.credential: pb::Credential {
    /// Its display name.
    display_name,
    /// The application it belongs to.
    application,
    /// Who to contact about it.
    contact_email,
    /// A description.
    description;
    /// The API sets it may use (`apiSets/{id}`).
    api_sets,
});

builder!(
    /// A `CreateApiKey` request for the caller (`users/me`) or another user; pass it to
    /// [`Client::create_api_key`](crate::Client::create_api_key) (or, for a first key, to
    /// [`Client::redeem_enrollment_token`](crate::Client::redeem_enrollment_token)).
    NewApiKey(pb::CreateApiKeyRequest),
    request_id
);

impl NewApiKey {
    /// A key for the caller, named `display_name`, holding `api_sets` (`apiSets/{id}`).
    pub fn new<I, S>(display_name: impl Into<String>, api_sets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            request: pb::CreateApiKeyRequest {
                parent: "users/me".into(),
                api_key: Some(pb::ApiKey {
                    display_name: display_name.into(),
                    api_sets: strings(api_sets),
                    ..Default::default()
                }),
                ttl: None,
                request_id: new_request_id(),
            },
        }
    }

    /// The user it is for (`accounts/{a}/users/{u}`), instead of the caller.
    pub fn parent(mut self, parent: impl Into<String>) -> Self {
        self.request.parent = parent.into();
        self
    }

    /// How long it lives.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.request.ttl = Some(duration(ttl));
        self
    }
}

setters!(NewApiKey.api_key: pb::ApiKey {
    /// A description.
    description;
});

builder!(
    /// A `CreateEnrollmentToken` request; pass it to
    /// [`Client::create_enrollment_token`](crate::Client::create_enrollment_token).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use keyward_client::NewEnrollmentToken;
    ///
    /// let request = NewEnrollmentToken::new("accounts/acme/users/carol", ["apiSets/keyward.api-keys"])
    ///     .ttl(Duration::from_secs(3600))
    ///     .into_request();
    /// assert_eq!(request.ttl.map(|d| d.seconds), Some(3600));
    /// ```
    NewEnrollmentToken(pb::CreateEnrollmentTokenRequest),
    request_id
);

impl NewEnrollmentToken {
    /// A token for `user` (`accounts/{a}/users/{u}`), offering `api_sets` (`apiSets/{id}`)
    /// for the key it becomes; it lives 24 hours unless [`NewEnrollmentToken::ttl`] says
    /// otherwise.
    pub fn new<I, S>(user: impl Into<String>, api_sets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Self {
            request: pb::CreateEnrollmentTokenRequest {
                parent: user.into(),
                enrollment_token: Some(pb::EnrollmentToken {
                    api_sets: strings(api_sets),
                    ..Default::default()
                }),
                ttl: None,
                request_id: new_request_id(),
            },
        }
    }

    /// How long it may be redeemed, at most 7 days.
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.request.ttl = Some(duration(ttl));
        self
    }
}

builder!(
    /// A `RenewCredentialSecret` request; pass it to
    /// [`Client::renew_secret`](crate::Client::renew_secret).
    ///
    /// ```
    /// use std::time::Duration;
    ///
    /// use keyward_client::SecretRenewal;
    ///
    /// let request = SecretRenewal::new("accounts/acme/credentials/export")
    ///     .grace(Duration::from_secs(3600))
    ///     .request_id("7d0c-renew-export")
    ///     .etag("\"4\"")
    ///     .into_request();
    /// assert_eq!(request.grace_period.map(|d| d.seconds), Some(3600));
    /// assert_eq!(request.etag, "\"4\"");
    /// ```
    SecretRenewal(pb::RenewCredentialSecretRequest),
    request_id
);

impl SecretRenewal {
    /// A new secret for the credential `name` (`accounts/{account}/credentials/{credential}`);
    /// the previous secret stops verifying at once unless [`SecretRenewal::grace`] says
    /// otherwise.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            request: pb::RenewCredentialSecretRequest {
                name: name.into(),
                request_id: new_request_id(),
                ..Default::default()
            },
        }
    }

    /// How long the previous secret keeps verifying (at most 7 days).
    pub fn grace(mut self, grace: Duration) -> Self {
        self.request.grace_period = Some(duration(grace));
        self
    }

    /// Renews only if the credential still has this etag; otherwise the server answers
    /// ABORTED.
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.request.etag = etag.into();
        self
    }
}

/// The resource a state change or a delete acts on: its name and, optionally, the etag it
/// must still have (ABORTED otherwise). A name converts into an unconditional target.
#[derive(Debug, Clone, PartialEq, Eq)]
#[must_use]
pub struct Target {
    pub(crate) name: String,
    pub(crate) etag: String,
}

impl Target {
    /// The resource `name`, whatever its etag.
    pub fn new(name: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            etag: String::new(),
        }
    }

    /// Only if the resource still has this etag.
    pub fn etag(mut self, etag: impl Into<String>) -> Self {
        self.etag = etag.into();
        self
    }
}

from_name!(Target);

/// What `VerifyApiKey`, `VerifyClientSecret` and `VerifyHmacSignature` ask besides
/// validity: that the credential holds an API set, that one of its API sets contains a
/// method, both, or neither ([`Scope::any`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[must_use]
pub struct Scope {
    pub(crate) api_set: String,
    pub(crate) api_method: String,
}

impl Scope {
    /// Only that the credential is valid.
    pub fn any() -> Self {
        Self::default()
    }

    /// That it holds this API set (`apiSets/{id}`): refused with `API_SET_NOT_ALLOWED`
    /// otherwise.
    pub fn api_set(mut self, api_set: impl Into<String>) -> Self {
        self.api_set = api_set.into();
        self
    }

    /// That one of its API sets contains this method (`/package.Service/Method`).
    pub fn api_method(mut self, api_method: impl Into<String>) -> Self {
        self.api_method = api_method.into();
        self
    }
}

/// The paging setters of a list request builder.
macro_rules! paging {
    ($($name:ident),* $(,)?) => {$(
        impl $name {
            /// At most this many items a page (0, the default: the server's 50; at most
            /// 1000; negative is INVALID_ARGUMENT). Keep the same value from page to page.
            pub fn page_size(mut self, page_size: i32) -> Self {
                self.request.page_size = page_size;
                self
            }

            /// Start at this page: the `next_page_token` of the page before (empty, the
            /// default: the first page). A stream starts there too, and walks on to the end.
            pub fn page_token(mut self, page_token: impl Into<String>) -> Self {
                self.request.page_token = page_token.into();
                self
            }
        }
    )*};
}

/// Declares a list request builder whose `new` takes the parent whose items it lists.
macro_rules! listing {
    ($(#[$doc:meta])* $name:ident($request:ty), $(#[$new_doc:meta])*) => {
        builder!($(#[$doc])* $name($request));
        paging!($name);
        from_name!($name);

        impl $name {
            $(#[$new_doc])*
            pub fn new(parent: impl Into<String>) -> Self {
                let mut request = <$request>::default();
                request.parent = parent.into();
                Self { request }
            }
        }
    };
}

listing!(
    /// A `ListUsers` request; pass it, or just the account's name, to
    /// [`Client::list_users`](crate::Client::list_users) or `list_users_stream`.
    ListUsers(pb::ListUsersRequest),
    /// The users of `parent` (`accounts/{account}`).
);

listing!(
    /// A `ListRoles` request; pass it, or just the account's name, to
    /// [`Client::list_roles`](crate::Client::list_roles) or `list_roles_stream`.
    ListRoles(pb::ListRolesRequest),
    /// The roles of `parent` (`accounts/{account}`).
);

listing!(
    /// A `ListAuditEvents` request; pass it, or just the account's name, to
    /// [`Client::list_audit_events`](crate::Client::list_audit_events) or
    /// `list_audit_events_stream`.
    ListAuditEvents(pb::ListAuditEventsRequest),
    /// The audit events of `parent` (`accounts/{account}`), newest first.
);

listing!(
    /// A `ListEnrollmentTokens` request; pass it, or just the user's name, to
    /// [`Client::list_enrollment_tokens`](crate::Client::list_enrollment_tokens) or
    /// `list_enrollment_tokens_stream`.
    ListEnrollmentTokens(pb::ListEnrollmentTokensRequest),
    /// The enrollment tokens of `parent` (`accounts/{a}/users/{u}`, or
    /// `accounts/{a}/users/-` for every user of the account).
);

listing!(
    /// A `ListCredentials` request; pass it, or just the account's name, to
    /// [`Client::list_credentials`](crate::Client::list_credentials) or
    /// `list_credentials_stream`.
    ListCredentials(pb::ListCredentialsRequest),
    /// Every credential of `parent` (`accounts/{account}`), unless [`ListCredentials::state`]
    /// or [`ListCredentials::scheme`] narrow it.
);

impl ListCredentials {
    /// Only credentials in this state.
    pub fn state(mut self, state: pb::credential::State) -> Self {
        self.request.state = state as i32;
        self
    }

    /// Only credentials of this scheme.
    pub fn scheme(mut self, scheme: pb::credential::Scheme) -> Self {
        self.request.scheme = scheme as i32;
        self
    }
}

listing!(
    /// A `ListApiKeys` request; pass it, or just the user's name, to
    /// [`Client::list_api_keys`](crate::Client::list_api_keys) or `list_api_keys_stream`.
    ListApiKeys(pb::ListApiKeysRequest),
    /// Every API key of `parent` (`users/me`, `accounts/{a}/users/{u}`, or every user's
    /// with `accounts/{a}/users/-`), unless [`ListApiKeys::state`] narrows it.
);

impl ListApiKeys {
    /// Only keys in this state.
    pub fn state(mut self, state: pb::api_key::State) -> Self {
        self.request.state = state as i32;
        self
    }
}

builder!(
    /// A `ListAccounts` request; pass it to
    /// [`Client::list_accounts`](crate::Client::list_accounts) or `list_accounts_stream`.
    #[derive(Default)]
    ListAccounts(pb::ListAccountsRequest)
);

impl ListAccounts {
    /// Every account the caller may see (the default).
    pub fn all() -> Self {
        Self::default()
    }
}

builder!(
    /// A `ListApiSets` request; pass it to
    /// [`Client::list_api_sets`](crate::Client::list_api_sets) or `list_api_sets_stream`.
    #[derive(Default)]
    ListApiSets(pb::ListApiSetsRequest)
);

impl ListApiSets {
    /// Every API set of the catalog (the default), unless [`ListApiSets::available_in`]
    /// narrows it.
    pub fn all() -> Self {
        Self::default()
    }

    /// Only the API sets the caller may put on a new key or credential of `account`
    /// (`accounts/{a}`, or `accounts/-` for the caller's own; another account needs an
    /// operator): what a "Generate key" page offers. A page may then hold fewer than
    /// `page_size` sets.
    pub fn available_in(mut self, account: impl Into<String>) -> Self {
        self.request.available_in = account.into();
        self
    }
}

paging!(ListAccounts, ListApiSets);

/// A signed HTTP request as a gateway received it, for
/// [`Client::verify_hmac_signature`](crate::Client::verify_hmac_signature).
#[derive(Debug, Clone, Copy)]
pub struct HmacRequest<'a> {
    /// The `Authorization` header value.
    pub authorization: &'a str,
    /// The HTTP method, `POST`.
    pub http_method: &'a str,
    /// The path, `/v1/invoices`.
    pub path: &'a str,
    /// The raw query string without `?`.
    pub query: &'a str,
    /// The SHA-256 of the body, lowercase hex.
    pub body_sha256: &'a str,
}

#[cfg(test)]
mod tests {
    use super::{NewAccount, NewCredential, SecretRenewal};

    #[test]
    fn creates_and_renewals_carry_a_fresh_uuid_unless_given_one() {
        let first = NewAccount::new("acme").into_request().request_id;
        let second = NewAccount::new("acme").into_request().request_id;
        assert_ne!(first, second);
        assert_eq!(first.len(), 36);
        assert_eq!(first.as_bytes()[14], b'4', "{first}");
        assert!(
            first.chars().all(|c| c == '-' || c.is_ascii_hexdigit()),
            "{first}"
        );

        let builder = NewCredential::new("accounts/acme", "export");
        assert_eq!(
            builder.clone().into_request().request_id,
            builder.into_request().request_id,
            "a clone retries with the same id"
        );
        let chosen = SecretRenewal::new("accounts/acme/credentials/export").request_id("mine");
        assert_eq!(chosen.into_request().request_id, "mine");
    }
}
