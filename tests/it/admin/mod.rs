//! The admin token of the management RPCs (`--admin-token-file`): Manage, Regenerate and
//! CheckRateLimit return UNAUTHENTICATED without it and write nothing, while Authorize, health
//! and reflection never ask for it.
//!
//! - `grpc`: every management RPC against the in-process server, over both stores.
//! - `binary`: the real server: start-up checks of the token file, its warning when unset, and
//!   the token kept out of debug logs.
//! - `tokenctl`: the real `tokenctl` with and without `--admin-token-file`.

mod binary;
mod grpc;
mod tokenctl;

/// The admin token the tests' servers require.
pub const ADMIN_TOKEN: &str = "test-admin-token-4b1d0c9e7f3a";

/// Writes `contents` to a new file in a temporary directory and returns both; the directory is
/// deleted when it is dropped.
pub fn token_file(contents: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::tempdir().expect("failed to create a temporary directory");
    let path = dir.path().join("admin-token");
    std::fs::write(&path, contents).expect("failed to write the admin token file");
    (dir, path)
}
