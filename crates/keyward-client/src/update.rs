//! Update builders: one per updatable resource, for the `Update…` RPCs.
//!
//! Each builder starts from the resource's name; every setter stores the new
//! value *and* adds its field to the update mask, so the mask always names
//! exactly the fields that were set (calling a setter twice keeps one path,
//! and the last value). [`etag`](AccountUpdate::etag) makes the update
//! conditional: the server answers ABORTED ([`ClientError::code`]) when
//! the resource changed since that etag was read.
//!
//! A builder with no setter called sends an empty mask, which the server
//! refuses with INVALID_ARGUMENT on `update_mask`; [`is_empty`](AccountUpdate::is_empty)
//! tells beforehand.
//!
//! ```
//! use keyward_client::{CredentialUpdate, RoleUpdate};
//! use keyward_client::proto::Authority;
//!
//! let request = CredentialUpdate::new("accounts/acme/credentials/export")
//!     .display_name("Nightly export")
//!     .api_sets(["apiSets/billing"])
//!     .etag("\"3\"")
//!     .into_request();
//! let mask = request.update_mask.expect("a mask");
//! assert_eq!(mask.paths, ["display_name", "api_sets"]);
//! let credential = request.credential.expect("the credential");
//! assert_eq!(credential.etag, "\"3\"");
//!
//! let role = RoleUpdate::new("accounts/acme/roles/auditor")
//!     .authorities([Authority::ViewAuditLog, Authority::ManageUsers]);
//! assert_eq!(role.paths(), ["authorities"]);
//! assert!(RoleUpdate::new("accounts/acme/roles/auditor").is_empty());
//! ```
//!
//! [`ClientError::code`]: crate::ClientError::code

use crate::proto as pb;

/// The paths an update builder has set, each once, in the order first set.
#[derive(Debug, Clone, Default)]
struct Mask(Vec<String>);

impl Mask {
    fn touch(&mut self, path: &str) {
        if !self.0.iter().any(|p| p == path) {
            self.0.push(path.to_owned());
        }
    }

    fn into_field_mask(self) -> Option<prost_types::FieldMask> {
        Some(prost_types::FieldMask { paths: self.0 })
    }
}

/// Defines an update builder: its struct, `new`, `etag`, `paths`,
/// `is_empty` and `into_request`; the setters are written beside it.
macro_rules! update_builder {
    (
        $(#[$doc:meta])*
        $name:ident, $resource:ident, $field:ident, $request:ident, $what:literal
    ) => {
        $(#[$doc])*
        #[derive(Debug, Clone)]
        #[must_use]
        pub struct $name {
            $field: pb::$resource,
            mask: Mask,
        }

        impl $name {
            #[doc = concat!("An update of the ", $what, " named `name`; nothing changes until a setter is called.")]
            pub fn new(name: impl Into<String>) -> Self {
                Self {
                    $field: pb::$resource {
                        name: name.into(),
                        ..Default::default()
                    },
                    mask: Mask::default(),
                }
            }

            #[doc = concat!("Applies only if the ", $what, " still has this etag (as read from it); otherwise the server answers ABORTED.")]
            pub fn etag(mut self, etag: impl Into<String>) -> Self {
                self.$field.etag = etag.into();
                self
            }

            /// The fields set so far: the update mask that will be sent.
            pub fn paths(&self) -> &[String] {
                &self.mask.0
            }

            /// Whether no field has been set (the server would refuse the update).
            pub fn is_empty(&self) -> bool {
                self.mask.0.is_empty()
            }

            /// The raw request, its mask naming exactly the fields set.
            pub fn into_request(self) -> pb::$request {
                pb::$request {
                    $field: Some(self.$field),
                    update_mask: self.mask.into_field_mask(),
                }
            }
        }
    };
}

update_builder!(
    /// An `UpdateAccount` request; pass it to [`Client::update_account`](crate::Client::update_account).
    AccountUpdate, Account, account, UpdateAccountRequest, "account"
);

impl AccountUpdate {
    /// A new display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.account.display_name = display_name.into();
        self.mask.touch("display_name");
        self
    }

    /// The platform API sets the account is entitled to use from now on (`apiSets/{id}`
    /// names), replacing the old list; empty takes every entitlement away. Operators only.
    pub fn entitled_api_sets<I, S>(mut self, api_sets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.account.entitled_api_sets = api_sets.into_iter().map(Into::into).collect();
        self.mask.touch("entitled_api_sets");
        self
    }
}

update_builder!(
    /// An `UpdateUser` request; pass it to [`Client::update_user`](crate::Client::update_user).
    UserUpdate, User, user, UpdateUserRequest, "user"
);

impl UserUpdate {
    /// A new display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.user.display_name = display_name.into();
        self.mask.touch("display_name");
        self
    }

    /// A new email address.
    pub fn email(mut self, email: impl Into<String>) -> Self {
        self.user.email = email.into();
        self.mask.touch("email");
        self
    }

    /// The roles the user holds from now on (`accounts/{account}/roles/{role}`),
    /// replacing the current ones.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.user.roles = roles.into_iter().map(Into::into).collect();
        self.mask.touch("roles");
        self
    }
}

update_builder!(
    /// An `UpdateRole` request; pass it to [`Client::update_role`](crate::Client::update_role).
    RoleUpdate, Role, role, UpdateRoleRequest, "role"
);

impl RoleUpdate {
    /// A new display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.role.display_name = display_name.into();
        self.mask.touch("display_name");
        self
    }

    /// A new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.role.description = description.into();
        self.mask.touch("description");
        self
    }

    /// The authorities the role grants from now on, replacing the current ones.
    pub fn authorities<I>(mut self, authorities: I) -> Self
    where
        I: IntoIterator<Item = pb::Authority>,
    {
        self.role.authorities = authorities.into_iter().map(|a| a as i32).collect();
        self.mask.touch("authorities");
        self
    }
}

update_builder!(
    /// An `UpdateCredential` request; pass it to [`Client::update_credential`](crate::Client::update_credential).
    CredentialUpdate, Credential, credential, UpdateCredentialRequest, "credential"
);

impl CredentialUpdate {
    /// A new display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.credential.display_name = display_name.into();
        self.mask.touch("display_name");
        self
    }

    /// A new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.credential.description = description.into();
        self.mask.touch("description");
        self
    }

    /// A new application.
    pub fn application(mut self, application: impl Into<String>) -> Self {
        self.credential.application = application.into();
        self.mask.touch("application");
        self
    }

    /// The API sets it may use from now on (`apiSets/{id}`), replacing the
    /// current ones.
    pub fn api_sets<I, S>(mut self, api_sets: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.credential.api_sets = api_sets.into_iter().map(Into::into).collect();
        self.mask.touch("api_sets");
        self
    }
}

update_builder!(
    /// An `UpdateApiKey` request; pass it to [`Client::update_api_key`](crate::Client::update_api_key).
    /// Only the descriptive fields of a key change; its API sets and expiry are fixed.
    ApiKeyUpdate, ApiKey, api_key, UpdateApiKeyRequest, "API key"
);

impl ApiKeyUpdate {
    /// A new display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.api_key.display_name = display_name.into();
        self.mask.touch("display_name");
        self
    }

    /// A new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.api_key.description = description.into();
        self.mask.touch("description");
        self
    }
}

update_builder!(
    /// An `UpdateApiSet` request (operators only); pass it to
    /// [`Client::update_api_set`](crate::Client::update_api_set).
    ApiSetUpdate, ApiSet, api_set, UpdateApiSetRequest, "API set"
);

impl ApiSetUpdate {
    /// A new display name.
    pub fn display_name(mut self, display_name: impl Into<String>) -> Self {
        self.api_set.display_name = display_name.into();
        self.mask.touch("display_name");
        self
    }

    /// A new description.
    pub fn description(mut self, description: impl Into<String>) -> Self {
        self.api_set.description = description.into();
        self.mask.touch("description");
        self
    }

    /// The methods it groups from now on (`/package.Service/Method`),
    /// replacing the current ones.
    pub fn methods<I, S>(mut self, methods: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.api_set.methods = methods.into_iter().map(Into::into).collect();
        self.mask.touch("methods");
        self
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    #[test]
    fn the_mask_names_each_field_set_once_and_the_last_value_wins() {
        let request = UserUpdate::new("accounts/acme/users/bob")
            .email("bob@acme.example")
            .roles(["accounts/acme/roles/auditor"])
            .email("robert@acme.example")
            .into_request();
        assert_eq!(request.update_mask.unwrap().paths, ["email", "roles"]);
        let user = request.user.unwrap();
        assert_eq!(user.name, "accounts/acme/users/bob");
        assert_eq!(user.email, "robert@acme.example");
        assert!(user.etag.is_empty(), "no etag unless asked");
    }

    #[test]
    fn an_untouched_builder_sends_an_empty_mask() {
        let update = ApiSetUpdate::new("apiSets/billing").etag("\"1\"");
        assert!(update.is_empty());
        let request = update.into_request();
        assert!(request.update_mask.unwrap().paths.is_empty());
        assert_eq!(request.api_set.unwrap().etag, "\"1\"");
    }

    #[test]
    fn each_builder_fills_its_own_resource() {
        let account = AccountUpdate::new("accounts/acme")
            .display_name("Acme Inc")
            .into_request();
        assert_eq!(account.account.unwrap().display_name, "Acme Inc");
        let key = ApiKeyUpdate::new("accounts/acme/users/bob/apiKeys/k")
            .description("ci")
            .display_name("CI")
            .into_request();
        assert_eq!(
            key.update_mask.unwrap().paths,
            ["description", "display_name"]
        );
        let role = RoleUpdate::new("accounts/acme/roles/r")
            .authorities([pb::Authority::ViewAuditLog])
            .into_request();
        assert_eq!(
            role.role.unwrap().authorities,
            [pb::Authority::ViewAuditLog as i32]
        );
        let credential = CredentialUpdate::new("accounts/acme/credentials/c")
            .application("billing")
            .description("")
            .into_request();
        assert_eq!(
            credential.update_mask.unwrap().paths,
            ["application", "description"],
            "clearing a field is setting it to empty"
        );
    }
}
