//! The authorization matrix: every RPC of the three services against every
//! kind of caller. `EXPECTED` below is the place to read who may do what; it
//! is written independently of the server's table, so the two check each
//! other.
//!
//! Each request touches the account `acme` (or, for API keys, the caller's
//! own user in it; `OTHER_USERS_KEYS` covers the keys of another user of
//! acme). "Allowed" means the call got past authentication and
//! authorization: OK, or an answer about the request itself (NOT_FOUND for
//! the deliberately missing targets of deletes, UNIMPLEMENTED for behaviour
//! not built yet; verification calls answer OK with a decision). Denials must
//! carry exactly the expected code.

use keyward_client::Client;
use keyward_client::proto as pb;
use keyward_core::key::{Key, KeyKind};
use prost_types::FieldMask;
use secrecy::ExposeSecret;
use tonic::Code;
use tonic_types::StatusExt;

use crate::accounts::create_account;
use crate::calls::{self, Request, all_methods};
use crate::helpers::{Backend, TestApp, spawn_app};

/// The kinds of caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Anonymous,
    MalformedKey,
    UnknownKey,
    RevokedKey,
    KeyWithoutTheApiSet,
    /// `kai` in acme: holds only MANAGE_USER_API_KEY.
    UserWithoutAuthority,
    /// `mia` in acme: every authority through an ordinary role, not administrator.
    UserWithAuthority,
    /// `alice`, administrator of acme.
    AccountAdministrator,
    /// `gina`, administrator of globex.
    OtherAccountAdministrator,
    /// The bootstrap operator key.
    Operator,
    /// acme's front end (a key holding `keyward.delegation`) acting for mia.
    ActingForOwnAccountUser,
    /// The operator's key acting for mia, a user of another account.
    OperatorActingForUser,
    /// acme's front end acting for gina, a user of globex.
    ActingForOtherAccountUser,
    /// A key of alice without `keyward.delegation` acting for mia.
    ActingWithoutTheDelegationSet,
    /// acme's front end acting for dan, a disabled user of acme.
    ActingForDisabledUser,
    /// acme's front end acting for a user acme does not have.
    ActingForNonexistentUser,
    /// An unredeemed enrollment token of mia's (offering `keyward.verify`): good for
    /// redeeming itself, once, and nothing else.
    EnrollmentToken,
}

const KINDS: [Kind; 17] = [
    Kind::Anonymous,
    Kind::MalformedKey,
    Kind::UnknownKey,
    Kind::RevokedKey,
    Kind::KeyWithoutTheApiSet,
    Kind::UserWithoutAuthority,
    Kind::UserWithAuthority,
    Kind::AccountAdministrator,
    Kind::OtherAccountAdministrator,
    Kind::Operator,
    Kind::ActingForOwnAccountUser,
    Kind::OperatorActingForUser,
    Kind::ActingForOtherAccountUser,
    Kind::ActingWithoutTheDelegationSet,
    Kind::ActingForDisabledUser,
    Kind::ActingForNonexistentUser,
    Kind::EnrollmentToken,
];

/// Who may call what, for requests touching acme. Letters: K = user without
/// the authority (kai), M = user with it (mia, also when a front end or the
/// operator acts for her with `keyward-act-as`), A = acme's administrator,
/// G = another account's administrator, O = operator, E = mia's enrollment
/// token (refused everywhere else as `ENROLLMENT_TOKEN_ONLY`). Everyone else
/// (anonymous, malformed, unknown, revoked, key without the API set, acting
/// without the delegation set, for another account's, a disabled or a
/// nonexistent user) is always refused.
const EXPECTED: &[(&str, &str)] = &[
    ("AccountService/CreateAccount", "O"),
    ("AccountService/GetAccount", "KMAO"),
    ("AccountService/ListAccounts", "KMAGO"),
    ("AccountService/UpdateAccount", "AO"),
    ("AccountService/VerifyAccount", "O"),
    ("AccountService/CreateUser", "MA"),
    ("AccountService/GetUser", "KMAO"),
    ("AccountService/ListUsers", "KMAO"),
    ("AccountService/UpdateUser", "MA"),
    ("AccountService/DisableUser", "MA"),
    ("AccountService/EnableUser", "MA"),
    ("AccountService/DeleteUser", "MA"),
    ("AccountService/CreateRole", "MA"),
    ("AccountService/GetRole", "KMAO"),
    ("AccountService/ListRoles", "KMAO"),
    ("AccountService/UpdateRole", "MA"),
    ("AccountService/DeleteRole", "MA"),
    ("AccountService/ListAuditEvents", "MA"),
    ("AccountService/ExportAuditEvents", "MA"),
    ("CredentialService/CreateCredential", "MA"),
    ("CredentialService/GetCredential", "MA"),
    ("CredentialService/ListCredentials", "MA"),
    ("CredentialService/UpdateCredential", "MA"),
    ("CredentialService/EnableCredential", "MA"),
    ("CredentialService/DisableCredential", "MA"),
    ("CredentialService/RenewCredentialSecret", "MA"),
    ("CredentialService/DeleteCredential", "MA"),
    ("CredentialService/VerifyClientSecret", "KMAGO"),
    ("CredentialService/VerifyHmacSignature", "KMAGO"),
    ("CredentialService/ReportLeakedSecrets", "O"),
    ("ApiKeyService/CreateApiKey", "KMA"),
    ("ApiKeyService/GetApiKey", "KMA"),
    ("ApiKeyService/ListApiKeys", "KMA"),
    ("ApiKeyService/UpdateApiKey", "KMA"),
    ("ApiKeyService/RevokeApiKey", "KMA"),
    ("ApiKeyService/DeleteApiKey", "KMA"),
    ("ApiKeyService/VerifyApiKey", "KMAGO"),
    ("ApiKeyService/CreateEnrollmentToken", "MA"),
    ("ApiKeyService/GetEnrollmentToken", "MA"),
    ("ApiKeyService/ListEnrollmentTokens", "MA"),
    ("ApiKeyService/RevokeEnrollmentToken", "MA"),
    ("ApiKeyService/RedeemEnrollmentToken", "E"),
    ("ApiKeyService/ListApiSets", "KMAGO"),
    ("ApiKeyService/GetApiSet", "KMAGO"),
    ("ApiKeyService/CreateApiSet", "O"),
    ("ApiKeyService/UpdateApiSet", "O"),
    ("ApiKeyService/DeleteApiSet", "O"),
];

fn letter(kind: Kind) -> Option<char> {
    match kind {
        Kind::UserWithoutAuthority => Some('K'),
        Kind::UserWithAuthority | Kind::ActingForOwnAccountUser | Kind::OperatorActingForUser => {
            Some('M')
        }
        Kind::AccountAdministrator => Some('A'),
        Kind::OtherAccountAdministrator => Some('G'),
        Kind::Operator => Some('O'),
        Kind::EnrollmentToken => Some('E'),
        _ => None,
    }
}

/// Who may call the API-key RPCs on the keys of *another* user of acme
/// (bob), same letters: administrators read, list and revoke their users'
/// keys; nobody creates, edits or deletes someone else's.
const OTHER_USERS_KEYS: &[(&str, &str)] = &[
    ("ApiKeyService/CreateApiKey", ""),
    ("ApiKeyService/GetApiKey", "A"),
    ("ApiKeyService/ListApiKeys", "A"),
    ("ApiKeyService/ListApiKeys of every user", "A"),
    ("ApiKeyService/UpdateApiKey", ""),
    ("ApiKeyService/RevokeApiKey", "A"),
    ("ApiKeyService/DeleteApiKey", ""),
];

/// What a caller of `kind` must get from `rpc`: None when allowed.
fn expected_denial(rpc: &str, kind: Kind) -> Option<(Code, &'static str)> {
    expected_denial_in(EXPECTED, rpc, kind)
}

/// As [`expected_denial`], by the table `table`.
fn expected_denial_in(
    table: &[(&str, &str)],
    rpc: &str,
    kind: Kind,
) -> Option<(Code, &'static str)> {
    match kind {
        Kind::Anonymous | Kind::MalformedKey | Kind::UnknownKey | Kind::RevokedKey => {
            return Some((Code::Unauthenticated, "UNAUTHENTICATED"));
        }
        Kind::KeyWithoutTheApiSet | Kind::ActingWithoutTheDelegationSet => {
            return Some((Code::PermissionDenied, "API_SET_NOT_ALLOWED"));
        }
        // Permission before existence: one answer for all three.
        Kind::ActingForOtherAccountUser
        | Kind::ActingForDisabledUser
        | Kind::ActingForNonexistentUser => {
            return Some((Code::PermissionDenied, "PERMISSION_DENIED"));
        }
        _ => {}
    }
    let allowed = table
        .iter()
        .find(|(name, _)| *name == rpc)
        .unwrap_or_else(|| panic!("{rpc} is missing from its table"))
        .1;
    let letter = letter(kind).expect("a caller with rights");
    if allowed.contains(letter) {
        None
    } else if kind == Kind::EnrollmentToken {
        Some((Code::PermissionDenied, "ENROLLMENT_TOKEN_ONLY"))
    } else {
        Some((Code::PermissionDenied, "PERMISSION_DENIED"))
    }
}

struct Caller {
    kind: Kind,
    client: Client,
    /// The user a request for "my own" resources names.
    own_user: &'static str,
    /// A tag that keeps the resources each caller creates apart.
    tag: &'static str,
    /// For the key without the API set: a second narrow key, holding only
    /// `keyward.accounts`, used on the verification RPCs.
    verify_less: Option<Client>,
}

/// acme (verified) with alice, mia, kai and bob; globex with gina; an API
/// set `billing`; a role `auditors`. Returns one caller of each kind.
async fn world(app: &TestApp) -> Vec<Caller> {
    let alice_key = create_account(app, "acme", "alice").await;
    let gina_key = create_account(app, "globex", "gina").await;
    app.operator
        .accounts()
        .verify_account(pb::VerifyAccountRequest {
            name: "accounts/acme".into(),
            etag: String::new(),
        })
        .await
        .expect("verify acme");
    app.operator
        .api_keys()
        .create_api_set(pb::CreateApiSetRequest {
            api_set: Some(pb::ApiSet {
                display_name: "Billing".into(),
                methods: vec!["/billing.v1.Invoices/List".into()],
                ..Default::default()
            }),
            api_set_id: "billing".into(),
        })
        .await
        .expect("create api set");
    for account in ["acme", "globex"] {
        crate::accounts::entitle(app, account, &["billing"]).await;
    }
    let alice = app.client_with_key(&alice_key).await;
    let mut accounts = alice.accounts();
    for (role, authorities) in [
        ("key-holders", vec![pb::Authority::ManageUserApiKey]),
        (
            "managers",
            vec![
                pb::Authority::ManageUsers,
                pb::Authority::ManageApiClients,
                pb::Authority::ManageUserApiKey,
                pb::Authority::ViewAuditLog,
            ],
        ),
        ("auditors", vec![pb::Authority::ViewAuditLog]),
    ] {
        accounts
            .create_role(pb::CreateRoleRequest {
                parent: "accounts/acme".into(),
                role: Some(pb::Role {
                    display_name: role.into(),
                    authorities: authorities.into_iter().map(|a| a as i32).collect(),
                    ..Default::default()
                }),
                role_id: role.into(),
            })
            .await
            .expect("create role");
    }
    for (user, role) in [
        ("kai", "key-holders"),
        ("mia", "managers"),
        ("bob", "auditors"),
        ("dan", "managers"),
    ] {
        accounts
            .create_user(pb::CreateUserRequest {
                parent: "accounts/acme".into(),
                user: Some(pb::User {
                    display_name: user.into(),
                    email: format!("{user}@acme.example"),
                    roles: vec![format!("accounts/acme/roles/{role}")],
                    ..Default::default()
                }),
                user_id: user.into(),
                request_id: String::new(),
            })
            .await
            .expect("create user");
    }
    accounts
        .disable_user(pb::DisableUserRequest {
            name: "accounts/acme/users/dan".into(),
            etag: String::new(),
        })
        .await
        .expect("disable dan");
    let kai_key = app
        .enroll_builtin_key(&alice, "accounts/acme/users/kai")
        .await;
    let mia_key = app
        .enroll_builtin_key(&alice, "accounts/acme/users/mia")
        .await;

    let narrow = |sets: &[&str]| pb::CreateApiKeyRequest {
        parent: "users/me".into(),
        api_key: Some(pb::ApiKey {
            display_name: "narrow".into(),
            api_sets: sets.iter().map(|s| format!("apiSets/{s}")).collect(),
            ..Default::default()
        }),
        ttl: None,
        request_id: String::new(),
    };
    let verify_only = alice
        .api_keys()
        .create_api_key(narrow(&["keyward.verify"]))
        .await
        .expect("narrow key")
        .into_inner()
        .key;
    let accounts_only = alice
        .api_keys()
        .create_api_key(narrow(&["keyward.accounts"]))
        .await
        .expect("narrow key")
        .into_inner()
        .key;
    let revoked = alice
        .api_keys()
        .create_api_key(narrow(&["keyward.accounts"]))
        .await
        .expect("key")
        .into_inner();
    alice
        .api_keys()
        .revoke_api_key(pb::RevokeApiKeyRequest {
            name: revoked.api_key.expect("resource").name,
        })
        .await
        .expect("revoke");

    let builtin = [
        "keyward.accounts",
        "keyward.credentials",
        "keyward.api-keys",
        "keyward.verify",
        "keyward.leak-reports",
    ];
    let front_end = alice
        .api_keys()
        .create_api_key(narrow(&[&builtin[..], &["keyward.delegation"]].concat()))
        .await
        .expect("a front end's key")
        .into_inner()
        .key;
    let without_delegation = alice
        .api_keys()
        .create_api_key(narrow(&builtin))
        .await
        .expect("a key without delegation")
        .into_inner()
        .key;

    let enrollment = alice
        .create_enrollment_token(keyward_client::NewEnrollmentToken::new(
            "accounts/acme/users/mia",
            ["apiSets/keyward.verify"],
        ))
        .await
        .expect("a token for mia")
        .token
        .expose_secret()
        .to_owned();

    let unknown = Key::generate(KeyKind::ApiKey).expect("key");
    let keyed = |key: String| async move { app.client_with_key(&key).await };
    let front_end = keyed(front_end).await;
    let acting = |client: &Client, user: &str| client.acting_as(user).expect("a user name");
    vec![
        Caller {
            kind: Kind::Anonymous,
            client: app.client.clone(),
            own_user: "alice",
            tag: "anon",
            verify_less: None,
        },
        Caller {
            kind: Kind::MalformedKey,
            client: keyed("kw_ak_0123456789abcdef0123_notbase58!".into()).await,
            own_user: "alice",
            tag: "malformed",
            verify_less: None,
        },
        Caller {
            kind: Kind::UnknownKey,
            client: keyed(unknown.to_token().expose_secret().to_owned()).await,
            own_user: "alice",
            tag: "unknown",
            verify_less: None,
        },
        Caller {
            kind: Kind::RevokedKey,
            client: keyed(revoked.key).await,
            own_user: "alice",
            tag: "revoked",
            verify_less: None,
        },
        Caller {
            kind: Kind::KeyWithoutTheApiSet,
            client: keyed(verify_only).await,
            own_user: "alice",
            tag: "narrow",
            verify_less: Some(keyed(accounts_only).await),
        },
        Caller {
            kind: Kind::UserWithoutAuthority,
            client: keyed(kai_key).await,
            own_user: "kai",
            tag: "kai",
            verify_less: None,
        },
        Caller {
            kind: Kind::UserWithAuthority,
            client: keyed(mia_key).await,
            own_user: "mia",
            tag: "mia",
            verify_less: None,
        },
        Caller {
            kind: Kind::AccountAdministrator,
            client: alice.clone(),
            own_user: "alice",
            tag: "alice",
            verify_less: None,
        },
        Caller {
            kind: Kind::OtherAccountAdministrator,
            client: keyed(gina_key).await,
            own_user: "alice",
            tag: "gina",
            verify_less: None,
        },
        Caller {
            kind: Kind::Operator,
            client: app.operator.clone(),
            own_user: "alice",
            tag: "operator",
            verify_less: None,
        },
        Caller {
            kind: Kind::ActingForOwnAccountUser,
            client: acting(&front_end, "accounts/acme/users/mia"),
            own_user: "mia",
            tag: "as-mia",
            verify_less: None,
        },
        Caller {
            kind: Kind::OperatorActingForUser,
            client: acting(&app.operator, "accounts/acme/users/mia"),
            own_user: "mia",
            tag: "op-as-mia",
            verify_less: None,
        },
        Caller {
            kind: Kind::ActingForOtherAccountUser,
            client: acting(&front_end, "accounts/globex/users/gina"),
            own_user: "mia",
            tag: "as-gina",
            verify_less: None,
        },
        Caller {
            kind: Kind::ActingWithoutTheDelegationSet,
            client: acting(&keyed(without_delegation).await, "accounts/acme/users/mia"),
            own_user: "mia",
            tag: "undelegated",
            verify_less: None,
        },
        Caller {
            kind: Kind::ActingForDisabledUser,
            client: acting(&front_end, "accounts/acme/users/dan"),
            own_user: "dan",
            tag: "as-dan",
            verify_less: None,
        },
        Caller {
            kind: Kind::ActingForNonexistentUser,
            client: acting(&front_end, "accounts/acme/users/nobody"),
            own_user: "nobody",
            tag: "as-nobody",
            verify_less: None,
        },
        Caller {
            kind: Kind::EnrollmentToken,
            client: keyed(enrollment).await,
            own_user: "mia",
            tag: "enrolling",
            verify_less: None,
        },
    ]
}

/// A well-formed client secret nobody holds.
fn unknown_secret() -> String {
    let secret = Key::generate(KeyKind::ClientSecret).expect("secret");
    secret.to_token().expose_secret().to_owned()
}

/// A well-formed HMAC-signed request from a client ID nobody holds.
fn unknown_hmac_request() -> pb::VerifyHmacSignatureRequest {
    use keyward_core::signing;
    let secret = Key::generate(KeyKind::ClientSecret).expect("secret");
    let body = signing::body_sha256(b"");
    let request = signing::SignedRequest {
        method: "GET",
        path: "/v1/things",
        query: "",
        body_sha256: &body,
    };
    let now = chrono::Utc::now().timestamp();
    let nonce = signing::new_nonce().expect("nonce");
    let header = signing::sign(&secret, "acme-ghost", now, &nonce, &request).expect("sign");
    pb::VerifyHmacSignatureRequest {
        authorization: header.to_header_value(),
        http_method: "GET".into(),
        path: "/v1/things".into(),
        body_sha256: body,
        ..Default::default()
    }
}

/// A well-formed API key that no record holds.
fn unknown_key() -> String {
    Key::generate(KeyKind::ApiKey)
        .expect("key")
        .to_token()
        .expose_secret()
        .to_owned()
}

fn mask(path: &str) -> Option<FieldMask> {
    Some(FieldMask {
        paths: vec![path.to_owned()],
    })
}

/// A valid request for `rpc` touching acme, issued by `caller`.
async fn call(rpc: &str, caller: &Caller) -> Result<(), tonic::Status> {
    let client = match (
        &caller.verify_less,
        rpc.contains("/Verify") && !rpc.contains("VerifyAccount"),
    ) {
        (Some(other), true) => other,
        _ => &caller.client,
    };
    let answer = calls::call(client, rpc, Some(request(rpc, caller))).await?;
    if let Ok(answer) = answer.downcast::<pb::VerifyApiKeyResponse>() {
        let decision = answer.decision.expect("a decision");
        assert_eq!(
            decision.reason(),
            pb::decision::Reason::Invalid,
            "an unknown key"
        );
    }
    Ok(())
}

/// The request `call` sends for `rpc` on behalf of `caller`.
fn request(rpc: &str, caller: &Caller) -> Request {
    let tag = caller.tag;
    let own = format!("accounts/acme/users/{}", caller.own_user);
    let missing_key = format!("{own}/apiKeys/00000000000000000000");
    let missing_token = "accounts/acme/users/kai/enrollmentTokens/00000000000000000000";
    match rpc {
        "AccountService/CreateAccount" => Box::new(pb::CreateAccountRequest {
            account: Some(pb::Account {
                display_name: tag.into(),
                ..Default::default()
            }),
            account_id: format!("new-{tag}"),
            administrator: Some(pb::User {
                display_name: tag.into(),
                email: format!("{tag}@new.example"),
                ..Default::default()
            }),
            request_id: String::new(),
        }),
        "AccountService/GetAccount" => Box::new(pb::GetAccountRequest {
            name: "accounts/acme".into(),
        }),
        "AccountService/ListAccounts" => Box::new(pb::ListAccountsRequest::default()),
        "AccountService/UpdateAccount" => Box::new(pb::UpdateAccountRequest {
            account: Some(pb::Account {
                name: "accounts/acme".into(),
                display_name: "Acme".into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        }),
        "AccountService/VerifyAccount" => Box::new(pb::VerifyAccountRequest {
            name: "accounts/acme".into(),
            etag: String::new(),
        }),
        "AccountService/CreateUser" => Box::new(pb::CreateUserRequest {
            parent: "accounts/acme".into(),
            user: Some(pb::User {
                display_name: tag.into(),
                email: format!("{tag}@users.example"),
                ..Default::default()
            }),
            user_id: format!("user-{tag}"),
            request_id: String::new(),
        }),
        "AccountService/GetUser" => Box::new(pb::GetUserRequest {
            name: "accounts/acme/users/bob".into(),
        }),
        "AccountService/ListUsers" => Box::new(pb::ListUsersRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        }),
        "AccountService/UpdateUser" => Box::new(pb::UpdateUserRequest {
            user: Some(pb::User {
                name: "accounts/acme/users/bob".into(),
                display_name: "Bob".into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        }),
        "AccountService/DisableUser" => Box::new(pb::DisableUserRequest {
            name: "accounts/acme/users/ghost".into(),
            etag: String::new(),
        }),
        "AccountService/EnableUser" => Box::new(pb::EnableUserRequest {
            name: "accounts/acme/users/bob".into(),
            etag: String::new(),
        }),
        "AccountService/DeleteUser" => Box::new(pb::DeleteUserRequest {
            name: "accounts/acme/users/ghost".into(),
            etag: String::new(),
        }),
        "AccountService/CreateRole" => Box::new(pb::CreateRoleRequest {
            parent: "accounts/acme".into(),
            role: Some(pb::Role {
                display_name: tag.into(),
                ..Default::default()
            }),
            role_id: format!("role-{tag}"),
        }),
        "AccountService/GetRole" => Box::new(pb::GetRoleRequest {
            name: "accounts/acme/roles/auditors".into(),
        }),
        "AccountService/ListRoles" => Box::new(pb::ListRolesRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        }),
        "AccountService/UpdateRole" => Box::new(pb::UpdateRoleRequest {
            role: Some(pb::Role {
                name: "accounts/acme/roles/auditors".into(),
                display_name: "Auditors".into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        }),
        "AccountService/DeleteRole" => Box::new(pb::DeleteRoleRequest {
            name: "accounts/acme/roles/ghost".into(),
            etag: String::new(),
        }),
        "AccountService/ListAuditEvents" => Box::new(pb::ListAuditEventsRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        }),
        "AccountService/ExportAuditEvents" => Box::new(pb::ExportAuditEventsRequest {
            parent: "accounts/acme".into(),
        }),
        "CredentialService/CreateCredential" => Box::new(pb::CreateCredentialRequest {
            parent: "accounts/acme".into(),
            credential: Some(pb::Credential {
                display_name: tag.into(),
                contact_email: format!("{tag}@clients.example"),
                application: "matrix".into(),
                scheme: pb::credential::Scheme::Basic as i32,
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        "CredentialService/GetCredential" => Box::new(pb::GetCredentialRequest {
            name: "accounts/acme/credentials/ghost".into(),
        }),
        "CredentialService/ListCredentials" => Box::new(pb::ListCredentialsRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        }),
        "CredentialService/UpdateCredential" => Box::new(pb::UpdateCredentialRequest {
            credential: Some(pb::Credential {
                name: "accounts/acme/credentials/ghost".into(),
                display_name: "Ghost".into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        }),
        "CredentialService/EnableCredential" => Box::new(pb::EnableCredentialRequest {
            name: "accounts/acme/credentials/ghost".into(),
            etag: String::new(),
        }),
        "CredentialService/DisableCredential" => Box::new(pb::DisableCredentialRequest {
            name: "accounts/acme/credentials/ghost".into(),
            etag: String::new(),
        }),
        "CredentialService/RenewCredentialSecret" => Box::new(pb::RenewCredentialSecretRequest {
            name: "accounts/acme/credentials/ghost".into(),
            ..Default::default()
        }),
        "CredentialService/DeleteCredential" => Box::new(pb::DeleteCredentialRequest {
            name: "accounts/acme/credentials/ghost".into(),
            etag: String::new(),
        }),
        "CredentialService/VerifyClientSecret" => Box::new(pb::VerifyClientSecretRequest {
            client_id: "acme-ghost".into(),
            client_secret: unknown_secret(),
            ..Default::default()
        }),
        "CredentialService/VerifyHmacSignature" => Box::new(unknown_hmac_request()),
        "CredentialService/ReportLeakedSecrets" => Box::new(pb::ReportLeakedSecretsRequest {
            secrets: vec![pb::LeakedSecret {
                secret: "not a key".into(),
                location: tag.into(),
            }],
        }),
        "ApiKeyService/CreateApiKey" => Box::new(pb::CreateApiKeyRequest {
            parent: own.clone(),
            api_key: Some(pb::ApiKey {
                display_name: tag.into(),
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        }),
        "ApiKeyService/GetApiKey" => Box::new(pb::GetApiKeyRequest { name: missing_key }),
        "ApiKeyService/ListApiKeys" => Box::new(pb::ListApiKeysRequest {
            parent: own.clone(),
            ..Default::default()
        }),
        "ApiKeyService/UpdateApiKey" => Box::new(pb::UpdateApiKeyRequest {
            api_key: Some(pb::ApiKey {
                name: missing_key,
                display_name: "x".into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        }),
        "ApiKeyService/RevokeApiKey" => Box::new(pb::RevokeApiKeyRequest { name: missing_key }),
        "ApiKeyService/DeleteApiKey" => Box::new(pb::DeleteApiKeyRequest {
            name: missing_key,
            etag: String::new(),
        }),
        "ApiKeyService/VerifyApiKey" => Box::new(pb::VerifyApiKeyRequest {
            key: unknown_key(),
            api_set: "apiSets/billing".into(),
            api_method: String::new(),
        }),
        "ApiKeyService/CreateEnrollmentToken" => Box::new(pb::CreateEnrollmentTokenRequest {
            parent: "accounts/acme/users/kai".into(),
            enrollment_token: Some(pb::EnrollmentToken {
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            ..Default::default()
        }),
        "ApiKeyService/GetEnrollmentToken" => Box::new(pb::GetEnrollmentTokenRequest {
            name: missing_token.into(),
        }),
        "ApiKeyService/ListEnrollmentTokens" => Box::new(pb::ListEnrollmentTokensRequest {
            parent: "accounts/acme/users/-".into(),
            ..Default::default()
        }),
        "ApiKeyService/RevokeEnrollmentToken" => Box::new(pb::RevokeEnrollmentTokenRequest {
            name: missing_token.into(),
        }),
        "ApiKeyService/RedeemEnrollmentToken" => Box::new(pb::RedeemEnrollmentTokenRequest {
            api_key: Some(pb::ApiKey {
                display_name: tag.into(),
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            ttl: None,
        }),
        "ApiKeyService/ListApiSets" => Box::new(pb::ListApiSetsRequest::default()),
        "ApiKeyService/GetApiSet" => Box::new(pb::GetApiSetRequest {
            name: "apiSets/keyward.verify".into(),
        }),
        "ApiKeyService/CreateApiSet" => Box::new(pb::CreateApiSetRequest {
            api_set: Some(pb::ApiSet {
                display_name: tag.into(),
                ..Default::default()
            }),
            api_set_id: format!("set-{tag}"),
        }),
        "ApiKeyService/UpdateApiSet" => Box::new(pb::UpdateApiSetRequest {
            api_set: Some(pb::ApiSet {
                name: "apiSets/billing".into(),
                display_name: "Billing".into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        }),
        "ApiKeyService/DeleteApiSet" => Box::new(pb::DeleteApiSetRequest {
            name: "apiSets/ghost".into(),
            etag: String::new(),
        }),
        other => panic!("no matrix call for {other}"),
    }
}

/// A valid request for the API-key `rpc` naming bob's keys (or, for
/// "ListApiKeys of every user", every user of acme), issued by `caller`.
async fn call_on_other_user(rpc: &str, caller: &Caller) -> Result<(), tonic::Status> {
    let method = rpc.trim_end_matches(" of every user");
    calls::call(&caller.client, method, Some(request_on_other_user(rpc)))
        .await
        .map(drop)
}

/// The request `call_on_other_user` sends for `rpc`.
fn request_on_other_user(rpc: &str) -> Request {
    let bob = "accounts/acme/users/bob".to_owned();
    let missing_key = format!("{bob}/apiKeys/00000000000000000000");
    match rpc {
        "ApiKeyService/CreateApiKey" => Box::new(pb::CreateApiKeyRequest {
            parent: bob,
            api_key: Some(pb::ApiKey {
                display_name: "for bob".into(),
                api_sets: vec!["apiSets/keyward.verify".into()],
                ..Default::default()
            }),
            ttl: None,
            request_id: String::new(),
        }),
        "ApiKeyService/GetApiKey" => Box::new(pb::GetApiKeyRequest { name: missing_key }),
        "ApiKeyService/ListApiKeys" => Box::new(pb::ListApiKeysRequest {
            parent: bob,
            ..Default::default()
        }),
        "ApiKeyService/ListApiKeys of every user" => Box::new(pb::ListApiKeysRequest {
            parent: "accounts/acme/users/-".into(),
            ..Default::default()
        }),
        "ApiKeyService/UpdateApiKey" => Box::new(pb::UpdateApiKeyRequest {
            api_key: Some(pb::ApiKey {
                name: missing_key,
                display_name: "x".into(),
                ..Default::default()
            }),
            update_mask: mask("display_name"),
        }),
        "ApiKeyService/RevokeApiKey" => Box::new(pb::RevokeApiKeyRequest { name: missing_key }),
        "ApiKeyService/DeleteApiKey" => Box::new(pb::DeleteApiKeyRequest {
            name: missing_key,
            etag: String::new(),
        }),
        other => panic!("no call on another user for {other}"),
    }
}

/// Compares one call's answer with what the tables expect.
fn check(
    rpc: &str,
    kind: Kind,
    expected: Option<(Code, &'static str)>,
    result: &Result<(), tonic::Status>,
    problems: &mut Vec<String>,
) {
    match (&expected, result) {
        (None, Ok(())) => {}
        (None, Err(status)) => {
            if matches!(
                status.code(),
                Code::PermissionDenied | Code::Unauthenticated
            ) {
                problems.push(format!("unexpected deny: {rpc} for {kind:?}: {status:?}"));
            } else if !matches!(status.code(), Code::NotFound | Code::Unimplemented) {
                problems.push(format!(
                    "allowed but failed: {rpc} for {kind:?}: {status:?}"
                ));
            }
        }
        (Some(_), Ok(())) => problems.push(format!("unexpected allow: {rpc} for {kind:?}")),
        (Some((code, reason)), Err(status)) => {
            let got_reason = status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone());
            if status.code() != *code || got_reason.as_deref() != Some(*reason) {
                problems.push(format!(
                    "wrong denial: {rpc} for {kind:?}: expected {code:?}/{reason}, got {status:?}"
                ));
            }
        }
    }
}

on_every_backend!(every_rpc_against_every_kind_of_caller);

async fn every_rpc_against_every_kind_of_caller(backend: Backend) {
    let app = spawn_app(backend).await;
    let callers = world(&app).await;
    let rpcs: Vec<String> = all_methods()
        .into_iter()
        .map(|m| m.trim_start_matches("/keyward.v1.").to_owned())
        .collect();
    assert_eq!(rpcs.len(), EXPECTED.len(), "EXPECTED covers every RPC");
    // A redemption spends the enrollment token: it comes last, after every call it must be
    // refused.
    let mut rpcs = rpcs;
    rpcs.sort_by_key(|rpc| rpc.ends_with("/RedeemEnrollmentToken"));
    let mut problems = Vec::new();
    for (rpc, _) in OTHER_USERS_KEYS {
        for caller in &callers {
            let result = call_on_other_user(rpc, caller).await;
            let expected = expected_denial_in(OTHER_USERS_KEYS, rpc, caller.kind);
            check(
                &format!("{rpc} (bob's)"),
                caller.kind,
                expected,
                &result,
                &mut problems,
            );
        }
    }
    for rpc in &rpcs {
        for caller in &callers {
            assert!(KINDS.contains(&caller.kind));
            let result = call(rpc, caller).await;
            let expected = expected_denial(rpc, caller.kind);
            check(rpc, caller.kind, expected, &result, &mut problems);
        }
    }
    assert!(
        problems.is_empty(),
        "{} problems:\n{}",
        problems.len(),
        problems.join("\n")
    );
}
