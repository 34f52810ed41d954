//! What the CLI prints: aligned tables and `key: value` blocks for people, JSON for
//! scripts. Secrets appear only where a command hands one over.

use keyward_client::proto;
use serde_json::{Value, json};

/// Writes rows as columns padded to their widest cell.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) {
    print!("{}", table_text(headers, rows));
}

/// The text of [`table`]: one line per row, no trailing spaces.
fn table_text(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let header: Vec<String> = headers.iter().map(|h| (*h).to_owned()).collect();
    let mut text = String::new();
    for cells in std::iter::once(&header).chain(rows) {
        let mut line = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            line.push_str(&format!("{cell:<width$}  "));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    text
}

/// Writes `field: value` lines, the labels aligned; empty values are left out.
pub(crate) fn fields(pairs: &[(&str, String)]) {
    let pairs: Vec<_> = pairs.iter().filter(|(_, v)| !v.is_empty()).collect();
    let width = pairs.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    for (key, value) in pairs {
        println!("{:<width$} {value}", format!("{key}:"));
    }
}

/// Pretty JSON on stdout.
pub(crate) fn json(value: &Value) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
    );
}

/// The warning that goes with every secret handed over.
pub(crate) fn warn_shown_once(what: &str) {
    eprintln!("warning: the {what} above is shown ONCE and will not be shown again; store it now");
}

/// A timestamp in RFC 3339, or empty.
pub(crate) fn time(ts: Option<&prost_types::Timestamp>) -> String {
    ts.map(ToString::to_string).unwrap_or_default()
}

fn time_json(ts: Option<&prost_types::Timestamp>) -> Value {
    ts.map_or(Value::Null, |t| Value::String(t.to_string()))
}

/// An enum value name without its prefix (`SCHEME_BASIC` → `BASIC`).
pub(crate) fn short(name: &str, prefix: &str) -> String {
    name.strip_prefix(prefix).unwrap_or(name).to_owned()
}

pub(crate) fn scheme_name(value: i32) -> &'static str {
    proto::credential::Scheme::try_from(value)
        .unwrap_or(proto::credential::Scheme::Unspecified)
        .as_str_name()
}

pub(crate) fn credential_state_name(value: i32) -> &'static str {
    proto::credential::State::try_from(value)
        .unwrap_or(proto::credential::State::Unspecified)
        .as_str_name()
}

pub(crate) fn api_key_state_name(value: i32) -> &'static str {
    proto::api_key::State::try_from(value)
        .unwrap_or(proto::api_key::State::Unspecified)
        .as_str_name()
}

pub(crate) fn enrollment_token_state_name(value: i32) -> &'static str {
    proto::enrollment_token::State::try_from(value)
        .unwrap_or(proto::enrollment_token::State::Unspecified)
        .as_str_name()
}

pub(crate) fn enrollment_token_json(t: &proto::EnrollmentToken) -> Value {
    json!({
        "name": t.name,
        "apiSets": t.api_sets,
        "state": enrollment_token_state_name(t.state),
        "tokenPrefix": t.token_prefix,
        "expireTime": time_json(t.expire_time.as_ref()),
        "creator": t.creator,
        "createTime": time_json(t.create_time.as_ref()),
        "redeemTime": time_json(t.redeem_time.as_ref()),
        "apiKey": t.api_key,
        "revokeTime": time_json(t.revoke_time.as_ref()),
    })
}

pub(crate) fn enrollment_token_fields(t: &proto::EnrollmentToken) -> Vec<(&'static str, String)> {
    vec![
        ("name", t.name.clone()),
        (
            "state",
            short(enrollment_token_state_name(t.state), "STATE_"),
        ),
        ("token prefix", t.token_prefix.clone()),
        ("api sets", t.api_sets.join(", ")),
        ("expires", time(t.expire_time.as_ref())),
        ("created", time(t.create_time.as_ref())),
        ("created by", t.creator.clone()),
        ("redeemed", time(t.redeem_time.as_ref())),
        ("api key", t.api_key.clone()),
        ("revoked", time(t.revoke_time.as_ref())),
    ]
}

pub(crate) fn user_state_name(value: i32) -> &'static str {
    proto::user::State::try_from(value)
        .unwrap_or(proto::user::State::Unspecified)
        .as_str_name()
}

pub(crate) fn reason_name(value: i32) -> &'static str {
    proto::decision::Reason::try_from(value)
        .unwrap_or(proto::decision::Reason::Unspecified)
        .as_str_name()
}

pub(crate) fn outcome_name(value: i32) -> &'static str {
    proto::audit_event::Outcome::try_from(value)
        .unwrap_or(proto::audit_event::Outcome::Unspecified)
        .as_str_name()
}

pub(crate) fn authority_name(value: i32) -> &'static str {
    proto::Authority::try_from(value)
        .unwrap_or(proto::Authority::Unspecified)
        .as_str_name()
}

pub(crate) fn account_json(a: &proto::Account) -> Value {
    json!({
        "name": a.name,
        "displayName": a.display_name,
        "clientIdPrefix": a.client_id_prefix,
        "verified": a.verified,
        "operator": a.operator,
        "entitledApiSets": a.entitled_api_sets,
        "createTime": time_json(a.create_time.as_ref()),
        "updateTime": time_json(a.update_time.as_ref()),
        "etag": a.etag,
    })
}

pub(crate) fn user_json(u: &proto::User) -> Value {
    json!({
        "name": u.name,
        "displayName": u.display_name,
        "email": u.email,
        "roles": u.roles,
        "state": user_state_name(u.state),
        "createTime": time_json(u.create_time.as_ref()),
        "updateTime": time_json(u.update_time.as_ref()),
        "etag": u.etag,
    })
}

pub(crate) fn role_json(r: &proto::Role) -> Value {
    json!({
        "name": r.name,
        "displayName": r.display_name,
        "description": r.description,
        "authorities": r.authorities.iter().map(|a| authority_name(*a)).collect::<Vec<_>>(),
        "builtin": r.builtin,
        "createTime": time_json(r.create_time.as_ref()),
        "updateTime": time_json(r.update_time.as_ref()),
        "etag": r.etag,
    })
}

pub(crate) fn api_set_json(s: &proto::ApiSet) -> Value {
    json!({
        "name": s.name,
        "displayName": s.display_name,
        "description": s.description,
        "methods": s.methods,
        "builtin": s.builtin,
        "createTime": time_json(s.create_time.as_ref()),
        "updateTime": time_json(s.update_time.as_ref()),
        "etag": s.etag,
    })
}

pub(crate) fn credential_json(c: &proto::Credential) -> Value {
    json!({
        "name": c.name,
        "clientId": c.client_id,
        "displayName": c.display_name,
        "description": c.description,
        "contactEmail": c.contact_email,
        "application": c.application,
        "scheme": scheme_name(c.scheme),
        "apiSets": c.api_sets,
        "state": credential_state_name(c.state),
        "expireTime": time_json(c.expire_time.as_ref()),
        "secretVersions": c.secret_versions.iter().map(|v| json!({
            "version": v.version,
            "createTime": time_json(v.create_time.as_ref()),
            "expireTime": time_json(v.expire_time.as_ref()),
            "lastUsedTime": time_json(v.last_used_time.as_ref()),
        })).collect::<Vec<_>>(),
        "creator": c.creator,
        "createTime": time_json(c.create_time.as_ref()),
        "updateTime": time_json(c.update_time.as_ref()),
        "etag": c.etag,
    })
}

pub(crate) fn api_key_json(k: &proto::ApiKey) -> Value {
    json!({
        "name": k.name,
        "displayName": k.display_name,
        "description": k.description,
        "apiSets": k.api_sets,
        "state": api_key_state_name(k.state),
        "keyPrefix": k.key_prefix,
        "expireTime": time_json(k.expire_time.as_ref()),
        "revokeTime": time_json(k.revoke_time.as_ref()),
        "lastUsedTime": time_json(k.last_used_time.as_ref()),
        "creator": k.creator,
        "createTime": time_json(k.create_time.as_ref()),
        "updateTime": time_json(k.update_time.as_ref()),
        "etag": k.etag,
    })
}

pub(crate) fn audit_event_json(e: &proto::AuditEvent) -> Value {
    json!({
        "name": e.name,
        "eventTime": time_json(e.event_time.as_ref()),
        "actor": e.actor,
        "method": e.method,
        "resource": e.resource,
        "outcome": outcome_name(e.outcome),
        "detail": e.detail,
        "count": e.count.to_string(),
    })
}

pub(crate) fn decision_json(d: &proto::Decision) -> Value {
    json!({
        "valid": d.valid,
        "reason": reason_name(d.reason),
        "principal": d.principal,
        "account": d.account,
        "user": d.user,
        "clientId": d.client_id,
        "apiSets": d.api_sets,
        "secretVersion": d.secret_version,
        "expireTime": time_json(d.expire_time.as_ref()),
    })
}

pub(crate) fn account_fields(a: &proto::Account) -> Vec<(&'static str, String)> {
    vec![
        ("name", a.name.clone()),
        ("display name", a.display_name.clone()),
        ("client id prefix", a.client_id_prefix.clone()),
        ("verified", a.verified.to_string()),
        ("operator", a.operator.to_string()),
        (
            "entitled api sets",
            if a.operator {
                "every API set (operator account)".to_owned()
            } else if a.entitled_api_sets.is_empty() {
                "none".to_owned()
            } else {
                a.entitled_api_sets.join(", ")
            },
        ),
        ("created", time(a.create_time.as_ref())),
        ("etag", a.etag.clone()),
    ]
}

pub(crate) fn credential_fields(c: &proto::Credential) -> Vec<(&'static str, String)> {
    let mut pairs = vec![
        ("name", c.name.clone()),
        ("client id", c.client_id.clone()),
        ("display name", c.display_name.clone()),
        ("description", c.description.clone()),
        ("contact email", c.contact_email.clone()),
        ("application", c.application.clone()),
        ("scheme", short(scheme_name(c.scheme), "SCHEME_")),
        ("api sets", c.api_sets.join(", ")),
        ("state", short(credential_state_name(c.state), "STATE_")),
        ("expires", time(c.expire_time.as_ref())),
        ("creator", c.creator.clone()),
        ("created", time(c.create_time.as_ref())),
        ("etag", c.etag.clone()),
    ];
    for v in &c.secret_versions {
        let mut line = format!("v{} created {}", v.version, time(v.create_time.as_ref()));
        if let Some(expire) = &v.expire_time {
            line.push_str(&format!(", expires {expire}"));
        }
        if let Some(used) = &v.last_used_time {
            line.push_str(&format!(", last used {used}"));
        }
        pairs.push(("secret", line));
    }
    pairs
}

pub(crate) fn api_key_fields(k: &proto::ApiKey) -> Vec<(&'static str, String)> {
    vec![
        ("name", k.name.clone()),
        ("display name", k.display_name.clone()),
        ("description", k.description.clone()),
        ("key prefix", k.key_prefix.clone()),
        ("api sets", k.api_sets.join(", ")),
        ("state", short(api_key_state_name(k.state), "STATE_")),
        ("expires", time(k.expire_time.as_ref())),
        ("revoked", time(k.revoke_time.as_ref())),
        ("last used", time(k.last_used_time.as_ref())),
        ("created", time(k.create_time.as_ref())),
        ("created by", k.creator.clone()),
        ("etag", k.etag.clone()),
    ]
}

pub(crate) fn decision_fields(d: &proto::Decision) -> Vec<(&'static str, String)> {
    let mut pairs = vec![(
        "decision",
        if d.valid {
            "VALID".to_owned()
        } else {
            format!("REFUSED ({})", short(reason_name(d.reason), "REASON_"))
        },
    )];
    let optional = [
        ("principal", d.principal.clone()),
        ("account", d.account.clone()),
        ("user", d.user.clone()),
        ("client id", d.client_id.clone()),
        ("api sets", d.api_sets.join(", ")),
        ("expires", time(d.expire_time.as_ref())),
    ];
    pairs.extend(optional.into_iter().filter(|(_, v)| !v.is_empty()));
    if d.secret_version != 0 {
        pairs.push(("secret version", d.secret_version.to_string()));
    }
    pairs
}

pub(crate) fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_owned()
}

pub(crate) fn user_fields(u: &proto::User) -> Vec<(&'static str, String)> {
    vec![
        ("name", u.name.clone()),
        ("display name", u.display_name.clone()),
        ("email", u.email.clone()),
        ("state", short(user_state_name(u.state), "STATE_")),
        ("roles", u.roles.join(", ")),
        ("etag", u.etag.clone()),
    ]
}

fn authorities_text(authorities: &[i32]) -> String {
    authorities
        .iter()
        .map(|a| short(authority_name(*a), "AUTHORITY_"))
        .collect::<Vec<_>>()
        .join(",")
}

pub(crate) fn role_fields(r: &proto::Role) -> Vec<(&'static str, String)> {
    vec![
        ("name", r.name.clone()),
        ("display name", r.display_name.clone()),
        ("description", r.description.clone()),
        ("authorities", authorities_text(&r.authorities)),
        ("builtin", yes_no(r.builtin)),
        ("etag", r.etag.clone()),
    ]
}

pub(crate) fn api_set_fields(s: &proto::ApiSet) -> Vec<(&'static str, String)> {
    vec![
        ("name", s.name.clone()),
        ("display name", s.display_name.clone()),
        ("description", s.description.clone()),
        ("methods", s.methods.join(", ")),
        ("builtin", yes_no(s.builtin)),
        ("etag", s.etag.clone()),
    ]
}

/// A resource as `--json` shows it.
pub(crate) trait Json {
    fn json(&self) -> Value;
}

/// A resource as `get` and the commands that change one show it: JSON, or `key: value`
/// lines.
pub(crate) trait Shown: Json {
    fn fields(&self) -> Vec<(&'static str, String)>;
}

macro_rules! json_of {
    ($($ty:ty => $json:ident;)*) => {$(
        impl Json for $ty {
            fn json(&self) -> Value {
                $json(self)
            }
        }
    )*};
}

json_of! {
    proto::Account => account_json;
    proto::User => user_json;
    proto::Role => role_json;
    proto::ApiSet => api_set_json;
    proto::Credential => credential_json;
    proto::ApiKey => api_key_json;
    proto::EnrollmentToken => enrollment_token_json;
    proto::Decision => decision_json;
    proto::AuditEvent => audit_event_json;
}

macro_rules! shown {
    ($($ty:ty => $fields:ident;)*) => {$(
        impl Shown for $ty {
            fn fields(&self) -> Vec<(&'static str, String)> {
                $fields(self)
            }
        }
    )*};
}

shown! {
    proto::Account => account_fields;
    proto::User => user_fields;
    proto::Role => role_fields;
    proto::ApiSet => api_set_fields;
    proto::Credential => credential_fields;
    proto::ApiKey => api_key_fields;
    proto::EnrollmentToken => enrollment_token_fields;
    proto::Decision => decision_fields;
}

/// A resource as `list` shows it: a JSON array of them, or one table row each.
pub(crate) trait Listed: Json {
    const HEADERS: &'static [&'static str];
    fn row(&self) -> Vec<String>;
}

impl Listed for proto::Account {
    const HEADERS: &'static [&'static str] = &[
        "NAME",
        "DISPLAY NAME",
        "PREFIX",
        "VERIFIED",
        "OPERATOR",
        "CREATED",
    ];
    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.display_name.clone(),
            self.client_id_prefix.clone(),
            yes_no(self.verified),
            yes_no(self.operator),
            time(self.create_time.as_ref()),
        ]
    }
}

impl Listed for proto::User {
    const HEADERS: &'static [&'static str] = &["NAME", "DISPLAY NAME", "EMAIL", "STATE", "ROLES"];
    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.display_name.clone(),
            self.email.clone(),
            short(user_state_name(self.state), "STATE_"),
            self.roles.join(","),
        ]
    }
}

impl Listed for proto::EnrollmentToken {
    const HEADERS: &'static [&'static str] = &["NAME", "STATE", "API SETS", "EXPIRES", "API KEY"];
    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            short(enrollment_token_state_name(self.state), "STATE_"),
            self.api_sets.join(", "),
            time(self.expire_time.as_ref()),
            self.api_key.clone(),
        ]
    }
}

impl Listed for proto::Role {
    const HEADERS: &'static [&'static str] = &["NAME", "DISPLAY NAME", "BUILTIN", "AUTHORITIES"];
    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.display_name.clone(),
            yes_no(self.builtin),
            authorities_text(&self.authorities),
        ]
    }
}

impl Listed for proto::ApiSet {
    const HEADERS: &'static [&'static str] = &["NAME", "DISPLAY NAME", "BUILTIN", "METHODS"];
    fn row(&self) -> Vec<String> {
        vec![
            self.name.clone(),
            self.display_name.clone(),
            yes_no(self.builtin),
            self.methods.len().to_string(),
        ]
    }
}

impl Listed for proto::Credential {
    const HEADERS: &'static [&'static str] = &[
        "CLIENT ID",
        "DISPLAY NAME",
        "SCHEME",
        "STATE",
        "API SETS",
        "NAME",
    ];
    fn row(&self) -> Vec<String> {
        vec![
            self.client_id.clone(),
            self.display_name.clone(),
            short(scheme_name(self.scheme), "SCHEME_"),
            short(credential_state_name(self.state), "STATE_"),
            self.api_sets.join(","),
            self.name.clone(),
        ]
    }
}

impl Listed for proto::ApiKey {
    const HEADERS: &'static [&'static str] = &[
        "DISPLAY NAME",
        "PREFIX",
        "STATE",
        "API SETS",
        "EXPIRES",
        "LAST USED",
        "NAME",
    ];
    fn row(&self) -> Vec<String> {
        vec![
            self.display_name.clone(),
            self.key_prefix.clone(),
            short(api_key_state_name(self.state), "STATE_"),
            self.api_sets.join(","),
            time(self.expire_time.as_ref()),
            time(self.last_used_time.as_ref()),
            self.name.clone(),
        ]
    }
}

impl Listed for proto::AuditEvent {
    const HEADERS: &'static [&'static str] = &[
        "TIME", "OUTCOME", "METHOD", "ACTOR", "RESOURCE", "COUNT", "DETAIL",
    ];
    fn row(&self) -> Vec<String> {
        vec![
            time(self.event_time.as_ref()),
            short(outcome_name(self.outcome), "OUTCOME_"),
            self.method
                .rsplit('/')
                .next()
                .unwrap_or_default()
                .to_owned(),
            self.actor.clone(),
            self.resource.clone(),
            self.count.to_string(),
            self.detail.clone(),
        ]
    }
}

/// One resource, as JSON or `key: value` lines.
pub(crate) fn show(as_json: bool, resource: &impl Shown) {
    if as_json {
        json(&resource.json());
    } else {
        fields(&resource.fields());
    }
}

/// Resources, as a JSON array or a table.
pub(crate) fn list<T: Listed>(as_json: bool, items: &[T]) {
    if as_json {
        json(&Value::Array(items.iter().map(Json::json).collect()));
    } else {
        let rows: Vec<Vec<String>> = items.iter().map(Listed::row).collect();
        table(T::HEADERS, &rows);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_columns_are_aligned_without_trailing_spaces() {
        let text = table_text(
            &["NAME", "STATE"],
            &[
                vec!["accounts/acme".to_owned(), "ACTIVE".to_owned()],
                vec!["a".to_owned(), String::new()],
            ],
        );
        assert_eq!(text, "NAME           STATE\naccounts/acme  ACTIVE\na\n");
    }

    #[test]
    fn enum_names_lose_their_prefix() {
        assert_eq!(short(scheme_name(2), "SCHEME_"), "HMAC");
        assert_eq!(reason_name(3), "REASON_REVOKED");
        assert_eq!(reason_name(99), "REASON_UNSPECIFIED");
    }
}
