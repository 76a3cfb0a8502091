//! Redis key names. Every key the store reads or writes is built here.
//!
//! Every key starts with `ta:v1:`, so the data shares a Redis database with others safely and a
//! future layout can live beside this one during a migration. After the prefix comes a Redis
//! Cluster hash tag, the part in braces. Redis Cluster hashes only the tag to pick a slot, so all
//! keys with one tag live on one node and a Lua script may touch them together. Each script
//! touches the keys of exactly one tag, which is what Cluster requires and what makes each script
//! one atomic step.
//!
//! | slot | key | type | contents |
//! |---|---|---|---|
//! | `{k:H}` | `ta:v1:{k:H}:token` | hash | the token record of the key with hash `H` (hex) |
//! | `{k:H}` | `ta:v1:{k:H}:w:sys` | hash | the system limit's window: `start_ms`, `count`, `denied` |
//! | `{k:H}` | `ta:v1:{k:H}:w:user` | hash | the user limit's window, same fields |
//! | `{p:P}` | `ta:v1:{p:P}:project` | hash | project `P`: `account_id`, `name`, `created_at_ms`, `complete`, `claim` |
//! | `{p:P}` | `ta:v1:{p:P}:tokens` | hash | token id to its key hashes, space-separated |
//! | `{p:P}` | `ta:v1:{p:P}:order` | sorted set | token ids, all scored 0, read in lexical order |
//! | `{a:A}` | `ta:v1:{a:A}:account` | hash | account `A`: `plan` (`free` or `paid`) |
//! | `{a:A}` | `ta:v1:{a:A}:projects` | set | the account's project ids |
//!
//! Guarantees that follow from the layout:
//! - Authorize needs only the `{k:H}` slot: the record carries everything its checks read,
//!   including the account's plan (`paid`), so it is one `EVALSHA` and one round trip.
//! - Windows expire on their own (`PEXPIREAT` at the window's end), so idle counters cost no
//!   memory, and deleting a key's slot deletes its counters.
//! - Ids are validated to `[A-Za-z0-9._-]{1,64}` before they reach the store, so an id cannot
//!   contain `{`, `}` or `:` and cannot move a key into another slot or collide with another key.
//! - Token ids sort in creation order, so the `order` set pages tokens in creation order.

use crate::domain::KeyHash;

/// The prefix of every key. The version changes when the layout does.
pub const PREFIX: &str = "ta:v1:";

/// The keys of one access key's slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenKeys {
    /// The token record.
    pub record: String,
    /// The system limit's window.
    pub system_window: String,
    /// The user limit's window.
    pub user_window: String,
}

impl TokenKeys {
    /// Builds the keys of the token whose key has hash `hash`.
    pub fn new(hash: KeyHash) -> Self {
        let slot = format!("{PREFIX}{{k:{}}}", hash.to_hex());
        TokenKeys {
            record: format!("{slot}:token"),
            system_window: format!("{slot}:w:sys"),
            user_window: format!("{slot}:w:user"),
        }
    }
}

/// The keys of one project's slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectKeys {
    /// The project record.
    pub record: String,
    /// Token id to key hashes.
    pub tokens: String,
    /// Token ids in creation order.
    pub order: String,
}

impl ProjectKeys {
    /// Builds the keys of project `project_id`, which must be a valid id.
    pub fn new(project_id: &str) -> Self {
        let slot = format!("{PREFIX}{{p:{project_id}}}");
        ProjectKeys {
            record: format!("{slot}:project"),
            tokens: format!("{slot}:tokens"),
            order: format!("{slot}:order"),
        }
    }
}

/// The keys of one account's slot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccountKeys {
    /// The account record.
    pub record: String,
    /// The account's project ids.
    pub projects: String,
}

impl AccountKeys {
    /// Builds the keys of account `account_id`, which must be a valid id.
    pub fn new(account_id: &str) -> Self {
        let slot = format!("{PREFIX}{{a:{account_id}}}");
        AccountKeys {
            record: format!("{slot}:account"),
            projects: format!("{slot}:projects"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::AccessKey;

    /// Returns the part of `key` that Redis Cluster hashes: the text between the first `{` and
    /// the next `}`.
    fn hash_tag(key: &str) -> &str {
        let open = key.find('{').expect("key has a hash tag");
        let close = open + key[open..].find('}').expect("hash tag is closed");
        &key[open + 1..close]
    }

    #[test]
    fn token_keys_share_one_slot() {
        let hash = AccessKey::generate().unwrap().hash();
        let keys = TokenKeys::new(hash);
        let tag = format!("k:{}", hash.to_hex());
        for key in [&keys.record, &keys.system_window, &keys.user_window] {
            assert!(key.starts_with(PREFIX), "{key}");
            assert_eq!(hash_tag(key), tag);
        }
    }

    #[test]
    fn project_and_account_keys_share_their_slot() {
        let project = ProjectKeys::new("shop-eu.1");
        for key in [&project.record, &project.tokens, &project.order] {
            assert_eq!(hash_tag(key), "p:shop-eu.1");
        }
        let account = AccountKeys::new("acme_1");
        for key in [&account.record, &account.projects] {
            assert_eq!(hash_tag(key), "a:acme_1");
        }
        assert_eq!(project.record, "ta:v1:{p:shop-eu.1}:project");
        assert_eq!(account.projects, "ta:v1:{a:acme_1}:projects");
    }
}
