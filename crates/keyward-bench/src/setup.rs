//! What the phases need, made through the public API with `keyward-client`: the operator
//! key (from `--bootstrap-key-file`) creates a verified account `bench` with an
//! administrator and the platform API set `bench.api`; the administrator creates the
//! gateway keys (only `keyward.verify`) and the target keys (only `bench.api`).

use std::time::Duration;

use keyward_client::proto::VerifyApiKeyRequest;
use keyward_client::proto::decision::Reason;
use keyward_client::{AccountUpdate, Client, NewAccount, NewApiKey, NewApiSet};
use secrecy::ExposeSecret as _;

use crate::keys::{self, API_SET, API_SET_ID};
use crate::process::KeywardSpec;
use crate::{Result, fail};

/// The account the benchmark works in.
pub(crate) const ACCOUNT: &str = "bench";

/// An API key created through the API.
#[derive(Clone, Debug)]
pub(crate) struct CreatedKey {
    /// The key itself.
    pub(crate) token: String,
    /// Its resource name (`accounts/…/users/…/apiKeys/…`), to revoke it.
    pub(crate) name: String,
}

/// The account, its administrator and the gateway keys.
#[derive(Clone, Debug)]
pub(crate) struct World {
    /// The administrator of `bench`, who creates and revokes keys.
    pub(crate) admin: Client,
    /// The administrator's key (to reconnect after a restart).
    pub(crate) admin_key: String,
    /// The administrator's user ID (the owner of every key).
    pub(crate) admin_user_id: String,
    /// The gateway's key: only `keyward.verify`.
    pub(crate) gateway_key: String,
    /// A second gateway's key, for the attacker's traffic.
    pub(crate) attacker_gateway_key: String,
}

/// A client of the server at `addr` calling with `key`.
pub(crate) async fn connect(addr: std::net::SocketAddr, key: &str) -> Result<Client> {
    Ok(Client::builder(format!("http://{addr}"))
        .api_key(key)
        .timeout(Duration::from_secs(60))
        .connect()
        .await?)
}

/// Reads the operator key written by the first start of `spec`.
pub(crate) fn operator_key(spec: &KeywardSpec) -> Result<String> {
    let path = spec.bootstrap_key_file();
    let text = std::fs::read_to_string(&path)
        .map_err(|e| fail!("operator key file {}: {e}", path.display()))?;
    Ok(text.trim().to_owned())
}

/// Creates the account, the API set and the gateway keys on a fresh server.
pub(crate) async fn world(spec: &KeywardSpec) -> Result<World> {
    let operator = connect(spec.addr, &operator_key(spec)?).await?;
    let created = operator
        .create_account(
            NewAccount::new(ACCOUNT)
                .display_name("Benchmark")
                .administrator("Bench admin", "admin@bench.example"),
        )
        .await?;
    operator
        .verify_account(format!("accounts/{ACCOUNT}"))
        .await?;
    operator
        .create_api_set(
            NewApiSet::new(API_SET_ID)
                .display_name("Benchmark API")
                .methods(["/bench.v1.Bench/Call"]),
        )
        .await?;
    operator
        .update_account(
            AccountUpdate::new(format!("accounts/{ACCOUNT}")).entitled_api_sets([API_SET]),
        )
        .await?;
    let admin_user_id = created
        .administrator
        .name
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned();
    let admin_key = created.administrator_api_key.expose_secret().to_owned();
    let admin = connect(spec.addr, &admin_key).await?;
    let gateway = create_key(&admin, "gateway", "apiSets/keyward.verify").await?;
    let attacker_gateway = create_key(&admin, "attacker-gateway", "apiSets/keyward.verify").await?;
    Ok(World {
        admin,
        admin_key,
        admin_user_id,
        gateway_key: gateway.token,
        attacker_gateway_key: attacker_gateway.token,
    })
}

async fn create_key(admin: &Client, name: &str, api_set: &str) -> Result<CreatedKey> {
    let created = admin
        .create_api_key(NewApiKey::new(name, [api_set]))
        .await?;
    Ok(CreatedKey {
        token: created.key.expose_secret().to_owned(),
        name: created.api_key.name,
    })
}

/// `count` target keys (holding only `bench.api`), created 8 at a time.
pub(crate) async fn target_keys(
    world: &World,
    prefix: &str,
    count: usize,
) -> Result<Vec<CreatedKey>> {
    let mut keys = Vec::with_capacity(count);
    let indices: Vec<usize> = (0..count).collect();
    for batch in indices.chunks(8) {
        let mut tasks = tokio::task::JoinSet::new();
        for i in batch {
            let (admin, name) = (world.admin.clone(), format!("{prefix}-{i}"));
            tasks.spawn(async move { create_key(&admin, &name, API_SET).await });
        }
        while let Some(created) = tasks.join_next().await {
            keys.push(created??);
        }
    }
    Ok(keys)
}

/// The decision a body must get.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expect {
    /// Valid for `bench.api`.
    Valid,
    /// Refused for this reason.
    Refused(Reason),
}

/// Sends the exact request a body carries through the client (as the gateway `gateway`),
/// and fails unless the decision is `expect`.
pub(crate) async fn check_body(
    gateway: &Client,
    body: &bytes::Bytes,
    expect: Expect,
    what: &str,
) -> Result<()> {
    let request: VerifyApiKeyRequest = keys::decode_verify_body(body)?;
    let decision = gateway
        .api_keys()
        .verify_api_key(request)
        .await
        .map_err(|status| fail!("{what}: VerifyApiKey failed: {status}"))?
        .into_inner()
        .decision
        .ok_or_else(|| fail!("{what}: VerifyApiKey answered without a decision"))?;
    let got = if decision.valid {
        Expect::Valid
    } else {
        Expect::Refused(decision.reason())
    };
    if got != expect {
        return Err(fail!(
            "{what}: expected {expect:?}, the server decided {got:?}"
        ));
    }
    Ok(())
}

/// Checks the first, last and a few spread bodies of a set.
pub(crate) async fn check_bodies(
    gateway: &Client,
    bodies: &[bytes::Bytes],
    expect: Expect,
    what: &str,
) -> Result<()> {
    let n = bodies.len();
    if n == 0 {
        return Err(fail!("{what}: no bodies"));
    }
    let mut picks: Vec<usize> = vec![0, n / 4, n / 2, 3 * n / 4, n - 1];
    picks.dedup();
    for i in picks {
        check_body(gateway, &bodies[i], expect, &format!("{what} #{i}")).await?;
    }
    Ok(())
}
