//! The admin credential that guards the management RPCs: Manage, Regenerate and CheckRateLimit.
//!
//! A caller presents it as the gRPC metadata `authorization: Bearer TOKEN`. Authorize never
//! requires it, because ingestion frontends call Authorize on every request and present only
//! project access tokens. Health and reflection never require it either.
//!
//! Only the SHA-256 digest of the token is kept in memory. Comparing digests of equal length in
//! constant time reveals neither the token nor its length through timing.

use std::{fmt, fs, io, path::Path};

use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use tonic::{Request, metadata::MetadataMap};

use crate::service::Error;

/// The gRPC metadata key that carries the credential.
pub const AUTHORIZATION_HEADER: &str = "authorization";

/// The scheme the credential is sent with, compared case-insensitively as RFC 7235 requires.
const BEARER_SCHEME: &str = "Bearer";

/// The shortest admin token accepted, in bytes.
pub const MIN_ADMIN_TOKEN_BYTES: usize = 16;

/// The admin token, kept only as its SHA-256 digest. Its `Debug` output shows no part of it.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AdminToken {
    digest: [u8; 32],
}

impl AdminToken {
    /// Reads the token from the file at `path`, with one trailing newline removed.
    ///
    /// # Errors
    /// A message without the token when the file cannot be read, or when the token is empty,
    /// shorter than [`MIN_ADMIN_TOKEN_BYTES`], or contains a byte that an HTTP/2 header value
    /// cannot carry.
    pub fn from_file(path: &Path) -> Result<AdminToken, String> {
        let contents = fs::read(path).map_err(|error| describe_read_error(path, &error))?;
        AdminToken::from_bytes(&contents)
    }

    /// Builds the token from the contents of a token file: one trailing `\n` or `\r\n` is
    /// removed, and the rest must be at least [`MIN_ADMIN_TOKEN_BYTES`] of visible ASCII.
    ///
    /// # Errors
    /// A message without the token when the rest is empty, too short or has another byte.
    pub fn from_bytes(contents: &[u8]) -> Result<AdminToken, String> {
        let token = strip_one_newline(contents);
        if token.is_empty() {
            return Err(
                "the file is empty; write a random token of at least 16 bytes to it, \
                 for example with: openssl rand -hex 32"
                    .to_owned(),
            );
        }
        if token.len() < MIN_ADMIN_TOKEN_BYTES {
            return Err(format!(
                "the token is {} bytes long, but at least {MIN_ADMIN_TOKEN_BYTES} are required; \
                 generate one with: openssl rand -hex 32",
                token.len()
            ));
        }
        // Callers send the token in a header, where spaces at either end are dropped and
        // control characters are not allowed.
        if let Some(position) = token.iter().position(|byte| !byte.is_ascii_graphic()) {
            return Err(format!(
                "the token has a space, control or non-ASCII byte at offset {position}; use \
                 visible ASCII characters only, for example the output of: openssl rand -hex 32"
            ));
        }
        Ok(AdminToken::from_token(token))
    }

    fn from_token(token: &[u8]) -> AdminToken {
        AdminToken {
            digest: Sha256::digest(token).into(),
        }
    }

    /// Returns whether `presented` is the token, in time that does not depend on where the two
    /// differ or on their lengths.
    pub fn matches(&self, presented: &[u8]) -> bool {
        let presented: [u8; 32] = Sha256::digest(presented).into();
        self.digest.ct_eq(&presented).into()
    }
}

impl fmt::Debug for AdminToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AdminToken(***)")
    }
}

fn strip_one_newline(contents: &[u8]) -> &[u8] {
    contents
        .strip_suffix(b"\r\n")
        .or_else(|| contents.strip_suffix(b"\n"))
        .unwrap_or(contents)
}

fn describe_read_error(path: &Path, error: &io::Error) -> String {
    let path = path.display();
    match error.kind() {
        io::ErrorKind::NotFound => format!("{path} does not exist"),
        io::ErrorKind::PermissionDenied => {
            format!("permission denied reading {path}; let the server's user read it")
        }
        _ => format!("failed to read {path}: {error}"),
    }
}

/// Checks the admin credential of a management request. With no admin token configured every
/// request passes.
///
/// # Errors
/// [`Error::Unauthenticated`] when the `authorization` metadata is missing, is not a Bearer
/// credential, or carries another token.
pub fn require_admin<T>(admin: Option<&AdminToken>, request: &Request<T>) -> Result<(), Error> {
    let Some(admin) = admin else {
        return Ok(());
    };
    let presented = bearer_token(request.metadata())?;
    if admin.matches(presented) {
        Ok(())
    } else {
        Err(Error::Unauthenticated {
            reason: "the Bearer token does not match the admin token",
        })
    }
}

/// Returns the token of an `authorization: Bearer TOKEN` header.
fn bearer_token(metadata: &MetadataMap) -> Result<&[u8], Error> {
    let value = metadata
        .get(AUTHORIZATION_HEADER)
        .ok_or(Error::Unauthenticated {
            reason: "no authorization metadata",
        })?
        .as_bytes();
    let scheme_length = BEARER_SCHEME.len();
    let is_bearer = value.len() > scheme_length
        && value[..scheme_length].eq_ignore_ascii_case(BEARER_SCHEME.as_bytes())
        && value[scheme_length] == b' ';
    if !is_bearer {
        return Err(Error::Unauthenticated {
            reason: "the authorization metadata is not a Bearer credential",
        });
    }
    Ok(value[scheme_length..].trim_ascii())
}

#[cfg(test)]
mod tests {
    use tonic::metadata::MetadataValue;

    use super::*;

    const TOKEN: &str = "0123456789abcdef-admin";

    fn admin() -> AdminToken {
        AdminToken::from_bytes(TOKEN.as_bytes()).unwrap()
    }

    fn request_with(authorization: Option<&str>) -> Request<()> {
        let mut request = Request::new(());
        if let Some(value) = authorization {
            let value: MetadataValue<_> = value.parse().unwrap();
            request.metadata_mut().insert(AUTHORIZATION_HEADER, value);
        }
        request
    }

    fn rejection_reason(result: Result<(), Error>) -> &'static str {
        match result {
            Err(Error::Unauthenticated { reason }) => reason,
            other => panic!("expected Unauthenticated, got {other:?}"),
        }
    }

    #[test]
    fn file_contents_trim_one_newline() {
        let expected = admin();
        assert_eq!(
            AdminToken::from_bytes(format!("{TOKEN}\n").as_bytes()),
            Ok(expected)
        );
        assert_eq!(
            AdminToken::from_bytes(format!("{TOKEN}\r\n").as_bytes()),
            Ok(expected)
        );
        // Only one newline goes; a second one is part of the token and is not visible ASCII.
        let error = AdminToken::from_bytes(format!("{TOKEN}\n\n").as_bytes()).unwrap_err();
        assert!(error.contains("offset 22"), "{error}");
    }

    #[test]
    fn empty_file_rejected() {
        for contents in ["", "\n", "\r\n"] {
            let error = AdminToken::from_bytes(contents.as_bytes()).unwrap_err();
            assert!(error.contains("empty"), "{contents:?}: {error}");
        }
    }

    #[test]
    fn short_token_rejected() {
        let error = AdminToken::from_bytes(b"fifteen-bytes!!\n").unwrap_err();
        assert!(error.contains("15 bytes"), "{error}");
        assert!(error.contains("at least 16"), "{error}");
        assert!(AdminToken::from_bytes(b"sixteen-bytes!!!").is_ok());
    }

    #[test]
    fn token_with_space_rejected() {
        let error = AdminToken::from_bytes(b"0123456789 abcdef").unwrap_err();
        assert!(error.contains("offset 10"), "{error}");
        assert!(!error.contains("abcdef"), "{error}");
    }

    #[test]
    fn missing_file_named() {
        let error = AdminToken::from_file(Path::new("/nonexistent/admin-token")).unwrap_err();
        assert_eq!(error, "/nonexistent/admin-token does not exist");
    }

    #[test]
    fn debug_hides_token() {
        let debug = format!("{:?}", admin());
        assert_eq!(debug, "AdminToken(***)");
    }

    #[test]
    fn matches_only_exact_token() {
        let admin = admin();
        assert!(admin.matches(TOKEN.as_bytes()));
        assert!(!admin.matches(b"0123456789abcdef-admiN"));
        assert!(!admin.matches(b"0123456789abcdef-admin2"));
        assert!(!admin.matches(b"0123456789abcdef"));
        assert!(!admin.matches(b""));
    }

    #[test]
    fn right_bearer_token_passes() {
        let admin = admin();
        for header in [
            format!("Bearer {TOKEN}"),
            format!("bearer {TOKEN}"),
            format!("BEARER  {TOKEN} "),
        ] {
            let result = require_admin(Some(&admin), &request_with(Some(&header)));
            assert!(result.is_ok(), "{header:?}: {result:?}");
        }
    }

    #[test]
    fn missing_header_rejected() {
        let reason = rejection_reason(require_admin(Some(&admin()), &request_with(None)));
        assert_eq!(reason, "no authorization metadata");
    }

    #[test]
    fn other_scheme_rejected() {
        let admin = admin();
        for header in [
            format!("Basic {TOKEN}"),
            TOKEN.to_owned(),
            format!("Bearer{TOKEN}"),
            "Bearer".to_owned(),
        ] {
            let reason =
                rejection_reason(require_admin(Some(&admin), &request_with(Some(&header))));
            assert_eq!(
                reason, "the authorization metadata is not a Bearer credential",
                "{header:?}"
            );
        }
    }

    #[test]
    fn wrong_token_rejected() {
        let admin = admin();
        for header in [
            "Bearer wrong-token-0123456789",
            "Bearer ",
            "Bearer 0123456789abcdef",
        ] {
            let reason = rejection_reason(require_admin(Some(&admin), &request_with(Some(header))));
            assert_eq!(
                reason, "the Bearer token does not match the admin token",
                "{header:?}"
            );
        }
    }

    #[test]
    fn no_admin_token_lets_everything_pass() {
        assert!(require_admin(None, &request_with(None)).is_ok());
        assert!(require_admin(None, &request_with(Some("Basic abc"))).is_ok());
    }
}
