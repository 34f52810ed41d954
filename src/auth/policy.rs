//! The authorization table: for every Keyward RPC, the built-in API set the
//! caller's credential must hold and the rule the caller must satisfy in the
//! account the request touches. This is the single place to read who may do
//! what; handlers never name a permission themselves.
//!
//! The built-in API sets of the catalog are derived from this table too, so
//! the catalog and the enforcement cannot disagree.

use std::collections::BTreeSet;

/// An authority a role grants to users.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Authority {
    /// Manage users and roles.
    ManageUsers,
    /// Manage API client credentials.
    ManageApiClients,
    /// Create API keys for oneself.
    ManageUserApiKey,
    /// Read the audit log.
    ViewAuditLog,
}

impl Authority {
    /// Every authority; the built-in administrator role holds them all.
    pub const ALL: [Authority; 4] = [
        Authority::ManageUsers,
        Authority::ManageApiClients,
        Authority::ManageUserApiKey,
        Authority::ViewAuditLog,
    ];

    /// The stored and displayed name, for example `MANAGE_USERS`.
    pub fn as_str(self) -> &'static str {
        match self {
            Authority::ManageUsers => "MANAGE_USERS",
            Authority::ManageApiClients => "MANAGE_API_CLIENTS",
            Authority::ManageUserApiKey => "MANAGE_USER_API_KEY",
            Authority::ViewAuditLog => "VIEW_AUDIT_LOG",
        }
    }

    /// Parses a stored name; unknown names (from a newer version) are skipped
    /// by callers rather than trusted.
    pub fn from_stored(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|a| a.as_str() == name)
    }

    /// Parses a set of stored names, ignoring unknown ones.
    pub fn set_from_stored<'a>(names: impl IntoIterator<Item = &'a String>) -> BTreeSet<Self> {
        names
            .into_iter()
            .filter_map(|n| Self::from_stored(n))
            .collect()
    }
}

/// Keyward's own API sets, present in every installation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum BuiltinApiSet {
    /// `keyward.accounts`: accounts, users, roles, audit log.
    Accounts,
    /// `keyward.credentials`: managing API client credentials.
    Credentials,
    /// `keyward.api-keys`: managing API keys and reading the API-set catalog.
    ApiKeys,
    /// `keyward.verify`: the verification calls, and nothing else.
    Verify,
    /// `keyward.delegation`: acting for a signed-in user (`keyward-act-as`). Holds no RPC
    /// of its own: it is what a front end's credential needs beside the sets of the RPCs it
    /// calls for its users.
    Delegation,
    /// `keyward.leak-reports`: reporting leaked secrets, for a scanner of the operator
    /// account, and nothing else.
    LeakReports,
}

impl BuiltinApiSet {
    /// Every built-in API set.
    pub const ALL: [BuiltinApiSet; 6] = [
        BuiltinApiSet::Accounts,
        BuiltinApiSet::Credentials,
        BuiltinApiSet::ApiKeys,
        BuiltinApiSet::Verify,
        BuiltinApiSet::Delegation,
        BuiltinApiSet::LeakReports,
    ];

    /// The API set's ID, for example `keyward.verify`.
    pub fn id(self) -> &'static str {
        match self {
            BuiltinApiSet::Accounts => "keyward.accounts",
            BuiltinApiSet::Credentials => "keyward.credentials",
            BuiltinApiSet::ApiKeys => "keyward.api-keys",
            BuiltinApiSet::Verify => "keyward.verify",
            BuiltinApiSet::Delegation => "keyward.delegation",
            BuiltinApiSet::LeakReports => "keyward.leak-reports",
        }
    }

    /// A name people recognise.
    pub fn display_name(self) -> &'static str {
        match self {
            BuiltinApiSet::Accounts => "Keyward accounts",
            BuiltinApiSet::Credentials => "Keyward API client credentials",
            BuiltinApiSet::ApiKeys => "Keyward API keys",
            BuiltinApiSet::Verify => "Keyward verification",
            BuiltinApiSet::Delegation => "Keyward delegation",
            BuiltinApiSet::LeakReports => "Keyward leak reports",
        }
    }

    /// What the set covers.
    pub fn description(self) -> &'static str {
        match self {
            BuiltinApiSet::Accounts => "Accounts, users, roles and the audit log.",
            BuiltinApiSet::Credentials => "Creating and managing API client credentials.",
            BuiltinApiSet::ApiKeys => {
                "Creating and managing API keys; reading the API-set catalog."
            }
            BuiltinApiSet::Verify => {
                "Verifying API keys, client secrets and HMAC signatures, and nothing else."
            }
            BuiltinApiSet::LeakReports => {
                "Reporting leaked secrets: a real, live one is revoked (or its credential \
                 disabled and marked compromised) at once. For a secret scanner of the operator \
                 account, and nothing else."
            }
            BuiltinApiSet::Delegation => {
                "Acting for a front end's signed-in users: a call carrying the \
                 `keyward-act-as: accounts/{account}/users/{user}` metadata entry runs as that \
                 user, within the calling credential's other API sets."
            }
        }
    }

    /// The RPCs of the set, from the authorization table.
    pub fn methods(self) -> Vec<&'static str> {
        POLICIES
            .iter()
            .filter(|p| p.api_set == self)
            .map(|p| p.method)
            .collect()
    }
}

/// What the caller must be, beyond holding the RPC's API set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rule {
    /// An administrator of the operator account.
    Operator,
    /// Anyone authenticated; what they see is limited to what they may see.
    Authenticated,
    /// A member (user or client credential) of the account the request
    /// touches, or an operator.
    Member,
    /// Any member (user or client credential) of the operator account: a secret scanner
    /// the operators run.
    OperatorMember,
    /// A user of the account the request touches holding the authority
    /// (administrators hold every authority).
    Authority(Authority),
    /// An administrator (holder of the built-in administrator role) of the
    /// account the request touches, or an operator.
    Administrator,
    /// The user the request names is the caller, holding the authority.
    /// Nobody, administrators included, acts as someone else.
    OwnUser(Authority),
    /// As [`Rule::OwnUser`], or an administrator of the user's account (who
    /// may read and revoke, never create, other users' keys).
    OwnUserOrAdministrator(Authority),
    /// A user's one-time enrollment token, presented as the bearer credential, whose user
    /// holds the authority. The only rule an enrollment token satisfies, and no other
    /// credential satisfies it; the auth layer lets a token through to these rows only, and
    /// does not ask it for the row's API set (a token holds none: it offers API sets to the
    /// key it becomes).
    Enrollee(Authority),
}

/// One row of the table.
#[derive(Debug)]
pub struct RpcPolicy {
    /// Fully-qualified method, `/keyward.v1.Service/Method`.
    pub method: &'static str,
    /// The API set the caller's credential must hold.
    pub api_set: BuiltinApiSet,
    /// What the caller must be.
    pub rule: Rule,
}

macro_rules! policies {
    ($($service:literal / $method:literal => $set:ident, $rule:expr;)*) => {
        /// Every Keyward RPC with its API set and rule.
        pub static POLICIES: &[RpcPolicy] = &[
            $(RpcPolicy {
                method: concat!("/keyward.v1.", $service, "/", $method),
                api_set: BuiltinApiSet::$set,
                rule: $rule,
            },)*
        ];
    };
}

use Authority::{ManageApiClients, ManageUserApiKey, ManageUsers, ViewAuditLog};
use Rule::{Administrator, Authenticated, Member, Operator, OwnUser, OwnUserOrAdministrator};

policies! {
    "AccountService" / "CreateAccount" => Accounts, Operator;
    "AccountService" / "GetAccount" => Accounts, Member;
    "AccountService" / "ListAccounts" => Accounts, Authenticated;
    "AccountService" / "UpdateAccount" => Accounts, Administrator;
    "AccountService" / "VerifyAccount" => Accounts, Operator;
    "AccountService" / "CreateUser" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "GetUser" => Accounts, Member;
    "AccountService" / "ListUsers" => Accounts, Member;
    "AccountService" / "UpdateUser" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "DisableUser" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "EnableUser" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "DeleteUser" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "CreateRole" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "GetRole" => Accounts, Member;
    "AccountService" / "ListRoles" => Accounts, Member;
    "AccountService" / "UpdateRole" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "DeleteRole" => Accounts, Rule::Authority(ManageUsers);
    "AccountService" / "ListAuditEvents" => Accounts, Rule::Authority(ViewAuditLog);
    "AccountService" / "ExportAuditEvents" => Accounts, Rule::Authority(ViewAuditLog);

    "CredentialService" / "CreateCredential" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "GetCredential" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "ListCredentials" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "UpdateCredential" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "EnableCredential" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "DisableCredential" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "RenewCredentialSecret" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "DeleteCredential" => Credentials, Rule::Authority(ManageApiClients);
    "CredentialService" / "VerifyClientSecret" => Verify, Authenticated;
    "CredentialService" / "VerifyHmacSignature" => Verify, Authenticated;
    "CredentialService" / "ReportLeakedSecrets" => LeakReports, Rule::OperatorMember;

    "ApiKeyService" / "CreateApiKey" => ApiKeys, OwnUser(ManageUserApiKey);
    "ApiKeyService" / "GetApiKey" => ApiKeys, OwnUserOrAdministrator(ManageUserApiKey);
    "ApiKeyService" / "ListApiKeys" => ApiKeys, OwnUserOrAdministrator(ManageUserApiKey);
    "ApiKeyService" / "UpdateApiKey" => ApiKeys, OwnUser(ManageUserApiKey);
    "ApiKeyService" / "RevokeApiKey" => ApiKeys, OwnUserOrAdministrator(ManageUserApiKey);
    "ApiKeyService" / "DeleteApiKey" => ApiKeys, OwnUser(ManageUserApiKey);
    "ApiKeyService" / "VerifyApiKey" => Verify, Authenticated;
    "ApiKeyService" / "CreateEnrollmentToken" => ApiKeys, Rule::Authority(ManageUsers);
    "ApiKeyService" / "GetEnrollmentToken" => ApiKeys, Rule::Authority(ManageUsers);
    "ApiKeyService" / "ListEnrollmentTokens" => ApiKeys, Rule::Authority(ManageUsers);
    "ApiKeyService" / "RevokeEnrollmentToken" => ApiKeys, Rule::Authority(ManageUsers);
    "ApiKeyService" / "RedeemEnrollmentToken" => ApiKeys, Rule::Enrollee(ManageUserApiKey);
    "ApiKeyService" / "ListApiSets" => ApiKeys, Authenticated;
    "ApiKeyService" / "GetApiSet" => ApiKeys, Authenticated;
    "ApiKeyService" / "CreateApiSet" => ApiKeys, Operator;
    "ApiKeyService" / "UpdateApiSet" => ApiKeys, Operator;
    "ApiKeyService" / "DeleteApiSet" => ApiKeys, Operator;
}

/// A request field that needs more than its RPC's rule to be set: the rule the caller must
/// satisfy as well, in the account the request touches.
#[derive(Debug)]
pub struct FieldPolicy {
    /// Fully-qualified method, `/keyward.v1.Service/Method`.
    pub method: &'static str,
    /// The field, as an update-mask path.
    pub field: &'static str,
    /// What the caller must be to set it.
    pub rule: Rule,
}

/// Every field with a rule of its own.
pub static FIELD_POLICIES: &[FieldPolicy] = &[
    // Administrators rename their own account; what it may use is the operators' call.
    FieldPolicy {
        method: "/keyward.v1.AccountService/UpdateAccount",
        field: "entitled_api_sets",
        rule: Operator,
    },
    // Anyone reads the catalog; what an account may use is its members' business.
    FieldPolicy {
        method: "/keyward.v1.ApiKeyService/ListApiSets",
        field: "available_in",
        rule: Member,
    },
];

/// The table row of a request path, if it is a Keyward RPC.
pub fn policy_for(path: &str) -> Option<&'static RpcPolicy> {
    static BY_METHOD: std::sync::LazyLock<
        std::collections::HashMap<&'static str, &'static RpcPolicy>,
    > = std::sync::LazyLock::new(|| POLICIES.iter().map(|p| (p.method, p)).collect());
    BY_METHOD.get(path).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_rule_names_an_rpc_of_the_table_and_is_stricter_than_it() {
        for field in FIELD_POLICIES {
            let rpc = policy_for(field.method).expect("an RPC of the table");
            assert_ne!(rpc.rule, field.rule, "{}: {}", field.method, field.field);
        }
    }

    #[test]
    fn the_verify_set_holds_only_verification_calls() {
        for method in BuiltinApiSet::Verify.methods() {
            assert!(method.contains("/Verify"), "{method}");
        }
        assert_eq!(BuiltinApiSet::Verify.methods().len(), 3);
    }

    #[test]
    fn authorities_round_trip_through_their_stored_names() {
        for authority in Authority::ALL {
            assert_eq!(Authority::from_stored(authority.as_str()), Some(authority));
        }
        assert_eq!(Authority::from_stored("MANAGE_EVERYTHING"), None);
    }
}
