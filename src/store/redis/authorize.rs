//! Authorize and the rate-limit checks: one run of `authorize.lua`, and the reading of its reply
//! into the domain's outcome types, so the header arithmetic stays in the domain.

use redis::Value;

use super::{keys::TokenKeys, pool::Conn, reply, scripts};
use crate::{
    domain::{
        Denial, KeyHash, RateMode, RateOutcome, Scope, ScopeSet, SystemLimit, TokenStatus,
        limits::{Limit, LimitKind, Window, WindowView},
    },
    store::{AuthorizeOutcome, AuthorizeQuery, StoreError, StoreResult, TokenSummary},
};

/// Lua numbers are doubles, which represent every integer up to this one exactly.
const MAX_EXACT_LUA_INTEGER: u64 = (1 << 53) - 1;

/// The mode of `authorize.lua`.
#[derive(Clone, Copy, Debug)]
pub enum ScriptMode<'a> {
    /// Authorize: the token checks, then the limits in [`RateMode::Consume`].
    Authorize {
        /// The project the caller expects, if any.
        project_id: Option<&'a str>,
        /// The scope the action requires.
        required_scope: Scope,
    },
    /// A rate-limit check without token checks.
    Rate(RateMode),
}

/// The reply of `authorize.lua`.
#[derive(Debug)]
pub struct Evaluation {
    /// The reason the request was denied, or `None` when nothing denied it.
    pub denial: Option<Denial>,
    /// The token, when the key has a record.
    pub token: Option<TokenSummary>,
    /// The token's effective status, when the key has a record.
    pub status: Option<TokenStatus>,
    /// The limits, when the token checks passed.
    pub rate: Option<RateOutcome>,
}

impl Evaluation {
    /// Converts the evaluation into Authorize's outcome.
    pub fn into_outcome(self) -> AuthorizeOutcome {
        AuthorizeOutcome {
            denial: self.denial,
            token: self.token,
            rate: self.rate,
        }
    }
}

/// Runs `authorize.lua` for the token of `hash`.
pub async fn evaluate(
    conn: &Conn,
    hash: KeyHash,
    mode: ScriptMode<'_>,
    cost: u64,
    system: SystemLimit,
) -> StoreResult<Evaluation> {
    let required_scope = match mode {
        ScriptMode::Authorize { required_scope, .. } => Some(required_scope),
        ScriptMode::Rate(_) => None,
    };
    let value = conn.invoke(&invocation(hash, mode, cost, system)).await?;
    parse(value, required_scope)
}

/// Builds the `authorize.lua` invocation for the token of `hash`: its three keys and six
/// arguments.
pub fn invocation(
    hash: KeyHash,
    mode: ScriptMode<'_>,
    cost: u64,
    system: SystemLimit,
) -> redis::ScriptInvocation<'static> {
    let keys = TokenKeys::new(hash);
    let (mode_name, project_id, required_scope) = match mode {
        ScriptMode::Authorize {
            project_id,
            required_scope,
        } => ("authorize", project_id, Some(required_scope)),
        ScriptMode::Rate(RateMode::Report) => ("report", None, None),
        ScriptMode::Rate(RateMode::DryRun) => ("dry_run", None, None),
        ScriptMode::Rate(RateMode::Consume) => ("consume", None, None),
    };
    let scope_bit = required_scope.map_or(0, |scope| ScopeSet::from_iter([scope]).bits());

    let mut invocation = scripts::AUTHORIZE.prepare_invoke();
    invocation
        .key(&keys.record)
        .key(&keys.system_window)
        .key(&keys.user_window)
        .arg(mode_name)
        .arg(project_id.unwrap_or(""))
        .arg(scope_bit)
        .arg(cost.clamp(1, MAX_EXACT_LUA_INTEGER))
        .arg(system.count.min(MAX_EXACT_LUA_INTEGER))
        .arg(system.window_seconds);
    invocation
}

/// Reads the reply of `authorize.lua`, whose shape is described at the top of the script. The
/// token's strings are moved out of the reply, not copied.
pub fn parse(value: Value, required_scope: Option<Scope>) -> StoreResult<Evaluation> {
    const WHAT: &str = "authorize.lua";
    let mut items = reply::array(value, WHAT)?;
    let code = match items.first() {
        Some(first) => reply::as_str(first, WHAT)?,
        None => {
            return Err(StoreError::Corrupt(format!(
                "{WHAT} returned an empty reply"
            )));
        }
    };
    if code == "unknown" {
        return Ok(Evaluation {
            denial: Some(Denial::UnknownToken),
            token: None,
            status: None,
            rate: None,
        });
    }
    if items.len() < 6 {
        return Err(StoreError::Corrupt(format!(
            "{WHAT} returned {} items after {code:?}",
            items.len() - 1
        )));
    }

    let scopes = u8::try_from(reply::integer(&items[4], WHAT)?)
        .ok()
        .and_then(ScopeSet::from_bits)
        .ok_or_else(|| reply::corrupt("scopes", &items[4]))?;
    let status_name = reply::as_str(&items[5], WHAT)?;
    let status = TokenStatus::from_name(status_name).ok_or_else(|| {
        StoreError::Corrupt(format!(
            "token record has an invalid status: {status_name:?}"
        ))
    })?;

    let denial = match code {
        "ok" => None,
        "rate_limited" => Some(Denial::RateLimited),
        "disabled" => Some(Denial::Disabled),
        "expired" => Some(Denial::Expired),
        "wrong_project" => Some(Denial::WrongProject),
        "insufficient_scope" => Some(Denial::InsufficientScope {
            required: required_scope.ok_or_else(|| {
                StoreError::Corrupt(format!("{WHAT} checked a scope that was not requested"))
            })?,
            held: scopes,
        }),
        other => {
            return Err(StoreError::Corrupt(format!(
                "{WHAT} returned an unknown code {other:?}"
            )));
        }
    };
    let rate = match denial {
        None | Some(Denial::RateLimited) => Some(parse_rate(&items[6..])?),
        Some(_) => None,
    };
    let mut take = |index: usize| reply::into_text(std::mem::take(&mut items[index]), WHAT);
    let token = TokenSummary {
        token_id: take(1)?,
        project_id: take(2)?,
        name: take(3)?,
        scopes,
    };
    Ok(Evaluation {
        denial,
        token: Some(token),
        status: Some(status),
        rate,
    })
}

/// Reads `now_ms, allowed, consumed, first_denial, system_window[, user_window]`.
fn parse_rate(items: &[Value]) -> StoreResult<RateOutcome> {
    const WHAT: &str = "authorize.lua rate figures";
    if !(5..=6).contains(&items.len()) {
        return Err(StoreError::Corrupt(format!(
            "{WHAT}: expected 5 or 6 items, got {}",
            items.len()
        )));
    }
    let kinds = [LimitKind::System, LimitKind::User];
    let windows = items[4..]
        .iter()
        .zip(kinds)
        .map(|(window, kind)| parse_window(window, kind))
        .collect::<StoreResult<Vec<_>>>()?;
    Ok(RateOutcome {
        windows,
        now_ms: reply::integer(&items[0], WHAT)?,
        allowed: reply::flag(&items[1], WHAT)?,
        consumed: reply::flag(&items[2], WHAT)?,
        first_denial: reply::flag(&items[3], WHAT)?,
    })
}

/// Reads `{limit, window_s, enforced, open, start_ms, count, denied}`.
fn parse_window(value: &Value, kind: LimitKind) -> StoreResult<WindowView> {
    const WHAT: &str = "authorize.lua window";
    let Value::Array(fields) = value else {
        return Err(reply::corrupt(WHAT, value));
    };
    if fields.len() != 7 {
        return Err(reply::corrupt(WHAT, value));
    }
    let limit = Limit {
        kind,
        count: reply::count(&fields[0], WHAT)?,
        window_seconds: reply::count(&fields[1], WHAT)?,
        enforced: reply::flag(&fields[2], WHAT)?,
    };
    let window = if reply::flag(&fields[3], WHAT)? {
        Some(Window {
            start_ms: reply::integer(&fields[4], WHAT)?,
            count: reply::count(&fields[5], WHAT)?,
            denied: reply::flag(&fields[6], WHAT)?,
        })
    } else {
        None
    };
    Ok(WindowView { limit, window })
}

/// Returns the query's script mode.
pub fn authorize_mode<'a>(query: &AuthorizeQuery<'a>) -> ScriptMode<'a> {
    ScriptMode::Authorize {
        project_id: query.project_id,
        required_scope: query.required_scope,
    }
}
