//! One function per subcommand: build the request, call, print.

use std::io::BufRead as _;

use keyward_client::proto::{self, credential, decision::Reason};
use keyward_client::{
    AccountUpdate, ApiKeyFile, ApiKeyUpdate, ApiSetUpdate, Client, CredentialUpdate, RoleUpdate,
    SecretRenewal, UserUpdate,
};
use secrecy::{ExposeSecret as _, SecretString};
use serde_json::json;

use crate::exit::{CliError, REFUSED};
use crate::output::{self as out, short};
use crate::{
    AccountsCmd, ApiKeyStateArg, ApiKeysCmd, ApiSetsCmd, AuditCmd, AuthorityArg, Cli, Command,
    CredentialStateArg, CredentialsCmd, EtagArg, Global, InAccount, RolesCmd, SchemeArg, SignArgs,
    UsersCmd, VerifyCmd,
};

type Result<T> = std::result::Result<T, CliError>;

/// Runs the command; the exit code when it ran (0, or [`REFUSED`]).
pub(crate) async fn run(cli: Cli) -> Result<u8> {
    let g = &cli.global;
    match cli.command {
        Command::Sign(args) => sign(g, args),
        Command::Scan(args) => crate::scan::scan(g, &args).await,
        Command::Audit(AuditCmd::Verify { file }) => crate::audit_chain::verify(g, &file),
        command => {
            let client = connect(g).await?;
            match command {
                Command::Accounts(cmd) => accounts(g, &client, cmd).await,
                Command::Users(cmd) => users(g, &client, cmd).await,
                Command::Roles(cmd) => roles(g, &client, cmd).await,
                Command::ApiSets(cmd) => api_sets(g, &client, cmd).await,
                Command::Credentials(cmd) => credentials(g, &client, cmd).await,
                Command::ApiKeys(cmd) => api_keys(g, &client, cmd).await,
                Command::Audit(cmd) => audit(g, &client, cmd).await,
                Command::Verify(cmd) => verify(g, &client, cmd).await,
                // Handled above, without a connection.
                Command::Sign(_) | Command::Scan(_) => Ok(0),
            }
        }
    }
}

/// The key in a `.APIKEY` file.
fn key_from_file(path: &std::path::Path) -> Result<SecretString> {
    ApiKeyFile::read(path)
        .map(|file| file.key().clone())
        .map_err(|e| CliError::Local(e.to_string()))
}

pub(crate) async fn connect(g: &Global) -> Result<Client> {
    let client = connect_with(g, None).await?;
    match &g.act_as {
        Some(user) => client
            .acting_as(user)
            .map_err(|error| CliError::Local(error.to_string())),
        None => Ok(client),
    }
}

/// A connection to the server calling with `bearer`, or else with the API key the global
/// flags give (if any).
async fn connect_with(g: &Global, bearer: Option<&str>) -> Result<Client> {
    let mut builder = Client::builder(g.url.clone()).timeout(g.timeout);
    let read = |what: &str, path: &std::path::Path| {
        std::fs::read(path)
            .map_err(|e| CliError::Local(format!("cannot read the {what} {}: {e}", path.display())))
    };
    if let Some(path) = &g.ca_file {
        builder = builder.ca_certificate_pem(read("CA file", path)?);
    }
    if let (Some(cert), Some(key)) = (&g.client_cert, &g.client_key) {
        builder = builder.identity_pem(read("client certificate", cert)?, read("client key", key)?);
    }
    match (&g.api_key_file, &g.api_key) {
        _ if bearer.is_some() => builder = builder.api_key(bearer.unwrap_or_default()),
        (Some(_), Some(_)) if g.api_key_flag => {
            return Err(CliError::Local(
                "give the API key with --api-key or --api-key-file, not both".to_owned(),
            ));
        }
        (Some(path), _) => builder = builder.api_key(key_from_file(path)?.expose_secret()),
        (None, Some(key)) => builder = builder.api_key(key),
        (None, None) => {}
    }
    let client = builder.connect().await.map_err(|error| {
        let mut message = format!("{error} ({})", g.url);
        let mut source = std::error::Error::source(&error);
        while let Some(cause) = source {
            let cause_text = cause.to_string();
            if !message.ends_with(&cause_text) {
                message.push_str(&format!(": {cause_text}"));
            }
            source = cause.source();
        }
        CliError::Local(message)
    })?;
    Ok(client)
}

/// `acme` → `accounts/acme`; a name with a `/` is taken as given.
fn named(collection: &str, id: &str) -> String {
    if id.contains('/') {
        id.to_owned()
    } else {
        format!("{collection}/{id}")
    }
}

/// A resource of an account, `collection` (`users`, `roles`) within it: a full name
/// as given, or a short ID with `--account`.
fn in_account(r: &InAccount, collection: &str) -> Result<String> {
    let singular = collection.trim_end_matches('s');
    match (&r.account, r.name.contains('/')) {
        (None, true) => Ok(r.name.clone()),
        (Some(account), false) => Ok(format!(
            "{}/{collection}/{}",
            named("accounts", account),
            r.name
        )),
        (Some(_), true) => Err(CliError::Local(format!(
            "`{}` is a full {singular} name: drop --account, or give the short {singular} ID",
            r.name
        ))),
        (None, false) => Err(CliError::Local(format!(
            "`{0}` is a short {singular} ID: add --account ACCOUNT, or give \
             accounts/ACCOUNT/{collection}/{0}",
            r.name
        ))),
    }
}

/// `accounts/acme/users/bob` → `accounts/acme`.
fn account_of(name: &str) -> String {
    name.split('/').take(2).collect::<Vec<_>>().join("/")
}

/// A role of `account` (`accounts/acme`): `auditor` or a full role name.
fn role_in(account: &str, role: &str) -> String {
    if role.contains('/') {
        role.to_owned()
    } else {
        format!("{account}/roles/{role}")
    }
}

fn etag_of(etag: EtagArg) -> String {
    etag.etag.unwrap_or_default()
}

/// Refuses an update that names no field, listing the flags that would.
fn nothing_to_update(empty: bool, flags: &str) -> Result<()> {
    if empty {
        Err(CliError::Local(format!(
            "nothing to update: give at least one of {flags}"
        )))
    } else {
        Ok(())
    }
}

fn deleted(g: &Global, name: &str) {
    if g.json {
        out::json(&json!({"deleted": name}));
    } else {
        println!("deleted {name}");
    }
}

fn authority(a: AuthorityArg) -> proto::Authority {
    match a {
        AuthorityArg::ManageUsers => proto::Authority::ManageUsers,
        AuthorityArg::ManageApiClients => proto::Authority::ManageApiClients,
        AuthorityArg::ManageUserApiKey => proto::Authority::ManageUserApiKey,
        AuthorityArg::ViewAuditLog => proto::Authority::ViewAuditLog,
    }
}

fn grpc_duration(d: std::time::Duration) -> Result<prost_types::Duration> {
    Ok(prost_types::Duration {
        seconds: i64::try_from(d.as_secs())
            .map_err(|_| CliError::Local("duration too long".to_owned()))?,
        nanos: 0,
    })
}

/// One line from stdin, without its line ending.
fn read_stdin_line(what: &str) -> Result<String> {
    let mut line = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut line)
        .map_err(|e| CliError::Local(format!("cannot read the {what} from stdin: {e}")))?;
    let line = line.trim_end_matches(['\r', '\n']).to_owned();
    if line.is_empty() {
        return Err(CliError::Local(format!("no {what} on stdin")));
    }
    Ok(line)
}

fn secret_input(secret: Option<String>, from_stdin: bool) -> Result<String> {
    match (secret, from_stdin) {
        (_, true) => read_stdin_line("client secret"),
        (Some(secret), false) => Ok(secret),
        (None, false) => Err(CliError::Local(
            "give the client secret with --secret-stdin, KEYWARD_CLIENT_SECRET or --secret"
                .to_owned(),
        )),
    }
}

fn read_body(path: Option<&std::path::Path>) -> Result<Vec<u8>> {
    match path {
        None => Ok(Vec::new()),
        Some(path) => std::fs::read(path)
            .map_err(|e| CliError::Local(format!("cannot read {}: {e}", path.display()))),
    }
}

/// Prints a handed-over secret (or puts it in the JSON), then the warning.
fn hand_over(
    g: &Global,
    mut value: serde_json::Value,
    human: Vec<(&str, String)>,
    secret_field: &str,
    secret_label: &str,
    secret: &str,
) {
    if secret.is_empty() {
        // A retried create (same request_id) returns the resource without its secret.
        if g.json {
            out::json(&value);
        } else {
            out::fields(&human);
        }
        eprintln!(
            "note: no {secret_label} in this answer: it was handed over by the first request with this request id"
        );
        return;
    }
    if g.json {
        value[secret_field] = json!(secret);
        out::json(&value);
    } else {
        let mut human = human;
        human.push((secret_label, secret.to_owned()));
        out::fields(&human);
    }
    out::warn_shown_once(secret_label);
}

async fn accounts(g: &Global, client: &Client, cmd: AccountsCmd) -> Result<u8> {
    let mut stub = client.accounts();
    match cmd {
        AccountsCmd::Create {
            account_id,
            display_name,
            admin_name,
            admin_email,
            request_id,
            save_admin_key,
            entitle,
        } => {
            let response = stub
                .create_account(proto::CreateAccountRequest {
                    account: Some(proto::Account {
                        display_name,
                        entitled_api_sets: entitle.iter().map(|s| named("apiSets", s)).collect(),
                        ..Default::default()
                    }),
                    account_id,
                    request_id,
                    administrator: Some(proto::User {
                        display_name: admin_name,
                        email: admin_email,
                        ..Default::default()
                    }),
                })
                .await?
                .into_inner();
            let account = response.account.unwrap_or_default();
            let admin = response.administrator.unwrap_or_default();
            let mut human = out::account_fields(&account);
            human.push(("administrator", admin.name.clone()));
            if let Some(path) = save_admin_key
                && !response.administrator_api_key.is_empty()
            {
                let saved =
                    ApiKeyFile::new(SecretString::from(response.administrator_api_key.clone()))
                        .and_then(|file| file.with_display_name(&admin.display_name))
                        .map_err(keyward_client::KeyFileError::from)
                        .and_then(|file| file.write_new_at(&path));
                if let Err(e) = saved {
                    return Err(CliError::Local(format!(
                        "{} was created but its administrator's key cannot be saved: {e}",
                        account.name
                    )));
                }
                let mut value = json!({"account": out::account_json(&account), "administrator": out::user_json(&admin)});
                value["administratorApiKeyFile"] = json!(path.display().to_string());
                human.push(("administrator API key saved to", path.display().to_string()));
                show(g, value, human);
                eprintln!(
                    "note: the administrator's API key is only in {} (mode 0600); it will not be shown again",
                    path.display()
                );
                return Ok(0);
            }
            hand_over(
                g,
                json!({"account": out::account_json(&account), "administrator": out::user_json(&admin)}),
                human,
                "administratorApiKey",
                "administrator API key",
                &response.administrator_api_key,
            );
        }
        AccountsCmd::Get { account } => {
            let account = stub
                .get_account(proto::GetAccountRequest {
                    name: named("accounts", &account),
                })
                .await?
                .into_inner()
                .account
                .unwrap_or_default();
            show(
                g,
                out::account_json(&account),
                out::account_fields(&account),
            );
        }
        AccountsCmd::List => {
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = stub
                    .list_accounts(proto::ListAccountsRequest {
                        page_size: 1000,
                        page_token,
                    })
                    .await?
                    .into_inner();
                all.extend(page.accounts);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if g.json {
                out::json(&json!(
                    all.iter().map(out::account_json).collect::<Vec<_>>()
                ));
            } else {
                let rows = all
                    .iter()
                    .map(|a| {
                        vec![
                            a.name.clone(),
                            a.display_name.clone(),
                            a.client_id_prefix.clone(),
                            yes_no(a.verified),
                            yes_no(a.operator),
                            out::time(a.create_time.as_ref()),
                        ]
                    })
                    .collect::<Vec<_>>();
                out::table(
                    &[
                        "NAME",
                        "DISPLAY NAME",
                        "PREFIX",
                        "VERIFIED",
                        "OPERATOR",
                        "CREATED",
                    ],
                    &rows,
                );
            }
        }
        AccountsCmd::Update {
            account,
            display_name,
            entitle,
            no_entitlements,
            etag,
        } => {
            let mut update = AccountUpdate::new(named("accounts", &account));
            if let Some(display_name) = display_name {
                update = update.display_name(display_name);
            }
            if no_entitlements || !entitle.is_empty() {
                update = update.entitled_api_sets(entitle.iter().map(|s| named("apiSets", s)));
            }
            if let Some(etag) = etag.etag {
                update = update.etag(etag);
            }
            let account = stub
                .update_account(update.into_request())
                .await?
                .into_inner()
                .account
                .unwrap_or_default();
            show(
                g,
                out::account_json(&account),
                out::account_fields(&account),
            );
        }
        AccountsCmd::Verify { account, etag } => {
            let account = stub
                .verify_account(proto::VerifyAccountRequest {
                    name: named("accounts", &account),
                    etag: etag_of(etag),
                })
                .await?
                .into_inner()
                .account
                .unwrap_or_default();
            show(
                g,
                out::account_json(&account),
                out::account_fields(&account),
            );
        }
    }
    Ok(0)
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

fn show(g: &Global, value: serde_json::Value, human: Vec<(&str, String)>) {
    if g.json {
        out::json(&value);
    } else {
        out::fields(&human);
    }
}

async fn users(g: &Global, client: &Client, cmd: UsersCmd) -> Result<u8> {
    let mut stub = client.accounts();
    match cmd {
        UsersCmd::Enroll {
            user,
            api_sets,
            ttl,
            request_id,
        } => {
            let response = client
                .api_keys()
                .create_enrollment_token(proto::CreateEnrollmentTokenRequest {
                    parent: in_account(&user, "users")?,
                    enrollment_token: Some(proto::EnrollmentToken {
                        api_sets: api_sets.iter().map(|a| named("apiSets", a)).collect(),
                        ..Default::default()
                    }),
                    ttl: ttl.map(grpc_duration).transpose()?,
                    request_id,
                })
                .await?
                .into_inner();
            let token = response.enrollment_token.unwrap_or_default();
            hand_over(
                g,
                out::enrollment_token_json(&token),
                out::enrollment_token_fields(&token),
                "token",
                "enrollment token",
                &response.token,
            );
        }
        UsersCmd::Enrollments { user } => {
            let parent = in_account(&user, "users")?;
            let mut stub = client.api_keys();
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = stub
                    .list_enrollment_tokens(proto::ListEnrollmentTokensRequest {
                        parent: parent.clone(),
                        page_size: 1000,
                        page_token,
                    })
                    .await?
                    .into_inner();
                all.extend(page.enrollment_tokens);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if g.json {
                out::json(&json!(
                    all.iter()
                        .map(out::enrollment_token_json)
                        .collect::<Vec<_>>()
                ));
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|t| {
                        vec![
                            t.name.clone(),
                            short(out::enrollment_token_state_name(t.state), "STATE_"),
                            t.api_sets.join(", "),
                            out::time(t.expire_time.as_ref()),
                            t.api_key.clone(),
                        ]
                    })
                    .collect();
                out::table(&["NAME", "STATE", "API SETS", "EXPIRES", "API KEY"], &rows);
            }
        }
        UsersCmd::RevokeEnrollment { name } => {
            let token = client
                .api_keys()
                .revoke_enrollment_token(proto::RevokeEnrollmentTokenRequest { name })
                .await?
                .into_inner()
                .enrollment_token
                .unwrap_or_default();
            show(
                g,
                out::enrollment_token_json(&token),
                out::enrollment_token_fields(&token),
            );
        }
        UsersCmd::Create {
            user_id,
            account,
            display_name,
            email,
            roles,
        } => {
            let parent = named("accounts", &account);
            let roles = roles
                .iter()
                .map(|r| {
                    if r.contains('/') {
                        r.clone()
                    } else {
                        format!("{parent}/roles/{r}")
                    }
                })
                .collect();
            let user = stub
                .create_user(proto::CreateUserRequest {
                    parent,
                    user: Some(proto::User {
                        display_name,
                        email,
                        roles,
                        ..Default::default()
                    }),
                    user_id,
                    request_id: String::new(),
                })
                .await?
                .into_inner()
                .user
                .unwrap_or_default();
            show(g, out::user_json(&user), user_fields(&user));
        }
        UsersCmd::List { account } => {
            let parent = named("accounts", &account);
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = stub
                    .list_users(proto::ListUsersRequest {
                        parent: parent.clone(),
                        page_size: 1000,
                        page_token,
                    })
                    .await?
                    .into_inner();
                all.extend(page.users);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if g.json {
                out::json(&json!(all.iter().map(out::user_json).collect::<Vec<_>>()));
            } else {
                let rows = all
                    .iter()
                    .map(|u| {
                        vec![
                            u.name.clone(),
                            u.display_name.clone(),
                            u.email.clone(),
                            short(out::user_state_name(u.state), "STATE_"),
                            u.roles.join(","),
                        ]
                    })
                    .collect::<Vec<_>>();
                out::table(&["NAME", "DISPLAY NAME", "EMAIL", "STATE", "ROLES"], &rows);
            }
        }
        UsersCmd::Get { user } => {
            let user = stub
                .get_user(proto::GetUserRequest {
                    name: in_account(&user, "users")?,
                })
                .await?
                .into_inner()
                .user
                .unwrap_or_default();
            show(g, out::user_json(&user), user_fields(&user));
        }
        UsersCmd::Update {
            user,
            display_name,
            email,
            roles,
            no_roles,
            etag,
        } => {
            let name = in_account(&user, "users")?;
            let account = account_of(&name);
            let mut update = UserUpdate::new(name);
            if let Some(v) = display_name {
                update = update.display_name(v);
            }
            if let Some(v) = email {
                update = update.email(v);
            }
            if !roles.is_empty() || no_roles {
                update = update.roles(roles.iter().map(|r| role_in(&account, r)));
            }
            nothing_to_update(
                update.is_empty(),
                "--display-name, --email, --role, --no-roles",
            )?;
            if let Some(etag) = etag.etag {
                update = update.etag(etag);
            }
            let user = stub
                .update_user(update.into_request())
                .await?
                .into_inner()
                .user
                .unwrap_or_default();
            show(g, out::user_json(&user), user_fields(&user));
        }
        UsersCmd::Disable { user, etag } => {
            let user = stub
                .disable_user(proto::DisableUserRequest {
                    name: in_account(&user, "users")?,
                    etag: etag_of(etag),
                })
                .await?
                .into_inner()
                .user
                .unwrap_or_default();
            show(g, out::user_json(&user), user_fields(&user));
        }
        UsersCmd::Enable { user, etag } => {
            let user = stub
                .enable_user(proto::EnableUserRequest {
                    name: in_account(&user, "users")?,
                    etag: etag_of(etag),
                })
                .await?
                .into_inner()
                .user
                .unwrap_or_default();
            show(g, out::user_json(&user), user_fields(&user));
        }
        UsersCmd::Delete { user, etag } => {
            let name = in_account(&user, "users")?;
            stub.delete_user(proto::DeleteUserRequest {
                name: name.clone(),
                etag: etag_of(etag),
            })
            .await?;
            deleted(g, &name);
        }
    }
    Ok(0)
}

fn user_fields(u: &proto::User) -> Vec<(&'static str, String)> {
    vec![
        ("name", u.name.clone()),
        ("display name", u.display_name.clone()),
        ("email", u.email.clone()),
        ("state", short(out::user_state_name(u.state), "STATE_")),
        ("roles", u.roles.join(", ")),
        ("etag", u.etag.clone()),
    ]
}

async fn roles(g: &Global, client: &Client, cmd: RolesCmd) -> Result<u8> {
    let mut stub = client.accounts();
    match cmd {
        RolesCmd::Create {
            role_id,
            account,
            display_name,
            description,
            authorities,
        } => {
            let authorities = authorities
                .into_iter()
                .map(|a| authority(a) as i32)
                .collect();
            let role = stub
                .create_role(proto::CreateRoleRequest {
                    parent: named("accounts", &account),
                    role: Some(proto::Role {
                        display_name,
                        description,
                        authorities,
                        ..Default::default()
                    }),
                    role_id,
                })
                .await?
                .into_inner()
                .role
                .unwrap_or_default();
            show(g, out::role_json(&role), role_fields(&role));
        }
        RolesCmd::List { account } => {
            let parent = named("accounts", &account);
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = stub
                    .list_roles(proto::ListRolesRequest {
                        parent: parent.clone(),
                        page_size: 1000,
                        page_token,
                    })
                    .await?
                    .into_inner();
                all.extend(page.roles);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if g.json {
                out::json(&json!(all.iter().map(out::role_json).collect::<Vec<_>>()));
            } else {
                let rows = all
                    .iter()
                    .map(|r| {
                        vec![
                            r.name.clone(),
                            r.display_name.clone(),
                            yes_no(r.builtin),
                            authorities_text(&r.authorities),
                        ]
                    })
                    .collect::<Vec<_>>();
                out::table(&["NAME", "DISPLAY NAME", "BUILTIN", "AUTHORITIES"], &rows);
            }
        }
        RolesCmd::Get { role } => {
            let role = stub
                .get_role(proto::GetRoleRequest {
                    name: in_account(&role, "roles")?,
                })
                .await?
                .into_inner()
                .role
                .unwrap_or_default();
            show(g, out::role_json(&role), role_fields(&role));
        }
        RolesCmd::Update {
            role,
            display_name,
            description,
            authorities,
            etag,
        } => {
            let mut update = RoleUpdate::new(in_account(&role, "roles")?);
            if let Some(v) = display_name {
                update = update.display_name(v);
            }
            if let Some(v) = description {
                update = update.description(v);
            }
            if !authorities.is_empty() {
                update = update.authorities(authorities.into_iter().map(authority));
            }
            nothing_to_update(
                update.is_empty(),
                "--display-name, --description, --authority",
            )?;
            if let Some(etag) = etag.etag {
                update = update.etag(etag);
            }
            let role = stub
                .update_role(update.into_request())
                .await?
                .into_inner()
                .role
                .unwrap_or_default();
            show(g, out::role_json(&role), role_fields(&role));
        }
        RolesCmd::Delete { role, etag } => {
            let name = in_account(&role, "roles")?;
            stub.delete_role(proto::DeleteRoleRequest {
                name: name.clone(),
                etag: etag_of(etag),
            })
            .await?;
            deleted(g, &name);
        }
    }
    Ok(0)
}

fn authorities_text(authorities: &[i32]) -> String {
    authorities
        .iter()
        .map(|a| short(out::authority_name(*a), "AUTHORITY_"))
        .collect::<Vec<_>>()
        .join(",")
}

fn role_fields(r: &proto::Role) -> Vec<(&'static str, String)> {
    vec![
        ("name", r.name.clone()),
        ("display name", r.display_name.clone()),
        ("description", r.description.clone()),
        ("authorities", authorities_text(&r.authorities)),
        ("builtin", yes_no(r.builtin)),
        ("etag", r.etag.clone()),
    ]
}

fn api_set_fields(s: &proto::ApiSet) -> Vec<(&'static str, String)> {
    vec![
        ("name", s.name.clone()),
        ("display name", s.display_name.clone()),
        ("description", s.description.clone()),
        ("methods", s.methods.join(", ")),
        ("builtin", yes_no(s.builtin)),
        ("etag", s.etag.clone()),
    ]
}

async fn api_sets(g: &Global, client: &Client, cmd: ApiSetsCmd) -> Result<u8> {
    let mut stub = client.api_keys();
    match cmd {
        ApiSetsCmd::List {
            available,
            available_in,
        } => {
            let available_in = match (available, available_in) {
                (_, Some(account)) => named("accounts", &account),
                (true, None) => "accounts/-".to_owned(),
                (false, None) => String::new(),
            };
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = stub
                    .list_api_sets(proto::ListApiSetsRequest {
                        page_size: 1000,
                        page_token,
                        available_in: available_in.clone(),
                    })
                    .await?
                    .into_inner();
                all.extend(page.api_sets);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if g.json {
                out::json(&json!(
                    all.iter().map(out::api_set_json).collect::<Vec<_>>()
                ));
            } else {
                let rows = all
                    .iter()
                    .map(|s| {
                        vec![
                            s.name.clone(),
                            s.display_name.clone(),
                            yes_no(s.builtin),
                            s.methods.len().to_string(),
                        ]
                    })
                    .collect::<Vec<_>>();
                out::table(&["NAME", "DISPLAY NAME", "BUILTIN", "METHODS"], &rows);
            }
        }
        ApiSetsCmd::Create {
            api_set_id,
            display_name,
            description,
            methods,
        } => {
            let set = stub
                .create_api_set(proto::CreateApiSetRequest {
                    api_set: Some(proto::ApiSet {
                        display_name,
                        description,
                        methods,
                        ..Default::default()
                    }),
                    api_set_id,
                })
                .await?
                .into_inner()
                .api_set
                .unwrap_or_default();
            show(g, out::api_set_json(&set), api_set_fields(&set));
        }
        ApiSetsCmd::Get { api_set } => {
            let set = stub
                .get_api_set(proto::GetApiSetRequest {
                    name: named("apiSets", &api_set),
                })
                .await?
                .into_inner()
                .api_set
                .unwrap_or_default();
            show(g, out::api_set_json(&set), api_set_fields(&set));
        }
        ApiSetsCmd::Update {
            api_set,
            display_name,
            description,
            methods,
            etag,
        } => {
            let mut update = ApiSetUpdate::new(named("apiSets", &api_set));
            if let Some(v) = display_name {
                update = update.display_name(v);
            }
            if let Some(v) = description {
                update = update.description(v);
            }
            if !methods.is_empty() {
                update = update.methods(methods);
            }
            nothing_to_update(update.is_empty(), "--display-name, --description, --method")?;
            if let Some(etag) = etag.etag {
                update = update.etag(etag);
            }
            let set = stub
                .update_api_set(update.into_request())
                .await?
                .into_inner()
                .api_set
                .unwrap_or_default();
            show(g, out::api_set_json(&set), api_set_fields(&set));
        }
        ApiSetsCmd::Delete { api_set, etag } => {
            let name = named("apiSets", &api_set);
            stub.delete_api_set(proto::DeleteApiSetRequest {
                name: name.clone(),
                etag: etag_of(etag),
            })
            .await?;
            deleted(g, &name);
        }
    }
    Ok(0)
}

fn scheme(arg: SchemeArg) -> credential::Scheme {
    match arg {
        SchemeArg::Basic => credential::Scheme::Basic,
        SchemeArg::Hmac => credential::Scheme::Hmac,
    }
}

async fn credentials(g: &Global, client: &Client, cmd: CredentialsCmd) -> Result<u8> {
    let mut stub = client.credentials();
    let shown = |credential: Option<proto::Credential>| {
        let c = credential.unwrap_or_default();
        show(g, out::credential_json(&c), out::credential_fields(&c));
    };
    match cmd {
        CredentialsCmd::Create {
            identifier,
            account,
            display_name,
            scheme: s,
            api_sets,
            contact_email,
            application,
            description,
            request_id,
        } => {
            let response = stub
                .create_credential(proto::CreateCredentialRequest {
                    parent: named("accounts", &account),
                    credential: Some(proto::Credential {
                        display_name,
                        description,
                        contact_email,
                        application,
                        scheme: scheme(s) as i32,
                        api_sets: api_sets.iter().map(|a| named("apiSets", a)).collect(),
                        ..Default::default()
                    }),
                    identifier,
                    request_id,
                })
                .await?
                .into_inner();
            let c = response.credential.unwrap_or_default();
            hand_over(
                g,
                out::credential_json(&c),
                out::credential_fields(&c),
                "clientSecret",
                "client secret",
                &response.client_secret,
            );
        }
        CredentialsCmd::List {
            account,
            state,
            scheme: s,
        } => {
            let parent = named("accounts", &account);
            let state = state.map_or(credential::State::Unspecified, |st| match st {
                CredentialStateArg::Active => credential::State::Active,
                CredentialStateArg::Disabled => credential::State::Disabled,
            }) as i32;
            let s = s.map_or(credential::Scheme::Unspecified, scheme) as i32;
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = stub
                    .list_credentials(proto::ListCredentialsRequest {
                        parent: parent.clone(),
                        page_size: 1000,
                        page_token,
                        state,
                        scheme: s,
                    })
                    .await?
                    .into_inner();
                all.extend(page.credentials);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if g.json {
                out::json(&json!(
                    all.iter().map(out::credential_json).collect::<Vec<_>>()
                ));
            } else {
                let rows = all
                    .iter()
                    .map(|c| {
                        vec![
                            c.client_id.clone(),
                            c.display_name.clone(),
                            short(out::scheme_name(c.scheme), "SCHEME_"),
                            short(out::credential_state_name(c.state), "STATE_"),
                            c.api_sets.join(","),
                            c.name.clone(),
                        ]
                    })
                    .collect::<Vec<_>>();
                out::table(
                    &[
                        "CLIENT ID",
                        "DISPLAY NAME",
                        "SCHEME",
                        "STATE",
                        "API SETS",
                        "NAME",
                    ],
                    &rows,
                );
            }
        }
        CredentialsCmd::Show { name } => {
            shown(
                stub.get_credential(proto::GetCredentialRequest { name })
                    .await?
                    .into_inner()
                    .credential,
            );
        }
        CredentialsCmd::Update {
            name,
            display_name,
            description,
            application,
            api_sets,
            etag,
        } => {
            let mut update = CredentialUpdate::new(name);
            if let Some(v) = display_name {
                update = update.display_name(v);
            }
            if let Some(v) = description {
                update = update.description(v);
            }
            if let Some(v) = application {
                update = update.application(v);
            }
            if !api_sets.is_empty() {
                update = update.api_sets(api_sets.iter().map(|a| named("apiSets", a)));
            }
            nothing_to_update(
                update.is_empty(),
                "--display-name, --description, --application, --api-set",
            )?;
            if let Some(etag) = etag.etag {
                update = update.etag(etag);
            }
            shown(
                stub.update_credential(update.into_request())
                    .await?
                    .into_inner()
                    .credential,
            );
        }
        CredentialsCmd::Renew {
            name,
            grace,
            request_id,
            etag,
        } => {
            let mut renewal = SecretRenewal::new(name).request_id(request_id);
            if let Some(grace) = grace {
                renewal = renewal.grace(grace);
            }
            if let Some(etag) = etag.etag {
                renewal = renewal.etag(etag);
            }
            let response = stub
                .renew_credential_secret(renewal.into_request())
                .await?
                .into_inner();
            let c = response.credential.unwrap_or_default();
            let mut json = out::credential_json(&c);
            let mut human = out::credential_fields(&c);
            if response.secret_version > 0 {
                json["secretVersion"] = response.secret_version.into();
                human.push(("new secret version", response.secret_version.to_string()));
            }
            hand_over(
                g,
                json,
                human,
                "clientSecret",
                "client secret",
                &response.client_secret,
            );
        }
        CredentialsCmd::Enable { name, etag } => shown(
            stub.enable_credential(proto::EnableCredentialRequest {
                name,
                etag: etag_of(etag),
            })
            .await?
            .into_inner()
            .credential,
        ),
        CredentialsCmd::Disable { name, etag } => shown(
            stub.disable_credential(proto::DisableCredentialRequest {
                name,
                etag: etag_of(etag),
            })
            .await?
            .into_inner()
            .credential,
        ),
        CredentialsCmd::Delete { name, etag } => {
            stub.delete_credential(proto::DeleteCredentialRequest {
                name: name.clone(),
                etag: etag_of(etag),
            })
            .await?;
            deleted(g, &name);
        }
    }
    Ok(0)
}

/// A new API key, shown once: written to a new `.APIKEY` file in `save`, or printed.
fn save_or_hand_over(
    g: &Global,
    response: &proto::CreateApiKeyResponse,
    save: Option<&std::path::Path>,
) -> Result<()> {
    let key = response.api_key.clone().unwrap_or_default();
    match save {
        Some(dir) if !response.key.is_empty() => {
            let file = ApiKeyFile::from_create_response(response).map_err(|e| {
                CliError::Local(format!("the key was created but cannot be saved: {e}"))
            })?;
            let path = file.write_new(dir).map_err(|e| {
                CliError::Local(format!(
                    "{} was created but cannot be saved in {}: {e}",
                    key.name,
                    dir.display()
                ))
            })?;
            let mut value = out::api_key_json(&key);
            value["file"] = json!(path.display().to_string());
            let mut human = out::api_key_fields(&key);
            human.push(("saved to", path.display().to_string()));
            show(g, value, human);
            eprintln!(
                "note: the key is only in {} (mode 0600); it will not be shown again",
                path.display()
            );
        }
        _ => hand_over(
            g,
            out::api_key_json(&key),
            out::api_key_fields(&key),
            "key",
            "API key",
            &response.key,
        ),
    }
    Ok(())
}

/// The enrollment token to redeem: `--token` (or `KEYWARD_ENROLLMENT_TOKEN`), or the first
/// line of `--token-file` (`-`: standard input).
fn enrollment_token(
    token: Option<String>,
    token_file: Option<&std::path::Path>,
) -> Result<SecretString> {
    let text = match (token, token_file) {
        (Some(token), _) => token,
        (None, Some(path)) if path.as_os_str() == "-" => {
            let mut line = String::new();
            std::io::stdin()
                .lock()
                .read_line(&mut line)
                .map_err(|e| CliError::Local(format!("cannot read the token from stdin: {e}")))?;
            line
        }
        (None, Some(path)) => std::fs::read_to_string(path).map_err(|e| {
            CliError::Local(format!(
                "cannot read the token from {}: {e}",
                path.display()
            ))
        })?,
        (None, None) => {
            return Err(CliError::Local(
                "give the enrollment token with KEYWARD_ENROLLMENT_TOKEN, --token-file or --token"
                    .to_owned(),
            ));
        }
    };
    let token = text.lines().next().unwrap_or_default().trim().to_owned();
    if !token.starts_with("kw_et_") {
        return Err(CliError::Local(
            "that is not an enrollment token: they start with kw_et_".to_owned(),
        ));
    }
    Ok(token.into())
}

async fn api_keys(g: &Global, client: &Client, cmd: ApiKeysCmd) -> Result<u8> {
    let mut stub = client.api_keys();
    match cmd {
        ApiKeysCmd::Create {
            display_name,
            parent,
            api_sets,
            description,
            ttl,
            save,
            request_id,
        } => {
            let response = stub
                .create_api_key(proto::CreateApiKeyRequest {
                    parent,
                    api_key: Some(proto::ApiKey {
                        display_name,
                        description,
                        api_sets: api_sets.iter().map(|a| named("apiSets", a)).collect(),
                        ..Default::default()
                    }),
                    ttl: ttl.map(grpc_duration).transpose()?,
                    request_id,
                })
                .await?
                .into_inner();
            save_or_hand_over(g, &response, save.as_deref())?;
        }
        ApiKeysCmd::Redeem {
            token,
            token_file,
            display_name,
            api_sets,
            description,
            ttl,
            save,
        } => {
            let token = enrollment_token(token, token_file.as_deref())?;
            // The token is the credential of this one call, whatever else was given.
            let redeemer = connect_with(g, Some(token.expose_secret())).await?;
            let redeemed = redeemer
                .api_keys()
                .redeem_enrollment_token(proto::RedeemEnrollmentTokenRequest {
                    api_key: Some(proto::ApiKey {
                        display_name,
                        description,
                        api_sets: api_sets.iter().map(|a| named("apiSets", a)).collect(),
                        ..Default::default()
                    }),
                    ttl: ttl.map(grpc_duration).transpose()?,
                })
                .await?
                .into_inner();
            let response = proto::CreateApiKeyResponse {
                api_key: redeemed.api_key,
                key: redeemed.key,
                suggested_file_name: redeemed.suggested_file_name,
            };
            save_or_hand_over(g, &response, save.as_deref())?;
        }
        ApiKeysCmd::List { parent, state } => {
            let state = state.map_or(proto::api_key::State::Unspecified, |s| match s {
                ApiKeyStateArg::Active => proto::api_key::State::Active,
                ApiKeyStateArg::Revoked => proto::api_key::State::Revoked,
                ApiKeyStateArg::Expired => proto::api_key::State::Expired,
            }) as i32;
            let mut all = Vec::new();
            let mut page_token = String::new();
            loop {
                let page = stub
                    .list_api_keys(proto::ListApiKeysRequest {
                        parent: parent.clone(),
                        page_size: 1000,
                        page_token,
                        state,
                    })
                    .await?
                    .into_inner();
                all.extend(page.api_keys);
                if page.next_page_token.is_empty() {
                    break;
                }
                page_token = page.next_page_token;
            }
            if g.json {
                out::json(&json!(
                    all.iter().map(out::api_key_json).collect::<Vec<_>>()
                ));
            } else {
                let rows = all
                    .iter()
                    .map(|k| {
                        vec![
                            k.display_name.clone(),
                            k.key_prefix.clone(),
                            short(out::api_key_state_name(k.state), "STATE_"),
                            k.api_sets.join(","),
                            out::time(k.expire_time.as_ref()),
                            out::time(k.last_used_time.as_ref()),
                            k.name.clone(),
                        ]
                    })
                    .collect::<Vec<_>>();
                out::table(
                    &[
                        "DISPLAY NAME",
                        "PREFIX",
                        "STATE",
                        "API SETS",
                        "EXPIRES",
                        "LAST USED",
                        "NAME",
                    ],
                    &rows,
                );
            }
        }
        ApiKeysCmd::Get { name } => {
            let key = stub
                .get_api_key(proto::GetApiKeyRequest { name })
                .await?
                .into_inner()
                .api_key
                .unwrap_or_default();
            show(g, out::api_key_json(&key), out::api_key_fields(&key));
        }
        ApiKeysCmd::Update {
            name,
            display_name,
            description,
            etag,
        } => {
            let mut update = ApiKeyUpdate::new(name);
            if let Some(v) = display_name {
                update = update.display_name(v);
            }
            if let Some(v) = description {
                update = update.description(v);
            }
            nothing_to_update(update.is_empty(), "--display-name, --description")?;
            if let Some(etag) = etag.etag {
                update = update.etag(etag);
            }
            let key = stub
                .update_api_key(update.into_request())
                .await?
                .into_inner()
                .api_key
                .unwrap_or_default();
            show(g, out::api_key_json(&key), out::api_key_fields(&key));
        }
        ApiKeysCmd::Revoke { name } => {
            let key = stub
                .revoke_api_key(proto::RevokeApiKeyRequest { name })
                .await?
                .into_inner()
                .api_key
                .unwrap_or_default();
            show(g, out::api_key_json(&key), out::api_key_fields(&key));
        }
        ApiKeysCmd::Delete { name, etag } => {
            stub.delete_api_key(proto::DeleteApiKeyRequest {
                name: name.clone(),
                etag: etag_of(etag),
            })
            .await?;
            deleted(g, &name);
        }
    }
    Ok(0)
}

async fn audit(g: &Global, client: &Client, cmd: AuditCmd) -> Result<u8> {
    let mut stub = client.accounts();
    let (account, limit) = match cmd {
        AuditCmd::List { account, limit } => (account, limit),
        AuditCmd::Export { account, output } => {
            return crate::audit_chain::export(client, &named("accounts", &account), &output).await;
        }
        // Handled without a connection.
        AuditCmd::Verify { .. } => return Ok(0),
    };
    let parent = named("accounts", &account);
    let limit = limit.map_or(usize::MAX, |n| n as usize);
    let page_size = i32::try_from(limit.min(1000)).unwrap_or(1000);
    let mut all = Vec::new();
    let mut page_token = String::new();
    while all.len() < limit {
        let page = stub
            .list_audit_events(proto::ListAuditEventsRequest {
                parent: parent.clone(),
                page_size,
                page_token,
            })
            .await?
            .into_inner();
        all.extend(page.audit_events);
        if page.next_page_token.is_empty() {
            break;
        }
        page_token = page.next_page_token;
    }
    all.truncate(limit);
    if g.json {
        out::json(&json!(
            all.iter().map(out::audit_event_json).collect::<Vec<_>>()
        ));
    } else {
        let rows = all
            .iter()
            .map(|e| {
                vec![
                    out::time(e.event_time.as_ref()),
                    short(out::outcome_name(e.outcome), "OUTCOME_"),
                    e.method.rsplit('/').next().unwrap_or_default().to_owned(),
                    e.actor.clone(),
                    e.resource.clone(),
                    e.count.to_string(),
                    e.detail.clone(),
                ]
            })
            .collect::<Vec<_>>();
        out::table(
            &[
                "TIME", "OUTCOME", "METHOD", "ACTOR", "RESOURCE", "COUNT", "DETAIL",
            ],
            &rows,
        );
    }
    Ok(0)
}

async fn verify(g: &Global, client: &Client, cmd: VerifyCmd) -> Result<u8> {
    let decision = match cmd {
        VerifyCmd::ApiKey {
            key,
            key_file,
            api_set,
            api_method,
        } => {
            let key = match (key, key_file) {
                (Some(key), _) => key,
                (None, Some(path)) => key_from_file(&path)?.expose_secret().to_owned(),
                (None, None) => read_stdin_line("API key")?,
            };
            client
                .api_keys()
                .verify_api_key(proto::VerifyApiKeyRequest {
                    key,
                    api_set: api_set.map(|a| named("apiSets", &a)).unwrap_or_default(),
                    api_method: api_method.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .decision
        }
        VerifyCmd::Basic {
            client_id,
            secret,
            secret_stdin,
            api_set,
            api_method,
        } => {
            let client_secret = secret_input(secret, secret_stdin)?;
            client
                .credentials()
                .verify_client_secret(proto::VerifyClientSecretRequest {
                    client_id,
                    client_secret,
                    authorization: String::new(),
                    api_set: api_set.map(|a| named("apiSets", &a)).unwrap_or_default(),
                    api_method: api_method.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .decision
        }
        VerifyCmd::Hmac {
            authorization,
            method,
            path,
            query,
            body_file,
            body_sha256,
            api_set,
            api_method,
        } => {
            let body_sha256 = match body_sha256 {
                Some(digest) => digest,
                None => {
                    keyward_client::hmac::signing::body_sha256(&read_body(body_file.as_deref())?)
                }
            };
            client
                .credentials()
                .verify_hmac_signature(proto::VerifyHmacSignatureRequest {
                    authorization,
                    http_method: method,
                    path,
                    query,
                    body_sha256,
                    api_set: api_set.map(|a| named("apiSets", &a)).unwrap_or_default(),
                    api_method: api_method.unwrap_or_default(),
                })
                .await?
                .into_inner()
                .decision
        }
    };
    let decision = decision.unwrap_or(proto::Decision {
        reason: Reason::Unspecified as i32,
        ..Default::default()
    });
    show(
        g,
        out::decision_json(&decision),
        out::decision_fields(&decision),
    );
    if decision.valid {
        Ok(0)
    } else {
        eprintln!(
            "refused: {}",
            short(out::reason_name(decision.reason), "REASON_")
        );
        Ok(REFUSED)
    }
}

fn sign(g: &Global, args: SignArgs) -> Result<u8> {
    let secret = secret_input(args.secret, args.secret_stdin)?;
    let signer = keyward_client::hmac::HmacSigner::new(args.client_id, &secret)
        .map_err(|e| CliError::Local(format!("cannot sign: {e}")))?;
    let body = read_body(args.body_file.as_deref())?;
    let signed = signer
        .sign(&args.method, &args.path, &args.query, &body)
        .map_err(|e| CliError::Local(format!("cannot sign: {e}")))?;
    if g.json {
        out::json(&json!({
            "authorization": signed.authorization,
            "bodySha256": signed.body_sha256,
        }));
    } else {
        println!("Authorization: {}", signed.authorization);
        println!("X-Body-SHA256: {}", signed.body_sha256);
    }
    Ok(0)
}
