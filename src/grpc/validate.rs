//! Validation of request fields into domain values. Each error names the field by its path in
//! the request and states the rule with the bad value. Handlers validate every field before
//! they read or write anything.

use prost_types::{FieldMask, Timestamp};

use crate::{
    domain::{
        Action, Plan, Scope, ScopeSet, SystemLimit, TokenPatch, TokenStatus, UserLimit,
        limits::validate_user_limit,
        token::{check_id, check_name, is_generated_token_id},
    },
    proto::v1 as pb,
    service::Error,
};

/// The page size used when a list request gives none.
pub const DEFAULT_PAGE_SIZE: usize = 100;

/// The largest page size a list request may ask for.
pub const MAX_PAGE_SIZE: usize = 1000;

/// The seconds of 9999-12-31T23:59:59Z: `google.protobuf.Timestamp` defines no later instant.
const MAX_TIMESTAMP_SECONDS: i64 = 253_402_300_799;

/// The update mask paths UpdateToken accepts.
const UPDATE_PATHS: [&str; 5] = ["name", "scopes", "status", "rate_limit", "expires_at"];

/// Checks an account, project or token id.
pub fn id(field: &str, value: &str) -> Result<(), Error> {
    check_id(value).map_err(|rule| Error::invalid(field, rule))
}

/// Checks an optional id: empty means absent.
pub fn optional_id<'a>(field: &str, value: &'a str) -> Result<Option<&'a str>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    id(field, value)?;
    Ok(Some(value))
}

/// Checks a project or token name.
pub fn name(field: &str, value: &str) -> Result<(), Error> {
    check_name(value).map_err(|rule| Error::invalid(field, rule))
}

/// Converts a required action.
pub fn action(field: &str, value: i32) -> Result<Action, Error> {
    let action = match pb::Action::try_from(value) {
        Ok(pb::Action::Unspecified) => {
            return Err(Error::invalid(
                field,
                "is required; set one of ACTION_POST_ITEM, ACTION_POST_DEPLOY, \
                 ACTION_UPLOAD_SOURCE_MAP, ACTION_UPLOAD_PROGUARD_MAPPING, ACTION_UPLOAD_DSYM, \
                 ACTION_UPLOAD_FLUTTER_SYMBOLS, ACTION_READ or ACTION_WRITE",
            ));
        }
        Ok(pb::Action::PostItem) => Action::PostItem,
        Ok(pb::Action::PostDeploy) => Action::PostDeploy,
        Ok(pb::Action::UploadSourceMap) => Action::UploadSourceMap,
        Ok(pb::Action::UploadProguardMapping) => Action::UploadProguardMapping,
        Ok(pb::Action::UploadDsym) => Action::UploadDsym,
        Ok(pb::Action::UploadFlutterSymbols) => Action::UploadFlutterSymbols,
        Ok(pb::Action::Read) => Action::Read,
        Ok(pb::Action::Write) => Action::Write,
        Err(_) => {
            return Err(Error::invalid(
                field,
                format!("unknown action value {value}"),
            ));
        }
    };
    Ok(action)
}

/// Converts a cost: 0 means 1; negative values and values above the system limit's count,
/// which could never be allowed, are rejected.
pub fn cost(field: &str, value: i64, system: SystemLimit, zero_means: u64) -> Result<u64, Error> {
    if value < 0 {
        return Err(Error::invalid(
            field,
            format!("must not be negative, got {value}"),
        ));
    }
    let cost = value as u64;
    if cost > system.count {
        return Err(Error::invalid(
            field,
            format!(
                "{cost} is above the system limit of {} requests per {} seconds, so it could \
                 never be allowed",
                system.count, system.window_seconds
            ),
        ));
    }
    Ok(if cost == 0 { zero_means } else { cost })
}

/// Converts one scope value.
pub fn scope(field: &str, value: i32) -> Result<Scope, Error> {
    match pb::Scope::try_from(value) {
        Ok(pb::Scope::PostServerItem) => Ok(Scope::PostServerItem),
        Ok(pb::Scope::PostClientItem) => Ok(Scope::PostClientItem),
        Ok(pb::Scope::Read) => Ok(Scope::Read),
        Ok(pb::Scope::Write) => Ok(Scope::Write),
        Ok(pb::Scope::Unspecified) => Err(Error::invalid(
            field,
            "SCOPE_UNSPECIFIED is not a scope; use SCOPE_POST_SERVER_ITEM, \
             SCOPE_POST_CLIENT_ITEM, SCOPE_READ or SCOPE_WRITE",
        )),
        Err(_) => Err(Error::invalid(
            field,
            format!("unknown scope value {value}"),
        )),
    }
}

/// Converts a non-empty list of scopes into a set.
pub fn scopes(field: &str, values: &[i32]) -> Result<ScopeSet, Error> {
    if values.is_empty() {
        return Err(Error::invalid(field, "must name at least one scope"));
    }
    values
        .iter()
        .enumerate()
        .map(|(index, value)| scope(&format!("{field}[{index}]"), *value))
        .collect()
}

/// Converts an optional user-defined limit; an unset message or a zero count or window clears it.
pub fn user_limit(
    field: &str,
    value: Option<&pb::UserRateLimit>,
    system: SystemLimit,
) -> Result<Option<UserLimit>, Error> {
    let Some(limit) = value else {
        return Ok(None);
    };
    validate_user_limit(limit.count, limit.window_seconds, system)
        .map_err(|rule| Error::invalid(field, rule))
}

/// Converts an optional expiry, which must be a valid timestamp in the future.
pub fn expires_at(
    field: &str,
    value: Option<&Timestamp>,
    now_ms: i64,
) -> Result<Option<i64>, Error> {
    let Some(timestamp) = value else {
        return Ok(None);
    };
    if !(0..1_000_000_000).contains(&timestamp.nanos) {
        return Err(Error::invalid(
            field,
            format!(
                "nanos must be between 0 and 999999999, got {}",
                timestamp.nanos
            ),
        ));
    }
    if timestamp.seconds > MAX_TIMESTAMP_SECONDS {
        return Err(Error::invalid(
            field,
            format!(
                "{} seconds is after 9999-12-31T23:59:59Z, the latest valid timestamp",
                timestamp.seconds
            ),
        ));
    }
    let at_ms = timestamp
        .seconds
        .checked_mul(1000)
        .and_then(|ms| ms.checked_add(i64::from(timestamp.nanos / 1_000_000)))
        .ok_or_else(|| {
            Error::invalid(
                field,
                format!("{} seconds is out of range", timestamp.seconds),
            )
        })?;
    if at_ms <= now_ms {
        return Err(Error::invalid(
            field,
            format!(
                "must be in the future, got {} seconds since the epoch; use the expire_token \
                 operation to expire a token now",
                timestamp.seconds
            ),
        ));
    }
    Ok(Some(at_ms))
}

/// Converts a required account plan.
pub fn plan(field: &str, value: i32) -> Result<Plan, Error> {
    match pb::AccountPlan::try_from(value) {
        Ok(pb::AccountPlan::Free) => Ok(Plan::Free),
        Ok(pb::AccountPlan::Paid) => Ok(Plan::Paid),
        Ok(pb::AccountPlan::Unspecified) => Err(Error::invalid(
            field,
            "is required; set ACCOUNT_PLAN_FREE or ACCOUNT_PLAN_PAID",
        )),
        Err(_) => Err(Error::invalid(field, format!("unknown plan value {value}"))),
    }
}

/// Converts a list filter: TOKEN_STATUS_UNSPECIFIED means every status.
pub fn status_filter(field: &str, value: i32) -> Result<Option<TokenStatus>, Error> {
    match pb::TokenStatus::try_from(value) {
        Ok(pb::TokenStatus::Unspecified) => Ok(None),
        Ok(pb::TokenStatus::Enabled) => Ok(Some(TokenStatus::Enabled)),
        Ok(pb::TokenStatus::Disabled) => Ok(Some(TokenStatus::Disabled)),
        Ok(pb::TokenStatus::Expired) => Ok(Some(TokenStatus::Expired)),
        Err(_) => Err(Error::invalid(
            field,
            format!("unknown status value {value}"),
        )),
    }
}

/// Converts a page size: 0 means the default.
pub fn page_size(field: &str, value: i32) -> Result<usize, Error> {
    match value {
        0 => Ok(DEFAULT_PAGE_SIZE),
        1.. if value as usize <= MAX_PAGE_SIZE => Ok(value as usize),
        _ => Err(Error::invalid(
            field,
            format!(
                "must be between 1 and {MAX_PAGE_SIZE}, or 0 for {DEFAULT_PAGE_SIZE}; got {value}"
            ),
        )),
    }
}

/// Converts a page token: empty for the first page, else the token id a previous page ended at.
pub fn page_token<'a>(field: &str, value: &'a str) -> Result<Option<&'a str>, Error> {
    if value.is_empty() {
        return Ok(None);
    }
    if !is_generated_token_id(value) {
        return Err(Error::invalid(
            field,
            "is not a next_page_token returned by a previous page; pass it unchanged, or leave \
             it empty for the first page",
        ));
    }
    Ok(Some(value))
}

/// Checks a token reference and returns its project and token ids.
pub fn token_ref<'a>(
    field: &str,
    value: Option<&'a pb::TokenRef>,
) -> Result<(&'a str, &'a str), Error> {
    let token = value.ok_or_else(|| Error::invalid(field, "is required"))?;
    id(&format!("{field}.project_id"), &token.project_id)?;
    id(&format!("{field}.token_id"), &token.token_id)?;
    Ok((&token.project_id, &token.token_id))
}

/// Converts an update and its mask into a patch. Every path must be known, the mask must not be
/// empty, and a field set in the update but missing from the mask is rejected rather than
/// ignored.
pub fn patch(
    field: &str,
    update: Option<&pb::TokenUpdate>,
    mask: Option<&FieldMask>,
    system: SystemLimit,
    now_ms: i64,
) -> Result<TokenPatch, Error> {
    let mask_field = format!("{field}.update_mask");
    let paths = mask.map(|mask| mask.paths.as_slice()).unwrap_or_default();
    if paths.is_empty() {
        return Err(Error::invalid(
            mask_field,
            "is required; name the fields to change: name, scopes, status, rate_limit, expires_at",
        ));
    }
    if let Some(unknown) = paths
        .iter()
        .find(|path| !UPDATE_PATHS.contains(&path.as_str()))
    {
        return Err(Error::invalid(
            mask_field,
            format!("unknown path {unknown:?}; use name, scopes, status, rate_limit or expires_at"),
        ));
    }

    let default_update = pb::TokenUpdate::default();
    let update = update.unwrap_or(&default_update);
    let named = |path: &str| paths.iter().any(|p| p == path);
    let update_field = |name: &str| format!("{field}.update.{name}");
    let set_but_unnamed = [
        ("name", !update.name.is_empty()),
        ("scopes", !update.scopes.is_empty()),
        ("status", update.status != 0),
        ("rate_limit", update.rate_limit.is_some()),
        ("expires_at", update.expires_at.is_some()),
    ]
    .into_iter()
    .find(|(path, set)| *set && !named(path));
    if let Some((path, _)) = set_but_unnamed {
        return Err(Error::invalid(
            update_field(path),
            format!(
                "is set but update_mask does not name {path:?}; add it to the mask or leave the field unset"
            ),
        ));
    }

    let mut patch = TokenPatch::default();
    if named("name") {
        name(&update_field("name"), &update.name)?;
        patch.name = Some(update.name.clone());
    }
    if named("scopes") {
        patch.scopes = Some(scopes(&update_field("scopes"), &update.scopes)?);
    }
    if named("status") {
        patch.status = Some(match pb::TokenStatus::try_from(update.status) {
            Ok(pb::TokenStatus::Enabled) => TokenStatus::Enabled,
            Ok(pb::TokenStatus::Disabled) => TokenStatus::Disabled,
            Ok(pb::TokenStatus::Expired) => {
                return Err(Error::invalid(
                    update_field("status"),
                    "cannot be set to TOKEN_STATUS_EXPIRED; use the expire_token operation",
                ));
            }
            _ => {
                return Err(Error::invalid(
                    update_field("status"),
                    format!(
                        "must be TOKEN_STATUS_ENABLED or TOKEN_STATUS_DISABLED, got {}",
                        update.status
                    ),
                ));
            }
        });
    }
    if named("rate_limit") {
        patch.user_limit = Some(user_limit(
            &update_field("rate_limit"),
            update.rate_limit.as_ref(),
            system,
        )?);
    }
    if named("expires_at") {
        patch.expires_at_ms = Some(expires_at(
            &update_field("expires_at"),
            update.expires_at.as_ref(),
            now_ms,
        )?);
    }
    Ok(patch)
}
