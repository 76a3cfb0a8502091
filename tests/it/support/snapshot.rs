//! Snapshots of everything a store holds, to assert that a request wrote nothing and that no
//! key is stored in clear.

use std::collections::BTreeMap;

use redis::aio::MultiplexedConnection;
use token_authority::store::memory::MemoryStore;

/// The most SCAN calls one snapshot makes, which bounds the loop on a misbehaving server.
const MAX_SCAN_CALLS: usize = 10_000;

/// Everything a store held at one moment: each stored key with a rendering of its value.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoreSnapshot {
    /// For Redis, each key with its type and value. For the in-memory store, one entry holding
    /// the store's `Debug` output, which shows all of its state.
    entries: BTreeMap<Vec<u8>, Vec<u8>>,
    /// The number of keys DBSIZE reported, for Redis.
    db_size: Option<u64>,
}

impl StoreSnapshot {
    /// Captures the in-memory store's state. Its `Debug` output lists every account, project,
    /// token record and window, and it is stable while the state does not change.
    pub fn of_memory(store: &MemoryStore) -> StoreSnapshot {
        let mut entries = BTreeMap::new();
        entries.insert(b"state".to_vec(), format!("{store:?}").into_bytes());
        StoreSnapshot {
            entries,
            db_size: None,
        }
    }

    /// Captures every key of the Redis database with its type and full value.
    pub async fn of_redis(connection: &mut MultiplexedConnection) -> StoreSnapshot {
        let db_size: u64 = redis::cmd("DBSIZE")
            .query_async(connection)
            .await
            .expect("DBSIZE failed");

        let mut keys = Vec::new();
        let mut cursor: u64 = 0;
        let mut calls = 0;
        loop {
            let (next, batch): (u64, Vec<Vec<u8>>) = redis::cmd("SCAN")
                .arg(cursor)
                .arg("COUNT")
                .arg(1000)
                .query_async(connection)
                .await
                .expect("SCAN failed");
            keys.extend(batch);
            cursor = next;
            calls += 1;
            if cursor == 0 {
                break;
            }
            assert!(calls < MAX_SCAN_CALLS, "SCAN did not finish");
        }

        let mut entries = BTreeMap::new();
        for key in keys {
            let value = render_value(connection, &key).await;
            entries.insert(key, value);
        }
        StoreSnapshot {
            entries,
            db_size: Some(db_size),
        }
    }

    /// Asserts that `after` contains exactly what `self` contains, naming the first difference.
    #[track_caller]
    pub fn assert_same(&self, after: &StoreSnapshot, context: &str) {
        assert_eq!(
            self.db_size, after.db_size,
            "{context}: the number of stored keys changed"
        );
        for (key, value) in &after.entries {
            match self.entries.get(key) {
                None => panic!("{context}: key {} was written", show(key)),
                Some(before) => assert!(
                    before == value,
                    "{context}: key {} changed from {} to {}",
                    show(key),
                    show(before),
                    show(value)
                ),
            }
        }
        for key in self.entries.keys() {
            assert!(
                after.entries.contains_key(key),
                "{context}: key {} was deleted",
                show(key)
            );
        }
    }

    /// Tells whether the store held nothing.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// Asserts that no stored key name or value contains `secret`, neither as the text the
    /// caller received (in either letter case) nor as the bytes its hexadecimal digits encode.
    #[track_caller]
    pub fn assert_never_contains(&self, secret: &str) {
        let mut forms = vec![
            secret.as_bytes().to_vec(),
            secret.to_ascii_uppercase().into_bytes(),
        ];
        if let Ok(raw) = hex::decode(secret) {
            forms.push(raw);
        }
        for (key, value) in &self.entries {
            for form in &forms {
                assert!(
                    !contains(key, form),
                    "key {} contains an issued access token",
                    show(key)
                );
                assert!(
                    !contains(value, form),
                    "the value of {} contains an issued access token",
                    show(key)
                );
            }
        }
    }
}

/// Renders a key's type and value, with the members of sets and hashes sorted so that the
/// rendering does not depend on Redis's internal order.
async fn render_value(connection: &mut MultiplexedConnection, key: &[u8]) -> Vec<u8> {
    let kind: String = redis::cmd("TYPE")
        .arg(key)
        .query_async(connection)
        .await
        .expect("TYPE failed");
    let parts: Vec<Vec<u8>> = match kind.as_str() {
        "string" => {
            let value: Vec<u8> = redis::cmd("GET")
                .arg(key)
                .query_async(connection)
                .await
                .expect("GET failed");
            vec![value]
        }
        "hash" => {
            let fields: BTreeMap<Vec<u8>, Vec<u8>> = redis::cmd("HGETALL")
                .arg(key)
                .query_async(connection)
                .await
                .expect("HGETALL failed");
            fields
                .into_iter()
                .flat_map(|(field, value)| [field, value])
                .collect()
        }
        "set" => {
            let mut members: Vec<Vec<u8>> = redis::cmd("SMEMBERS")
                .arg(key)
                .query_async(connection)
                .await
                .expect("SMEMBERS failed");
            members.sort();
            members
        }
        "zset" => redis::cmd("ZRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .arg("WITHSCORES")
            .query_async(connection)
            .await
            .expect("ZRANGE failed"),
        "list" => redis::cmd("LRANGE")
            .arg(key)
            .arg(0)
            .arg(-1)
            .query_async(connection)
            .await
            .expect("LRANGE failed"),
        // A key that expired between SCAN and TYPE is simply gone.
        "none" => Vec::new(),
        other => panic!("key {} has unexpected type {other}", show(key)),
    };

    let mut rendered = format!("{kind}:").into_bytes();
    for part in parts {
        rendered.extend_from_slice(&(part.len() as u64).to_be_bytes());
        rendered.extend_from_slice(&part);
    }
    rendered
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty()
        && haystack
            .windows(needle.len())
            .any(|window| window == needle)
}

fn show(bytes: &[u8]) -> String {
    format!("{:?}", String::from_utf8_lossy(bytes))
}
