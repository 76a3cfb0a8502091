//! Tokens, projects and accounts as the stores keep them, and the rules for their ids and names.

use super::{limits::UserLimit, scope::ScopeSet};

/// The stored lifecycle state of a token.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenStatus {
    /// Authorizes requests.
    Enabled,
    /// Denied until re-enabled.
    Disabled,
    /// Denied for good; can only be regenerated or deleted.
    Expired,
}

impl TokenStatus {
    /// Returns the status's stored name.
    pub fn name(self) -> &'static str {
        match self {
            TokenStatus::Enabled => "enabled",
            TokenStatus::Disabled => "disabled",
            TokenStatus::Expired => "expired",
        }
    }

    /// Parses a stored name.
    pub fn from_name(name: &str) -> Option<Self> {
        [
            TokenStatus::Enabled,
            TokenStatus::Disabled,
            TokenStatus::Expired,
        ]
        .into_iter()
        .find(|status| status.name() == name)
    }
}

/// An account's billing plan.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Plan {
    /// Only the system limit applies. Accounts start here.
    #[default]
    Free,
    /// User-defined limits apply too.
    Paid,
}

/// The non-secret settings of a token.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TokenRecord {
    /// Stable, non-secret id.
    pub token_id: String,
    /// The owning project.
    pub project_id: String,
    /// The token's name (its title).
    pub name: String,
    /// The token's scopes.
    pub scopes: ScopeSet,
    /// The stored status; see [`TokenRecord::effective_status`].
    pub status: TokenStatus,
    /// The user-defined limit, if any. It is enforced only while the account is paid.
    pub user_limit: Option<UserLimit>,
    /// When the token expires by itself, in Unix milliseconds.
    pub expires_at_ms: Option<i64>,
    /// When the current key was issued, in Unix milliseconds.
    pub created_at_ms: i64,
    /// When the token last changed, in Unix milliseconds.
    pub modified_at_ms: i64,
    /// The last characters of the key.
    pub key_hint: String,
}

impl TokenRecord {
    /// Returns the status at `now_ms`: expired once `expires_at_ms` has passed, else the stored one.
    pub fn effective_status(&self, now_ms: i64) -> TokenStatus {
        match self.expires_at_ms {
            Some(expires_at) if now_ms >= expires_at => TokenStatus::Expired,
            _ => self.status,
        }
    }
}

/// A project as the stores keep it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProjectRecord {
    /// The project's id, given by the caller.
    pub project_id: String,
    /// The owning account.
    pub account_id: String,
    /// The display name.
    pub name: String,
    /// When the project was created, in Unix milliseconds.
    pub created_at_ms: i64,
}

/// The changes an update applies; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TokenPatch {
    /// A new name.
    pub name: Option<String>,
    /// New scopes, never empty.
    pub scopes: Option<ScopeSet>,
    /// A new status: enabled or disabled.
    pub status: Option<TokenStatus>,
    /// A new user limit; `Some(None)` clears it.
    pub user_limit: Option<Option<UserLimit>>,
    /// A new expiry; `Some(None)` clears it.
    pub expires_at_ms: Option<Option<i64>>,
}

impl TokenPatch {
    /// Applies the patch to `token`, stamping `now_ms` as the modification time.
    pub fn apply(&self, token: &mut TokenRecord, now_ms: i64) {
        if let Some(name) = &self.name {
            token.name.clone_from(name);
        }
        if let Some(scopes) = self.scopes {
            token.scopes = scopes;
        }
        if let Some(status) = self.status {
            token.status = status;
        }
        if let Some(user_limit) = self.user_limit {
            token.user_limit = user_limit;
        }
        if let Some(expires_at_ms) = self.expires_at_ms {
            token.expires_at_ms = expires_at_ms;
        }
        token.modified_at_ms = now_ms;
    }

    /// Tells whether the patch sets a user limit (rather than clearing it or leaving it).
    pub fn sets_user_limit(&self) -> bool {
        matches!(self.user_limit, Some(Some(_)))
    }
}

/// The maximum length of account, project and token ids.
pub const MAX_ID_LEN: usize = 64;

/// The maximum length of project and token names, in characters.
pub const MAX_NAME_LEN: usize = 255;

/// Checks an account, project or token id. Ids are 1 to 64 characters from `A-Z a-z 0-9 . _ -`,
/// which keeps them safe inside Redis keys (no `{`, `}` or `:`) and in URLs. The error is the
/// rule that was broken.
pub fn check_id(id: &str) -> Result<(), String> {
    if id.is_empty() {
        return Err("is required".to_owned());
    }
    if id.len() > MAX_ID_LEN {
        return Err(format!(
            "must be at most {MAX_ID_LEN} characters, got {}",
            id.len()
        ));
    }
    if let Some(bad) = id
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "contains {bad:?}; use only letters A-Z and a-z, digits, '.', '_' and '-'"
        ));
    }
    Ok(())
}

/// Checks a project or token name: 1 to 255 characters, not only whitespace, no control
/// characters. The error is the rule that was broken.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.trim().is_empty() {
        return Err("is required and must not be only whitespace".to_owned());
    }
    let length = name.chars().count();
    if length > MAX_NAME_LEN {
        return Err(format!(
            "must be at most {MAX_NAME_LEN} characters, got {length}"
        ));
    }
    if name.chars().any(char::is_control) {
        return Err("must not contain control characters such as newlines or tabs".to_owned());
    }
    if name.chars().any(is_bidi_control) {
        return Err(
            "must not contain bidirectional text controls (U+202A to U+202E, U+2066 to U+2069), \
             which can make a name display differently from what it contains"
                .to_owned(),
        );
    }
    if name.chars().all(|c| c.is_whitespace() || is_invisible(c)) {
        return Err("must contain at least one visible character".to_owned());
    }
    Ok(())
}

/// The length of a generated token id: `tok_` and 20 hexadecimal characters.
const TOKEN_ID_LEN: usize = 24;

/// Tells whether `id` has the shape of a generated token id: `tok_` followed by 20 lowercase
/// hexadecimal characters.
pub fn is_generated_token_id(id: &str) -> bool {
    id.len() == TOKEN_ID_LEN
        && id.starts_with("tok_")
        && id[4..]
            .bytes()
            .all(|byte| byte.is_ascii_digit() || (b'a'..=b'f').contains(&byte))
}

fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
}

/// Characters that take no space when displayed: zero-width spaces and joiners, the word joiner
/// and the byte order mark.
fn is_invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}')
}

/// Generates a token id: `tok_`, then a millisecond timestamp and a 32-bit sequence, as
/// fixed-width hexadecimal so that ids sort in creation order.
///
/// The sequence starts at a random 31-bit value in each new millisecond, so replicas rarely
/// produce the same id, and counts up for ids generated in the same millisecond by this
/// process, so that those keep their creation order too. Across replicas, ids created within
/// the same millisecond sort in an arbitrary order.
pub fn generate_token_id(now_ms: i64) -> Result<String, getrandom::Error> {
    static LAST: std::sync::Mutex<(i64, u32)> = std::sync::Mutex::new((i64::MIN, 0));

    let random = getrandom::u32()? >> 1;
    let mut last = LAST.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    let next = match *last {
        (ms, sequence) if ms >= now_ms && sequence < u32::MAX => (ms, sequence + 1),
        (ms, _) if ms >= now_ms => (ms + 1, random),
        _ => (now_ms.max(0), random),
    };
    *last = next;
    Ok(format!("tok_{:012x}{:08x}", next.0, next.1))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn id_rules() {
        assert!(check_id("project-1.prod_eu").is_ok());
        assert!(check_id("").unwrap_err().contains("required"));
        assert!(check_id(&"a".repeat(65)).unwrap_err().contains("64"));
        assert!(check_id("a{b}").unwrap_err().contains("'{'"));
        assert!(check_id("a:b").is_err());
        assert!(check_id("проект").is_err());
    }

    #[test]
    fn name_rules() {
        assert!(check_name("Web shop, \"EU\"").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("   ").is_err());
        assert!(check_name("a\nb").is_err());
        assert!(check_name("\u{200B}").is_err());
        assert!(check_name("pay\u{202E}lpt.exe").is_err());
        assert!(check_name("caf\u{00E9} \u{1F600}").is_ok());
        assert!(check_name(&"é".repeat(255)).is_ok());
        assert!(check_name(&"é".repeat(256)).is_err());
    }

    #[test]
    fn token_ids_sort_by_creation() {
        let now = crate::domain::now_ms();
        let ids: Vec<String> = (0..1000).map(|_| generate_token_id(now).unwrap()).collect();
        for pair in ids.windows(2) {
            assert!(pair[0] < pair[1], "{} sorts after {}", pair[0], pair[1]);
        }
        assert!(check_id(&ids[0]).is_ok());
        assert!(is_generated_token_id(&ids[0]));
        assert!(!is_generated_token_id("tok_"));
        assert!(!is_generated_token_id(&ids[0].to_uppercase()));
    }

    #[test]
    fn expiry_overrides_stored_status() {
        let token = TokenRecord {
            token_id: "tok_1".into(),
            project_id: "p".into(),
            name: "n".into(),
            scopes: ScopeSet::empty(),
            status: TokenStatus::Disabled,
            user_limit: None,
            expires_at_ms: Some(100),
            created_at_ms: 0,
            modified_at_ms: 0,
            key_hint: "abcd".into(),
        };
        assert_eq!(token.effective_status(99), TokenStatus::Disabled);
        assert_eq!(token.effective_status(100), TokenStatus::Expired);
    }
}
