//! The Lua scripts, one `.lua` file each, named after the file. Every file starts with its
//! contract: keys, arguments and reply.
//!
//! Each script touches the keys of one hash tag only (see `keys.rs`), so it runs on one Redis
//! Cluster node as one atomic step. Scripts run with EVALSHA, and `redis::Script` loads a script
//! and sends it again when Redis replies NOSCRIPT, for example after a restart or a SCRIPT FLUSH.
//!
//! Lua numbers are doubles, so counts and costs are exact up to 2^53. The store clamps costs and
//! the system limit to that before sending them.

use std::sync::LazyLock;

use redis::Script;

macro_rules! scripts {
    ($($(#[$doc:meta])* $name:ident = $file_stem:literal;)*) => {
        $(
            $(#[$doc])*
            pub static $name: LazyLock<Script> =
                LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file_stem, ".lua"))));
        )*

        /// Every script, for loading them all at start-up.
        pub static ALL: &[&LazyLock<Script>] = &[$(&$name),*];

        /// Every script with its name, the file name without `.lua`, for spans and metrics.
        static NAMED: &[(&str, &LazyLock<Script>)] = &[$(($file_stem, &$name)),*];
    };
}

/// Returns the name of the script whose SHA-1 is `hash` (hexadecimal, as EVALSHA sends it),
/// such as `authorize`.
pub fn name_of_hash(hash: &[u8]) -> Option<&'static str> {
    NAMED
        .iter()
        .find(|(_, script)| script.get_hash().as_bytes() == hash)
        .map(|(name, _)| *name)
}

scripts! {
    /// Authorize's checks and both rate limits, also the rate-limit checks (key slot).
    AUTHORIZE = "authorize";
    /// Writes a new token record (key slot).
    TOKEN_CREATE = "token_create";
    /// Changes a token's settings unless it is expired (key slot).
    TOKEN_UPDATE = "token_update";
    /// Sets a token's status to expired (key slot).
    TOKEN_EXPIRE = "token_expire";
    /// Deletes a token record and its windows, optionally only if unchanged and claimed by a
    /// given regeneration (key slot).
    TOKEN_DELETE = "token_delete";
    /// Records the account's plan on a token record (key slot).
    TOKEN_SET_PAID = "token_set_paid";
    /// Lets one regeneration at a time replace a token record (key slot).
    TOKEN_CLAIM = "token_claim";
    /// Adds a key hash to a token's index entry (project slot).
    INDEX_ADD = "index_add";
    /// Adds a regeneration's key hash if the entry is unchanged (project slot).
    INDEX_ADVANCE = "index_advance";
    /// Tells whether a key hash is still listed (project slot).
    INDEX_CHECK = "index_check";
    /// Removes key hashes from a token's index entry (project slot).
    INDEX_REMOVE = "index_remove";
    /// Finds one token's key hashes (project slot).
    INDEX_LOOKUP = "index_lookup";
    /// Reads one page of token ids with their key hashes (project slot).
    INDEX_PAGE = "index_page";
    /// First step of creating a project (project slot).
    PROJECT_BEGIN_CREATE = "project_begin_create";
    /// Last step of creating a project (project slot).
    PROJECT_FINISH_CREATE = "project_finish_create";
    /// First step of deleting a project (project slot).
    PROJECT_BEGIN_DELETE = "project_begin_delete";
    /// Deletes a project's keys once its tokens are gone (project slot).
    PROJECT_FINISH_DELETE = "project_finish_delete";
    /// Registers a project with its account (account slot).
    ACCOUNT_ADD_PROJECT = "account_add_project";
    /// Sets an account's plan and lists its projects (account slot).
    ACCOUNT_SET_PLAN = "account_set_plan";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hash_names_script() {
        assert_eq!(
            name_of_hash(AUTHORIZE.get_hash().as_bytes()),
            Some("authorize")
        );
        assert_eq!(
            name_of_hash(PROJECT_BEGIN_CREATE.get_hash().as_bytes()),
            Some("project_begin_create")
        );
        assert_eq!(name_of_hash(b"0000"), None);
    }
}
