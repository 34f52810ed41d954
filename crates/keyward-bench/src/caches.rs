//! `keyward-bench caches`: `quick_cache` (sync::Cache) against `moka` (sync::Cache) on the
//! verification index's workload: N entries keyed by a 20-hex key ID, each an `Arc` of what
//! a verified key needs (account, user, state, expiry, API sets, the PHC string); the insert
//! rate, `get` throughput on 2 threads over random keys (all hits), nanoseconds per `get`
//! (p50, p99) and the resident memory the filled cache adds.
//!
//! Each cache is measured in a process of its own (`keyward-bench cache-worker`), so that
//! one's memory does not count against the other.

use std::hint::black_box;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::keys::Rng;
use crate::report::Figures;
use crate::{Result, fail};

/// The cache implementations compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Implementation {
    /// `quick_cache::sync::Cache`.
    QuickCache,
    /// `moka::sync::Cache`.
    Moka,
}

impl Implementation {
    fn name(self) -> &'static str {
        match self {
            Implementation::QuickCache => "quick_cache",
            Implementation::Moka => "moka",
        }
    }

    fn flag(self) -> &'static str {
        match self {
            Implementation::QuickCache => "quick-cache",
            Implementation::Moka => "moka",
        }
    }
}

/// What the index keeps for a verified key.
#[allow(dead_code, reason = "held for its size and shape, never read")]
struct Entry {
    account: Arc<str>,
    user: Arc<str>,
    state: u8,
    expire: Option<i64>,
    api_sets: Arc<[Arc<str>]>,
    phc: Box<str>,
}

/// Runs both workers and prints them side by side.
pub(crate) async fn compare(entries: usize, seconds: f64, figures: &mut Figures) -> Result<()> {
    let mut results = Vec::new();
    for implementation in [Implementation::QuickCache, Implementation::Moka] {
        let exe = std::env::current_exe()?;
        let output = tokio::task::spawn_blocking(move || {
            Command::new(exe)
                .args(["cache-worker", "--implementation", implementation.flag()])
                .args(["--entries", &entries.to_string()])
                .args(["--seconds", &seconds.to_string()])
                .stdin(Stdio::null())
                .output()
        })
        .await??;
        if !output.status.success() {
            return Err(fail!(
                "{} worker failed ({}): {}",
                implementation.name(),
                output.status,
                String::from_utf8_lossy(&output.stderr).trim()
            ));
        }
        let value: Value = serde_json::from_slice(&output.stdout)?;
        if value["misses"].as_u64() != Some(0) {
            return Err(fail!(
                "{}: gets missed entries that were inserted: {}",
                implementation.name(),
                value["misses"]
            ));
        }
        figures.set(implementation.name(), value.clone());
        results.push((implementation.name(), value));
    }
    figures.say(&format!(
        "{entries} entries, gets on 2 threads over random keys"
    ));
    figures.say(&format!(
        "{:<26} {:>14} {:>14}",
        "", results[0].0, results[1].0
    ));
    let rows: [(&str, &str, f64); 5] = [
        ("inserts/s", "insert_per_s", 1.0),
        ("gets/s (2 threads)", "get_per_s", 1.0),
        ("get p50 (ns)", "get_p50_ns", 1.0),
        ("get p99 (ns)", "get_p99_ns", 1.0),
        ("RSS added (MiB)", "rss_delta_kib", 1.0 / 1024.0),
    ];
    for (label, key, scale) in rows {
        let cell = |v: &Value| {
            v[key]
                .as_f64()
                .map_or_else(|| "-".to_owned(), |x| format!("{:.0}", x * scale))
        };
        figures.say(&format!(
            "{label:<26} {:>14} {:>14}",
            cell(&results[0].1),
            cell(&results[1].1)
        ));
    }
    let gets = |v: &Value| v["get_per_s"].as_f64().unwrap_or(0.0);
    let (a, b) = (&results[0], &results[1]);
    let (faster, slower, factor) = if gets(&a.1) >= gets(&b.1) {
        (a.0, b.0, gets(&a.1) / gets(&b.1).max(1.0))
    } else {
        (b.0, a.0, gets(&b.1) / gets(&a.1).max(1.0))
    };
    figures.say(&format!("faster on gets: {faster} ({factor:.2}× {slower})"));
    figures.set("faster_gets", faster);
    Ok(())
}

/// `keyward-bench cache-worker`: fills one cache and measures it; prints JSON.
pub(crate) fn worker(
    implementation: Implementation,
    entries: usize,
    seconds: f64,
) -> Result<Value> {
    let capacity = entries.saturating_mul(2);
    match implementation {
        Implementation::QuickCache => {
            let cache: quick_cache::sync::Cache<String, Arc<Entry>> =
                quick_cache::sync::Cache::new(capacity);
            measure(
                entries,
                seconds,
                |k, v| cache.insert(k, v),
                |k| cache.get(k),
            )
        }
        Implementation::Moka => {
            let cache: moka::sync::Cache<String, Arc<Entry>> =
                moka::sync::Cache::new(capacity as u64);
            let result = measure(
                entries,
                seconds,
                |k, v| cache.insert(k, v),
                |k| cache.get(k),
            );
            cache.run_pending_tasks();
            result
        }
    }
}

fn measure(
    entries: usize,
    seconds: f64,
    insert: impl Fn(String, Arc<Entry>),
    get: impl Fn(&str) -> Option<Arc<Entry>> + Sync,
) -> Result<Value> {
    let mut rng = Rng::new()?;
    let pid = std::process::id();
    let rss_before = crate::process::rss_kib(pid).unwrap_or(0);
    let account: Arc<str> = Arc::from("bench");
    let user: Arc<str> = Arc::from("admin");
    let api_sets: Arc<[Arc<str>]> = Arc::from(vec![Arc::<str>::from("bench.api")]);
    let ids: Vec<String> = (0..entries).map(|_| hex_id(&mut rng)).collect();
    let made: Vec<(String, Arc<Entry>)> = ids
        .iter()
        .map(|id| {
            let entry = Entry {
                account: account.clone(),
                user: user.clone(),
                state: 1,
                expire: None,
                api_sets: api_sets.clone(),
                phc: fake_phc(&mut rng).into_boxed_str(),
            };
            (id.clone(), Arc::new(entry))
        })
        .collect();
    let started = Instant::now();
    for (id, entry) in made {
        insert(id, entry);
    }
    let insert_secs = started.elapsed().as_secs_f64();
    // What stays: the cache with its keys and entries (the ids kept for lookups are counted
    // before the filling ends, as they would be by the server's requests).
    let rss_after = crate::process::rss_kib(pid).unwrap_or(0);

    // Random lookups, prepared per thread.
    let threads = 2;
    let lookups: Vec<Vec<u32>> = (0..threads)
        .map(|_| {
            (0..1_000_000)
                .map(|_| u32::try_from(rng.below(entries)).unwrap_or(0))
                .collect()
        })
        .collect();
    let duration = Duration::from_secs_f64(seconds);
    let ids = &ids;
    let get = &get;
    let (gets, misses, elapsed, mut ns) = std::thread::scope(|scope| {
        let started = Instant::now();
        let workers: Vec<_> = lookups
            .iter()
            .map(|order| {
                scope.spawn(move || {
                    let (mut gets, mut misses) = (0_u64, 0_u64);
                    'run: loop {
                        for chunk in order.chunks(1024) {
                            for &i in chunk {
                                match get(&ids[i as usize]) {
                                    Some(entry) => {
                                        black_box(entry);
                                    }
                                    None => misses += 1,
                                }
                            }
                            gets += chunk.len() as u64;
                            if started.elapsed() >= duration {
                                break 'run;
                            }
                        }
                    }
                    // Then each get timed on its own, for the distribution.
                    let mut ns = Vec::with_capacity(order.len().min(200_000));
                    for &i in order.iter().take(200_000) {
                        let at = Instant::now();
                        let found = get(&ids[i as usize]);
                        ns.push(u32::try_from(at.elapsed().as_nanos()).unwrap_or(u32::MAX));
                        if found.is_none() {
                            misses += 1;
                        }
                        black_box(found);
                    }
                    (gets, misses, started.elapsed(), ns)
                })
            })
            .collect();
        let mut total = (0_u64, 0_u64, Duration::ZERO, Vec::new());
        for worker in workers {
            if let Ok((gets, misses, _, ns)) = worker.join() {
                total.0 += gets;
                total.1 += misses;
                total.3.extend(ns);
            }
        }
        total.2 = duration.max(Duration::from_nanos(1));
        total
    });
    ns.sort_unstable();
    Ok(json!({
        "entries": entries,
        "insert_per_s": entries as f64 / insert_secs,
        "get_per_s": gets as f64 / elapsed.as_secs_f64(),
        "get_threads": threads,
        "get_p50_ns": crate::loadgen::quantile(&ns, 0.50),
        "get_p99_ns": crate::loadgen::quantile(&ns, 0.99),
        "misses": misses,
        "rss_before_kib": rss_before,
        "rss_after_kib": rss_after,
        "rss_delta_kib": rss_after.saturating_sub(rss_before),
    }))
}

/// 20 lowercase hex characters, like a key ID.
fn hex_id(rng: &mut Rng) -> String {
    let bits = (u128::from(rng.next_u64()) << 64) | u128::from(rng.next_u64());
    format!("{:020x}", bits >> 48)
}

/// A string shaped like an argon2id PHC string with default parameters (97 bytes).
fn fake_phc(rng: &mut Rng) -> String {
    const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(97);
    s.push_str("$argon2id$v=19$m=19456,t=2,p=1$");
    for i in 0..(22 + 1 + 43) {
        if i == 22 {
            s.push('$');
        } else {
            s.push(char::from(B64[rng.below(B64.len())]));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_and_phc_strings_have_the_real_shapes() {
        let mut rng = Rng::new().unwrap();
        let id = hex_id(&mut rng);
        assert_eq!(id.len(), 20);
        assert!(
            id.bytes()
                .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
        );
        assert_eq!(fake_phc(&mut rng).len(), 97);
    }

    #[test]
    fn both_caches_find_every_entry() {
        for implementation in [Implementation::QuickCache, Implementation::Moka] {
            let value = worker(implementation, 1_000, 0.01).unwrap();
            assert_eq!(value["misses"], 0, "{}", implementation.name());
        }
    }
}
