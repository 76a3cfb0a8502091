//! The fields of the token and project hashes, and their conversion to and from the domain
//! records.
//!
//! A token record (`ta:v1:{k:H}:token`) has these fields, all strings:
//! - `token_id`, `project_id`, `account_id`, `name`, `hint`;
//! - `scopes`: the [`ScopeSet`] bitmask in decimal;
//! - `status`: `enabled`, `disabled` or `expired`;
//! - `user_count` and `user_window` (seconds): both absent when the token has no user limit;
//! - `expires_at_ms`: absent when the token does not expire;
//! - `created_at_ms`, `modified_at_ms`: Unix milliseconds;
//! - `paid`: `1` while the account is on the paid plan, which is when Authorize enforces the
//!   user limit, else `0`;
//! - `successor` and `successor_until_ms`: present once a regeneration has claimed the record
//!   (see `tokens/regenerate.rs`). They are the new key hash of the regeneration that holds or
//!   last held the claim, and when that claim ends, in Unix milliseconds by the Redis server's
//!   clock. [`parse_token`] ignores them.
//!
//! A project record (`ta:v1:{p:P}:project`) has `account_id`, `name`, `created_at_ms`,
//! `complete` (`1` once created with its tokens, `0` while being created or deleted), and
//! `claim` while a creation or deletion is in progress.

use std::collections::HashMap;

use crate::{
    domain::{
        KeyHash, Plan, ProjectRecord, ScopeSet, TokenPatch, TokenRecord, TokenStatus, UserLimit,
    },
    store::{StoreError, StoreResult},
};

/// Returns the fields of a new token record, as field, value pairs for HSET.
pub fn token_fields(
    record: &TokenRecord,
    account_id: &str,
    plan: Plan,
) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        ("token_id", record.token_id.clone()),
        ("project_id", record.project_id.clone()),
        ("account_id", account_id.to_owned()),
        ("name", record.name.clone()),
        ("scopes", record.scopes.bits().to_string()),
        ("status", record.status.name().to_owned()),
        ("created_at_ms", record.created_at_ms.to_string()),
        ("modified_at_ms", record.modified_at_ms.to_string()),
        ("hint", record.key_hint.clone()),
        ("paid", paid_flag(plan).to_owned()),
    ];
    if let Some(limit) = record.user_limit {
        fields.push(("user_count", limit.count.to_string()));
        fields.push(("user_window", limit.window_seconds.to_string()));
    }
    if let Some(expires_at_ms) = record.expires_at_ms {
        fields.push(("expires_at_ms", expires_at_ms.to_string()));
    }
    fields
}

/// Returns the changes a patch makes, as field, value pairs for `token_update.lua`, where an
/// empty value deletes the field.
pub fn patch_fields(patch: &TokenPatch) -> Vec<(&'static str, String)> {
    let mut fields = Vec::new();
    if let Some(name) = &patch.name {
        fields.push(("name", name.clone()));
    }
    if let Some(scopes) = patch.scopes {
        fields.push(("scopes", scopes.bits().to_string()));
    }
    if let Some(status) = patch.status {
        fields.push(("status", status.name().to_owned()));
    }
    match patch.user_limit {
        Some(Some(limit)) => {
            fields.push(("user_count", limit.count.to_string()));
            fields.push(("user_window", limit.window_seconds.to_string()));
        }
        Some(None) => {
            fields.push(("user_count", String::new()));
            fields.push(("user_window", String::new()));
        }
        None => {}
    }
    match patch.expires_at_ms {
        Some(Some(expires_at_ms)) => fields.push(("expires_at_ms", expires_at_ms.to_string())),
        Some(None) => fields.push(("expires_at_ms", String::new())),
        None => {}
    }
    fields
}

/// Returns the stored value of the `paid` field for a plan.
pub fn paid_flag(plan: Plan) -> &'static str {
    match plan {
        Plan::Free => "0",
        Plan::Paid => "1",
    }
}

/// Returns the stored name of a plan.
pub fn plan_name(plan: Plan) -> &'static str {
    match plan {
        Plan::Free => "free",
        Plan::Paid => "paid",
    }
}

/// Parses a stored plan name. An account without one is on the free plan.
pub fn parse_plan(name: Option<&str>) -> StoreResult<Plan> {
    match name {
        None | Some("free") => Ok(Plan::Free),
        Some("paid") => Ok(Plan::Paid),
        Some(other) => Err(StoreError::Corrupt(format!(
            "unknown account plan {other:?}"
        ))),
    }
}

/// Parses a token record from its fields.
pub fn parse_token(fields: &HashMap<String, String>) -> StoreResult<TokenRecord> {
    let scopes = required(fields, "scopes", "token")?;
    let scopes = scopes
        .parse()
        .ok()
        .and_then(ScopeSet::from_bits)
        .ok_or_else(|| invalid("token", "scopes", scopes))?;
    let status = required(fields, "status", "token")?;
    let status =
        TokenStatus::from_name(status).ok_or_else(|| invalid("token", "status", status))?;
    let user_count = optional_number(fields, "user_count", "token")?.unwrap_or(0);
    let user_window = optional_number(fields, "user_window", "token")?.unwrap_or(0);
    let user_limit = (user_count > 0 && user_window > 0).then(|| UserLimit {
        count: user_count.unsigned_abs(),
        window_seconds: user_window.unsigned_abs(),
    });

    Ok(TokenRecord {
        token_id: required(fields, "token_id", "token")?.to_owned(),
        project_id: required(fields, "project_id", "token")?.to_owned(),
        name: required(fields, "name", "token")?.to_owned(),
        scopes,
        status,
        user_limit,
        expires_at_ms: optional_number(fields, "expires_at_ms", "token")?,
        created_at_ms: number(fields, "created_at_ms", "token")?,
        modified_at_ms: number(fields, "modified_at_ms", "token")?,
        key_hint: required(fields, "hint", "token")?.to_owned(),
    })
}

/// Parses a project record from its fields.
pub fn parse_project(
    project_id: &str,
    fields: &HashMap<String, String>,
) -> StoreResult<ProjectRecord> {
    Ok(ProjectRecord {
        project_id: project_id.to_owned(),
        account_id: required(fields, "account_id", "project")?.to_owned(),
        name: required(fields, "name", "project")?.to_owned(),
        created_at_ms: number(fields, "created_at_ms", "project")?,
    })
}

/// Tells whether a project record is complete: created with its default tokens and not being
/// deleted.
pub fn is_complete(fields: &HashMap<String, String>) -> bool {
    fields.get("complete").is_some_and(|flag| flag == "1")
}

/// Parses a space-separated list of key hashes, as the project index stores them.
pub fn parse_hashes(list: &str) -> StoreResult<Vec<KeyHash>> {
    list.split_ascii_whitespace()
        .map(|hex| {
            KeyHash::from_hex(hex).ok_or_else(|| {
                StoreError::Corrupt(format!("invalid key hash {hex:?} in a project index"))
            })
        })
        .collect()
}

fn required<'a>(
    fields: &'a HashMap<String, String>,
    field: &str,
    record: &str,
) -> StoreResult<&'a str> {
    fields
        .get(field)
        .map(String::as_str)
        .ok_or_else(|| StoreError::Corrupt(format!("{record} record has no {field} field")))
}

fn number(fields: &HashMap<String, String>, field: &str, record: &str) -> StoreResult<i64> {
    let text = required(fields, field, record)?;
    text.parse().map_err(|_| invalid(record, field, text))
}

fn optional_number(
    fields: &HashMap<String, String>,
    field: &str,
    record: &str,
) -> StoreResult<Option<i64>> {
    match fields.get(field) {
        None => Ok(None),
        Some(text) => text
            .parse()
            .map(Some)
            .map_err(|_| invalid(record, field, text)),
    }
}

fn invalid(record: &str, field: &str, value: &str) -> StoreError {
    StoreError::Corrupt(format!("{record} record has an invalid {field}: {value:?}"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::Scope;

    fn sample() -> TokenRecord {
        TokenRecord {
            token_id: "tok_1".into(),
            project_id: "shop".into(),
            name: "CI, \"deploys\"".into(),
            scopes: [Scope::Read, Scope::Write].into_iter().collect(),
            status: TokenStatus::Disabled,
            user_limit: Some(UserLimit {
                count: 10,
                window_seconds: 60,
            }),
            expires_at_ms: Some(2_000),
            created_at_ms: 1_000,
            modified_at_ms: 1_500,
            key_hint: "beef".into(),
        }
    }

    fn as_map(pairs: Vec<(&'static str, String)>) -> HashMap<String, String> {
        pairs
            .into_iter()
            .map(|(field, value)| (field.to_owned(), value))
            .collect()
    }

    #[test]
    fn token_round_trips_through_fields() {
        let record = sample();
        let fields = as_map(token_fields(&record, "acme", Plan::Paid));
        assert_eq!(fields["paid"], "1");
        assert_eq!(fields["account_id"], "acme");
        assert_eq!(parse_token(&fields).unwrap(), record);

        let plain = TokenRecord {
            user_limit: None,
            expires_at_ms: None,
            ..record
        };
        let fields = as_map(token_fields(&plain, "acme", Plan::Free));
        assert!(!fields.contains_key("user_count"));
        assert!(!fields.contains_key("expires_at_ms"));
        assert_eq!(parse_token(&fields).unwrap(), plain);
    }

    #[test]
    fn patch_clears_with_empty_values() {
        let patch = TokenPatch {
            user_limit: Some(None),
            expires_at_ms: Some(None),
            ..TokenPatch::default()
        };
        let fields = as_map(patch_fields(&patch));
        assert_eq!(fields.len(), 3);
        assert!(fields.values().all(String::is_empty));
        assert!(patch_fields(&TokenPatch::default()).is_empty());
    }

    #[test]
    fn invalid_fields_are_corrupt() {
        let mut fields = as_map(token_fields(&sample(), "acme", Plan::Free));
        fields.insert("scopes".into(), "16".into());
        assert!(matches!(parse_token(&fields), Err(StoreError::Corrupt(_))));
        fields.remove("scopes");
        assert!(matches!(parse_token(&fields), Err(StoreError::Corrupt(_))));
        assert!(matches!(parse_hashes("abc"), Err(StoreError::Corrupt(_))));
        assert!(parse_hashes("").unwrap().is_empty());
    }
}
