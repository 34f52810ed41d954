//! AccountService end to end: the bootstrap operator key creates and verifies
//! an account; the administrator key it hands back runs the account (roles,
//! users, audit log); bad input and other accounts are refused precisely.

use keyward_client::proto::{
    Account, Authority, CreateAccountRequest, CreateRoleRequest, CreateUserRequest,
    DeleteUserRequest, DisableUserRequest, GetAccountRequest, GetUserRequest, ListAccountsRequest,
    ListAuditEventsRequest, ListRolesRequest, ListUsersRequest, Role, UpdateAccountRequest,
    UpdateUserRequest, User, VerifyAccountRequest, user,
};
use prost_types::FieldMask;
use tonic::Code;
use tonic_types::StatusExt;

use crate::helpers::{Backend, TestApp, spawn_app};

on_every_backend!(
    the_operator_creates_an_account_whose_administrator_runs_it,
    a_retried_create_account_returns_the_first_account_without_a_second_key,
    other_accounts_answer_exactly_like_accounts_that_do_not_exist,
    bad_input_names_the_field_that_is_wrong,
    administrators_cannot_act_as_operators_nor_edit_the_builtin_role,
    the_last_administrator_cannot_be_removed,
    concurrent_changes_never_remove_the_last_administrator,
);

/// Creates account `id` with administrator `admin`; returns the admin key.
pub async fn create_account(app: &TestApp, id: &str, admin: &str) -> String {
    let created = app
        .operator
        .accounts()
        .create_account(CreateAccountRequest {
            account: Some(Account {
                display_name: format!("Account {id}"),
                ..Default::default()
            }),
            account_id: id.to_owned(),
            administrator: Some(User {
                name: format!("accounts/-/users/{admin}"),
                display_name: format!("Admin {admin}"),
                email: format!("{admin}@{id}.example"),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("the operator creates an account")
        .into_inner();
    created.administrator_api_key
}

/// The operator entitles `account` to exactly these platform API sets (IDs).
pub async fn entitle(app: &TestApp, account: &str, api_sets: &[&str]) -> Account {
    app.operator
        .accounts()
        .update_account(UpdateAccountRequest {
            account: Some(Account {
                name: format!("accounts/{account}"),
                entitled_api_sets: api_sets.iter().map(|id| format!("apiSets/{id}")).collect(),
                ..Default::default()
            }),
            update_mask: mask(&["entitled_api_sets"]),
        })
        .await
        .expect("the operator sets the account's entitlements")
        .into_inner()
        .account
        .expect("the account")
}

fn mask(paths: &[&str]) -> Option<FieldMask> {
    Some(FieldMask {
        paths: paths.iter().map(|p| (*p).to_owned()).collect(),
    })
}

async fn the_operator_creates_an_account_whose_administrator_runs_it(backend: Backend) {
    let app = spawn_app(backend).await;
    let created = app
        .operator
        .accounts()
        .create_account(CreateAccountRequest {
            account: Some(Account {
                display_name: "Acme".into(),
                ..Default::default()
            }),
            account_id: "acme".into(),
            administrator: Some(User {
                name: "accounts/-/users/alice".into(),
                display_name: "Alice".into(),
                email: "alice@acme.example".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect("create account")
        .into_inner();
    let account = created.account.expect("account");
    assert_eq!(account.name, "accounts/acme");
    assert_eq!(account.client_id_prefix, "acme-");
    assert!(!account.verified, "accounts start unverified");
    let admin = created.administrator.expect("administrator");
    assert_eq!(admin.name, "accounts/acme/users/alice");
    assert_eq!(admin.roles, ["accounts/acme/roles/administrator"]);
    assert!(created.administrator_api_key.starts_with("kw_ak_"));

    let verified = app
        .operator
        .accounts()
        .verify_account(VerifyAccountRequest {
            name: "accounts/acme".into(),
            etag: account.etag.clone(),
        })
        .await
        .expect("verify")
        .into_inner()
        .account
        .expect("account");
    assert!(verified.verified);

    let alice = app.client_with_key(&created.administrator_api_key).await;
    let mut accounts = alice.accounts();

    let listed = accounts
        .list_accounts(ListAccountsRequest::default())
        .await
        .expect("list accounts")
        .into_inner();
    assert_eq!(
        listed
            .accounts
            .iter()
            .map(|a| a.name.as_str())
            .collect::<Vec<_>>(),
        ["accounts/acme"],
        "a non-operator sees only its own account"
    );

    let renamed = accounts
        .update_account(UpdateAccountRequest {
            account: Some(Account {
                name: "accounts/acme".into(),
                display_name: "Acme Corporation".into(),
                etag: verified.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("update account")
        .into_inner()
        .account
        .expect("account");
    assert_eq!(renamed.display_name, "Acme Corporation");

    let role = accounts
        .create_role(CreateRoleRequest {
            parent: "accounts/acme".into(),
            role: Some(Role {
                display_name: "Auditors".into(),
                authorities: vec![Authority::ViewAuditLog as i32],
                ..Default::default()
            }),
            role_id: "auditors".into(),
        })
        .await
        .expect("create role")
        .into_inner()
        .role
        .expect("role");
    assert_eq!(role.name, "accounts/acme/roles/auditors");

    let bob = accounts
        .create_user(CreateUserRequest {
            parent: "accounts/acme".into(),
            user: Some(User {
                display_name: "Bob".into(),
                email: "bob@acme.example".into(),
                roles: vec![role.name.clone()],
                ..Default::default()
            }),
            user_id: "bob".into(),
            request_id: String::new(),
        })
        .await
        .expect("create user")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(bob.state, user::State::Active as i32);

    let duplicate_email = accounts
        .create_user(CreateUserRequest {
            parent: "accounts/acme".into(),
            user: Some(User {
                display_name: "Bobby".into(),
                email: "BOB@acme.example".into(),
                ..Default::default()
            }),
            user_id: "bobby".into(),
            request_id: String::new(),
        })
        .await
        .expect_err("emails are unique per account, case-insensitively");
    assert_eq!(duplicate_email.code(), Code::AlreadyExists);

    let users = accounts
        .list_users(ListUsersRequest {
            parent: "accounts/acme".into(),
            page_size: 1,
            page_token: String::new(),
        })
        .await
        .expect("list users")
        .into_inner();
    assert_eq!(users.users.len(), 1);
    assert!(!users.next_page_token.is_empty());
    let rest = accounts
        .list_users(ListUsersRequest {
            parent: "accounts/acme".into(),
            page_size: 1,
            page_token: users.next_page_token,
        })
        .await
        .expect("second page")
        .into_inner();
    let mut names: Vec<String> = users
        .users
        .into_iter()
        .chain(rest.users)
        .map(|u| u.name)
        .collect();
    names.sort();
    assert_eq!(
        names,
        ["accounts/acme/users/alice", "accounts/acme/users/bob"]
    );

    let updated = accounts
        .update_user(UpdateUserRequest {
            user: Some(User {
                name: bob.name.clone(),
                display_name: "Robert".into(),
                etag: bob.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect("update user")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(updated.display_name, "Robert");
    assert_eq!(
        updated.roles.as_slice(),
        std::slice::from_ref(&role.name),
        "roles untouched outside the mask"
    );

    let stale = accounts
        .update_user(UpdateUserRequest {
            user: Some(User {
                name: bob.name.clone(),
                display_name: "Rob".into(),
                etag: bob.etag.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect_err("a stale etag is refused");
    assert_eq!(stale.code(), Code::Aborted);

    let disabled = accounts
        .disable_user(DisableUserRequest {
            name: bob.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("disable")
        .into_inner()
        .user
        .expect("user");
    assert_eq!(disabled.state, user::State::Disabled as i32);

    let roles = accounts
        .list_roles(ListRolesRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        })
        .await
        .expect("list roles")
        .into_inner()
        .roles;
    let administrator = roles
        .iter()
        .find(|r| r.name == "accounts/acme/roles/administrator")
        .expect("the built-in role is listed");
    assert!(administrator.builtin);
    assert_eq!(administrator.authorities.len(), 4);

    accounts
        .delete_user(DeleteUserRequest {
            name: bob.name.clone(),
            etag: String::new(),
        })
        .await
        .expect("delete user");
    let gone = accounts
        .get_user(GetUserRequest {
            name: bob.name.clone(),
        })
        .await
        .expect_err("deleted");
    assert_eq!(gone.code(), Code::NotFound);

    let events = accounts
        .list_audit_events(ListAuditEventsRequest {
            parent: "accounts/acme".into(),
            ..Default::default()
        })
        .await
        .expect("audit log")
        .into_inner()
        .audit_events;
    let methods: Vec<&str> = events.iter().map(|e| e.method.as_str()).collect();
    assert_eq!(
        methods.first(),
        Some(&"/keyward.v1.AccountService/DeleteUser"),
        "newest first: {methods:?}"
    );
    for expected in [
        "CreateAccount",
        "VerifyAccount",
        "CreateRole",
        "CreateUser",
        "UpdateUser",
        "DisableUser",
    ] {
        assert!(
            methods.iter().any(|m| m.ends_with(&format!("/{expected}"))),
            "{expected} is audited: {methods:?}"
        );
    }
    let delete = &events[0];
    assert!(
        delete
            .actor
            .starts_with("accounts/acme/users/alice/apiKeys/"),
        "{}",
        delete.actor
    );
    assert_eq!(delete.resource, "accounts/acme/users/bob");
}

async fn a_retried_create_account_returns_the_first_account_without_a_second_key(backend: Backend) {
    let app = spawn_app(backend).await;
    let request = CreateAccountRequest {
        account: Some(Account {
            display_name: "Initech".into(),
            client_id_prefix: "ini".into(),
            ..Default::default()
        }),
        account_id: String::new(),
        administrator: Some(User {
            display_name: "Peter".into(),
            email: "peter@initech.example".into(),
            ..Default::default()
        }),
        request_id: "6f1c2b9e-3d4a-4e8f-9a7b-1c2d3e4f5a6b".into(),
    };
    let first = app
        .operator
        .accounts()
        .create_account(request.clone())
        .await
        .expect("first")
        .into_inner();
    let retry = app
        .operator
        .accounts()
        .create_account(request.clone())
        .await
        .expect("retry")
        .into_inner();
    assert_eq!(first.account, retry.account, "the same account comes back");
    assert_eq!(first.administrator, retry.administrator);
    assert!(!first.administrator_api_key.is_empty());
    assert!(
        retry.administrator_api_key.is_empty(),
        "the key is shown once only"
    );

    let mut different = request;
    different.account.as_mut().expect("account").display_name = "Other".into();
    let status = app
        .operator
        .accounts()
        .create_account(different)
        .await
        .expect_err("reused id");
    assert_eq!(status.code(), Code::InvalidArgument);
    let listed = app
        .operator
        .accounts()
        .list_accounts(ListAccountsRequest::default())
        .await
        .expect("list")
        .into_inner();
    assert_eq!(
        listed.accounts.len(),
        2,
        "operator and one new account: {:?}",
        listed.accounts
    );
}

async fn other_accounts_answer_exactly_like_accounts_that_do_not_exist(backend: Backend) {
    let app = spawn_app(backend).await;
    let acme_key = create_account(&app, "acme", "alice").await;
    create_account(&app, "globex", "gina").await;
    let alice = app.client_with_key(&acme_key).await;

    let existing = alice
        .accounts()
        .get_user(GetUserRequest {
            name: "accounts/globex/users/gina".into(),
        })
        .await
        .expect_err("another account's user");
    let missing = alice
        .accounts()
        .get_user(GetUserRequest {
            name: "accounts/nowhere/users/gina".into(),
        })
        .await
        .expect_err("a user of no account");
    assert_eq!(existing.code(), Code::PermissionDenied);
    assert_eq!(existing.code(), missing.code());
    assert_eq!(existing.message(), missing.message());
    assert_eq!(
        existing.details(),
        missing.details(),
        "byte-identical details"
    );

    let account = alice
        .accounts()
        .get_account(GetAccountRequest {
            name: "accounts/globex".into(),
        })
        .await
        .expect_err("another account");
    let no_account = alice
        .accounts()
        .get_account(GetAccountRequest {
            name: "accounts/nowhere".into(),
        })
        .await
        .expect_err("no such account");
    assert_eq!(account.code(), Code::PermissionDenied);
    assert_eq!(
        (account.message(), account.details()),
        (no_account.message(), no_account.details())
    );
}

async fn bad_input_names_the_field_that_is_wrong(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = create_account(&app, "acme", "alice").await;
    let alice = app.client_with_key(&key).await;

    let cases: Vec<(&str, tonic::Status)> = vec![
        (
            "page_size",
            alice
                .accounts()
                .list_users(ListUsersRequest {
                    parent: "accounts/acme".into(),
                    page_size: -1,
                    page_token: String::new(),
                })
                .await
                .expect_err("negative page size"),
        ),
        (
            "page_token",
            alice
                .accounts()
                .list_users(ListUsersRequest {
                    parent: "accounts/acme".into(),
                    page_size: 0,
                    page_token: "%%%".into(),
                })
                .await
                .expect_err("junk page token"),
        ),
        (
            "name",
            alice
                .accounts()
                .get_user(GetUserRequest {
                    name: "users/alice".into(),
                })
                .await
                .expect_err("malformed name"),
        ),
        (
            "user.email",
            alice
                .accounts()
                .create_user(CreateUserRequest {
                    parent: "accounts/acme".into(),
                    user: Some(User {
                        display_name: "Eve".into(),
                        email: "not-an-email".into(),
                        ..Default::default()
                    }),
                    user_id: String::new(),
                    request_id: String::new(),
                })
                .await
                .expect_err("bad email"),
        ),
        (
            "user_id",
            alice
                .accounts()
                .create_user(CreateUserRequest {
                    parent: "accounts/acme".into(),
                    user: Some(User {
                        display_name: "Eve".into(),
                        email: "eve@acme.example".into(),
                        ..Default::default()
                    }),
                    user_id: "Eve Smith".into(),
                    request_id: String::new(),
                })
                .await
                .expect_err("bad user id"),
        ),
        (
            "update_mask",
            alice
                .accounts()
                .update_account(UpdateAccountRequest {
                    account: Some(Account {
                        name: "accounts/acme".into(),
                        ..Default::default()
                    }),
                    update_mask: mask(&["verified"]),
                })
                .await
                .expect_err("verified is not updatable"),
        ),
        (
            "role.authorities",
            alice
                .accounts()
                .create_role(CreateRoleRequest {
                    parent: "accounts/acme".into(),
                    role: Some(Role {
                        display_name: "X".into(),
                        authorities: vec![0],
                        ..Default::default()
                    }),
                    role_id: "x-role".into(),
                })
                .await
                .expect_err("unspecified authority"),
        ),
    ];
    for (field, status) in cases {
        assert_eq!(status.code(), Code::InvalidArgument, "{field}: {status:?}");
        let violations = status
            .get_error_details()
            .bad_request()
            .map(|b| b.field_violations.clone())
            .unwrap_or_default();
        assert_eq!(
            violations
                .iter()
                .map(|v| v.field.as_str())
                .collect::<Vec<_>>(),
            [field],
            "{status:?}"
        );
    }
}

async fn administrators_cannot_act_as_operators_nor_edit_the_builtin_role(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = create_account(&app, "acme", "alice").await;
    let alice = app.client_with_key(&key).await;
    let status = alice
        .accounts()
        .create_account(CreateAccountRequest {
            account: Some(Account {
                display_name: "Mine".into(),
                ..Default::default()
            }),
            account_id: "mine".into(),
            administrator: Some(User {
                display_name: "A".into(),
                email: "a@mine.example".into(),
                ..Default::default()
            }),
            request_id: String::new(),
        })
        .await
        .expect_err("only operators create accounts");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = alice
        .accounts()
        .verify_account(VerifyAccountRequest {
            name: "accounts/acme".into(),
            etag: String::new(),
        })
        .await
        .expect_err("only operators verify accounts");
    assert_eq!(status.code(), Code::PermissionDenied);
    let status = alice
        .accounts()
        .update_role(keyward_client::proto::UpdateRoleRequest {
            role: Some(Role {
                name: "accounts/acme/roles/administrator".into(),
                display_name: "Less".into(),
                ..Default::default()
            }),
            update_mask: mask(&["display_name"]),
        })
        .await
        .expect_err("the built-in role is fixed");
    assert_eq!(status.code(), Code::FailedPrecondition);
}

async fn the_last_administrator_cannot_be_removed(backend: Backend) {
    let app = spawn_app(backend).await;
    let key = create_account(&app, "acme", "alice").await;
    let alice = app.client_with_key(&key).await;
    let mut accounts = alice.accounts();
    let me = "accounts/acme/users/alice".to_owned();
    let last = |status: tonic::Status| {
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        let reason = status
            .get_error_details()
            .error_info()
            .map(|i| i.reason.clone());
        assert_eq!(reason.as_deref(), Some("LAST_ADMINISTRATOR"));
    };
    last(
        accounts
            .disable_user(DisableUserRequest {
                name: me.clone(),
                etag: String::new(),
            })
            .await
            .expect_err("the only administrator cannot be disabled"),
    );
    last(
        accounts
            .delete_user(DeleteUserRequest {
                name: me.clone(),
                etag: String::new(),
            })
            .await
            .expect_err("nor deleted"),
    );
    last(
        accounts
            .update_user(UpdateUserRequest {
                user: Some(User {
                    name: me.clone(),
                    ..Default::default()
                }),
                update_mask: mask(&["roles"]),
            })
            .await
            .expect_err("nor lose the administrator role"),
    );

    accounts
        .create_user(CreateUserRequest {
            parent: "accounts/acme".into(),
            user: Some(User {
                display_name: "Bea".into(),
                email: "bea@acme.example".into(),
                roles: vec!["accounts/acme/roles/administrator".into()],
                ..Default::default()
            }),
            user_id: "bea".into(),
            request_id: String::new(),
        })
        .await
        .expect("a second administrator");
    let demoted = accounts
        .update_user(UpdateUserRequest {
            user: Some(User {
                name: me.clone(),
                ..Default::default()
            }),
            update_mask: mask(&["roles"]),
        })
        .await
        .expect("with another administrator, alice may step down")
        .into_inner()
        .user
        .expect("user");
    assert!(demoted.roles.is_empty());
}

/// Two administrators removed at the same moment, each by a different change: the
/// store checks the rule inside each change's transaction with the account locked,
/// so one change wins and the other is LAST_ADMINISTRATOR, whatever the timing.
async fn concurrent_changes_never_remove_the_last_administrator(backend: Backend) {
    let app = spawn_app(backend).await;
    for (round, account_id) in ["acme", "globex", "initech", "umbrella"].iter().enumerate() {
        let key = create_account(&app, account_id, "alice").await;
        let alice = app.client_with_key(&key).await;
        alice
            .accounts()
            .create_user(CreateUserRequest {
                parent: format!("accounts/{account_id}"),
                user: Some(User {
                    display_name: "Bea".into(),
                    email: format!("bea@{account_id}.example"),
                    roles: vec![format!("accounts/{account_id}/roles/administrator")],
                    ..Default::default()
                }),
                user_id: "bea".into(),
                request_id: String::new(),
            })
            .await
            .expect("a second administrator");
        // The removals come from Morgan, who manages users without being an administrator:
        // whichever removal wins, Morgan's own calls keep working.
        alice
            .accounts()
            .create_role(keyward_client::proto::CreateRoleRequest {
                parent: format!("accounts/{account_id}"),
                role_id: "manager".into(),
                role: Some(Role {
                    display_name: "Manager".into(),
                    // Holding a key takes MANAGE_USER_API_KEY.
                    authorities: vec![
                        keyward_client::proto::Authority::ManageUsers as i32,
                        keyward_client::proto::Authority::ManageUserApiKey as i32,
                    ],
                    ..Default::default()
                }),
            })
            .await
            .expect("a manager role");
        alice
            .accounts()
            .create_user(CreateUserRequest {
                parent: format!("accounts/{account_id}"),
                user: Some(User {
                    display_name: "Morgan".into(),
                    email: format!("morgan@{account_id}.example"),
                    roles: vec![format!("accounts/{account_id}/roles/manager")],
                    ..Default::default()
                }),
                user_id: "morgan".into(),
                request_id: String::new(),
            })
            .await
            .expect("a manager");
        let morgan = app
            .client_with_key(
                &app.enroll_builtin_key(&alice, &format!("accounts/{account_id}/users/morgan"))
                    .await,
            )
            .await;
        let alice_name = format!("accounts/{account_id}/users/alice");
        let bea_name = format!("accounts/{account_id}/users/bea");
        let (mut first, mut second) = (morgan.accounts(), morgan.accounts());
        // Each round pairs two different ways of removing an administrator.
        let remove =
            |stub: &mut keyward_client::proto::account_service_client::AccountServiceClient<_>,
             name: String,
             how: usize| {
                let mut stub = stub.clone();
                async move {
                    match how {
                        0 => stub
                            .disable_user(DisableUserRequest {
                                name,
                                etag: String::new(),
                            })
                            .await
                            .map(drop),
                        1 => stub
                            .delete_user(DeleteUserRequest {
                                name,
                                etag: String::new(),
                            })
                            .await
                            .map(drop),
                        _ => stub
                            .update_user(UpdateUserRequest {
                                user: Some(User {
                                    name,
                                    ..Default::default()
                                }),
                                update_mask: mask(&["roles"]),
                            })
                            .await
                            .map(drop),
                    }
                }
            };
        let (a, b) = tokio::join!(
            remove(&mut first, alice_name.clone(), round % 3),
            remove(&mut second, bea_name.clone(), (round + 1) % 3),
        );
        let refused: Vec<_> = [&a, &b]
            .into_iter()
            .filter_map(|r| r.as_ref().err())
            .collect();
        assert_eq!(
            refused.len(),
            1,
            "{account_id}: exactly one removal wins: {a:?} {b:?}"
        );
        let status = refused[0];
        assert_eq!(status.code(), Code::FailedPrecondition, "{status:?}");
        assert_eq!(
            status
                .get_error_details()
                .error_info()
                .map(|i| i.reason.clone())
                .as_deref(),
            Some("LAST_ADMINISTRATOR")
        );
        // The one left is still an active administrator (read from the store: the
        // removed one's key may no longer work, and operators cannot look inside).
        let survivor = if a.is_ok() { "bea" } else { "alice" };
        let user = app
            .state
            .store
            .get_user(account_id, survivor)
            .await
            .expect("the survivor is there");
        assert_eq!(user.role_ids, ["administrator"]);
        assert_eq!(user.state, keyward_store::UserState::Active);
    }
}
