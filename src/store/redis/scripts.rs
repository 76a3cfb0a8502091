//! The Lua scripts, one `.lua` file each. Every file starts with its contract: keys, arguments
//! and reply.
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
    ($($(#[$doc:meta])* $name:ident = $file:literal;)*) => {
        $(
            $(#[$doc])*
            pub static $name: LazyLock<Script> =
                LazyLock::new(|| Script::new(include_str!(concat!("lua/", $file))));
        )*

        /// Every script, for loading them all at start-up.
        pub static ALL: &[&LazyLock<Script>] = &[$(&$name),*];
    };
}

scripts! {
    /// Authorize's checks and both rate limits, also the rate-limit checks (key slot).
    AUTHORIZE = "authorize.lua";
    /// Writes a new token record (key slot).
    TOKEN_CREATE = "token_create.lua";
    /// Changes a token's settings unless it is expired (key slot).
    TOKEN_UPDATE = "token_update.lua";
    /// Sets a token's status to expired (key slot).
    TOKEN_EXPIRE = "token_expire.lua";
    /// Deletes a token record and its windows, optionally only if unchanged (key slot).
    TOKEN_DELETE = "token_delete.lua";
    /// Records the account's plan on a token record (key slot).
    TOKEN_SET_PAID = "token_set_paid.lua";
    /// Adds a key hash to a token's index entry (project slot).
    INDEX_ADD = "index_add.lua";
    /// Tells whether a key hash is still listed (project slot).
    INDEX_CHECK = "index_check.lua";
    /// Removes key hashes from a token's index entry (project slot).
    INDEX_REMOVE = "index_remove.lua";
    /// Finds one token's key hashes (project slot).
    INDEX_LOOKUP = "index_lookup.lua";
    /// Reads one page of token ids with their key hashes (project slot).
    INDEX_PAGE = "index_page.lua";
    /// First step of creating a project (project slot).
    PROJECT_BEGIN_CREATE = "project_begin_create.lua";
    /// Last step of creating a project (project slot).
    PROJECT_FINISH_CREATE = "project_finish_create.lua";
    /// First step of deleting a project (project slot).
    PROJECT_BEGIN_DELETE = "project_begin_delete.lua";
    /// Deletes a project's keys once its tokens are gone (project slot).
    PROJECT_FINISH_DELETE = "project_finish_delete.lua";
    /// Registers a project with its account (account slot).
    ACCOUNT_ADD_PROJECT = "account_add_project.lua";
    /// Sets an account's plan and lists its projects (account slot).
    ACCOUNT_SET_PLAN = "account_set_plan.lua";
}
