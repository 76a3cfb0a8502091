//! Rate limits: the settings, fixed windows, and the all-or-nothing check of both limits.
//!
//! Windows are fixed and start at the first counted request, not on clock boundaries: a window
//! covers `[start, start + window_seconds)`. A request is counted only when every enforced limit
//! has room for its whole cost; a denied request counts against neither limit. The in-memory
//! store runs [`evaluate`] directly and the Redis store runs the same steps in `authorize.lua`.

/// The window lengths, in seconds, that a user-defined limit may use.
pub const USER_LIMIT_WINDOWS: [u64; 7] = [60, 300, 1800, 3600, 86_400, 604_800, 2_592_000];

/// The service-wide limit that applies to every token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SystemLimit {
    /// Requests allowed per window.
    pub count: u64,
    /// Window length in seconds.
    pub window_seconds: u64,
}

impl SystemLimit {
    /// 50,000 requests per minute.
    pub const DEFAULT: SystemLimit = SystemLimit {
        count: 50_000,
        window_seconds: 60,
    };

    /// Returns the most requests the system limit allows over a window of `window_seconds`: its
    /// rate scaled to that window, rounded down.
    pub fn max_over(self, window_seconds: u64) -> u64 {
        let scaled = u128::from(self.count) * u128::from(window_seconds)
            / u128::from(self.window_seconds.max(1));
        u64::try_from(scaled).unwrap_or(u64::MAX)
    }

    /// Returns the system limit as a [`Limit`].
    pub fn as_limit(self) -> Limit {
        Limit {
            kind: LimitKind::System,
            count: self.count,
            window_seconds: self.window_seconds,
            enforced: true,
        }
    }
}

/// A token's own limit, enforced while its account is on the paid plan.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserLimit {
    /// Requests allowed per window.
    pub count: u64,
    /// Window length in seconds, one of [`USER_LIMIT_WINDOWS`].
    pub window_seconds: u64,
}

impl UserLimit {
    /// Returns the user limit as a [`Limit`], enforced or not.
    pub fn as_limit(self, enforced: bool) -> Limit {
        Limit {
            kind: LimitKind::User,
            count: self.count,
            window_seconds: self.window_seconds,
            enforced,
        }
    }
}

/// Validates a requested user-defined limit. A count or window of 0 clears the limit (`None`).
/// The error is the rule that was broken, for an INVALID_ARGUMENT reply.
pub fn validate_user_limit(
    count: i64,
    window_seconds: i64,
    system: SystemLimit,
) -> Result<Option<UserLimit>, String> {
    if count < 0 || window_seconds < 0 {
        return Err(format!(
            "count ({count}) and window_seconds ({window_seconds}) must not be negative"
        ));
    }
    if count == 0 || window_seconds == 0 {
        return Ok(None);
    }

    let (count, window_seconds) = (count as u64, window_seconds as u64);
    if !USER_LIMIT_WINDOWS.contains(&window_seconds) {
        return Err(format!(
            "window_seconds {window_seconds} is not allowed; use one of 60, 300, 1800, 3600, \
             86400, 604800 or 2592000"
        ));
    }
    let ceiling = system.max_over(window_seconds);
    if count > ceiling {
        return Err(format!(
            "count {count} is above {ceiling}, the most the system limit allows over \
             {window_seconds} seconds"
        ));
    }
    Ok(Some(UserLimit {
        count,
        window_seconds,
    }))
}

/// One of a token's two limits.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum LimitKind {
    /// The service-wide limit.
    System,
    /// The token's own limit.
    User,
}

/// One limit as it applies to one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limit {
    /// The limit's kind.
    pub kind: LimitKind,
    /// Requests allowed per window.
    pub count: u64,
    /// Window length in seconds.
    pub window_seconds: u64,
    /// False for a user limit whose account is not on the paid plan: it is reported, but it
    /// neither denies nor counts requests.
    pub enforced: bool,
}

impl Limit {
    fn window_ms(self) -> i64 {
        i64::try_from(self.window_seconds.saturating_mul(1000)).unwrap_or(i64::MAX)
    }
}

/// The stored state of one limit's window.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Window {
    /// When the window started, in Unix milliseconds.
    pub start_ms: i64,
    /// Requests counted in the window.
    pub count: u64,
    /// Whether a request was already denied in this window, so only the first denial is flagged.
    pub denied: bool,
}

/// The effect of a rate-limit evaluation besides reporting.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateMode {
    /// Report the windows; test and count nothing.
    Report,
    /// Test whether the cost fits, and count nothing.
    DryRun,
    /// Count the cost when it fits every enforced limit; flag the first denial when it does not.
    Consume,
}

/// One limit with its current window, as reported after an evaluation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct WindowView {
    /// The limit.
    pub limit: Limit,
    /// The open window, or `None` when no window is open at the evaluation time.
    pub window: Option<Window>,
}

impl WindowView {
    /// Requests counted in the open window.
    pub fn count(&self) -> u64 {
        self.window.map_or(0, |window| window.count)
    }

    /// Requests left in the open window.
    pub fn remaining(&self) -> u64 {
        self.limit.count.saturating_sub(self.count())
    }

    /// When the open window ends, in Unix milliseconds; a window opened now when none is open.
    pub fn end_ms(&self, now_ms: i64) -> i64 {
        let start = self.window.map_or(now_ms, |window| window.start_ms);
        start.saturating_add(self.limit.window_ms())
    }
}

/// The result of a rate-limit evaluation.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RateOutcome {
    /// The system limit's window, then the user limit's when the token has one.
    pub windows: Vec<WindowView>,
    /// The instant of the evaluation, in Unix milliseconds.
    pub now_ms: i64,
    /// Whether the cost fits every enforced limit (always true for [`RateMode::Report`]).
    pub allowed: bool,
    /// Whether the cost was counted.
    pub consumed: bool,
    /// Whether this was the first denial in a window of a denying limit.
    pub first_denial: bool,
}

/// The figures for the `X-Rate-Limit-*` headers of one limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RateHeaders {
    /// The limit the figures describe.
    pub kind: LimitKind,
    /// Requests allowed per window.
    pub limit: u64,
    /// Requests left in the window.
    pub remaining: u64,
    /// When the window ends, in Unix seconds, rounded up.
    pub reset: i64,
    /// Seconds until the window ends, rounded up.
    pub remaining_seconds: i64,
    /// Seconds to wait before retrying; 0 unless the request was denied.
    pub retry_after_seconds: i64,
    /// The window's length in seconds.
    pub window_seconds: u64,
}

/// Evaluates `cost` against each limit and its stored window at `now_ms`.
///
/// Returns the outcome and, for each limit in order, the window to store, or `None` to leave the
/// stored state as it is. A window whose end has passed counts as absent: the next counted
/// request opens a new one at `now_ms`.
pub fn evaluate(
    limits: &[(Limit, Option<Window>)],
    cost: u64,
    mode: RateMode,
    now_ms: i64,
) -> (RateOutcome, Vec<Option<Window>>) {
    let open: Vec<Option<Window>> = limits
        .iter()
        .map(|(limit, stored)| stored.filter(|window| now_ms < window.start_ms + limit.window_ms()))
        .collect();
    let fits: Vec<bool> = limits
        .iter()
        .zip(&open)
        .map(|((limit, _), window)| {
            !limit.enforced || window.map_or(0, |w| w.count).saturating_add(cost) <= limit.count
        })
        .collect();
    let allowed = mode == RateMode::Report || fits.iter().all(|fit| *fit);

    let mut writes = vec![None; limits.len()];
    let mut first_denial = false;
    if mode == RateMode::Consume {
        for (index, (limit, _)) in limits.iter().enumerate() {
            if !limit.enforced {
                continue;
            }
            let mut window = open[index].unwrap_or(Window {
                start_ms: now_ms,
                count: 0,
                denied: false,
            });
            if allowed {
                window.count = window.count.saturating_add(cost);
                writes[index] = Some(window);
            } else if !fits[index] && !window.denied && cost <= limit.count {
                // The denial is recorded in the window, opening one with no count if needed, so
                // that exactly one denial per window is flagged. A cost above the limit's count
                // could never fit, so it neither opens a window nor raises the notice.
                window.denied = true;
                first_denial = true;
                writes[index] = Some(window);
            }
        }
    }

    let windows = limits
        .iter()
        .enumerate()
        .map(|(index, (limit, _))| WindowView {
            limit: *limit,
            window: writes[index].or(open[index]),
        })
        .collect();
    let outcome = RateOutcome {
        windows,
        now_ms,
        allowed,
        consumed: mode == RateMode::Consume && allowed,
        first_denial,
    };
    (outcome, writes)
}

impl RateOutcome {
    /// Returns the header figures of the limit closest to denial. After a denial that is the
    /// denying limit whose window ends last, else the enforced limit with the fewest remaining.
    pub fn headers(&self, cost: u64) -> Option<RateHeaders> {
        let enforced = self.windows.iter().filter(|view| view.limit.enforced);
        let chosen = if self.allowed {
            enforced.min_by_key(|view| view.remaining())
        } else {
            enforced
                .filter(|view| view.count().saturating_add(cost) > view.limit.count)
                .max_by_key(|view| view.end_ms(self.now_ms))
        }?;

        let end_ms = chosen.end_ms(self.now_ms);
        let remaining_seconds = ceil_seconds(end_ms - self.now_ms).max(0);
        Some(RateHeaders {
            kind: chosen.limit.kind,
            limit: chosen.limit.count,
            remaining: chosen.remaining(),
            reset: ceil_seconds(end_ms),
            remaining_seconds,
            retry_after_seconds: if self.allowed {
                0
            } else {
                remaining_seconds.max(1)
            },
            window_seconds: chosen.limit.window_seconds,
        })
    }
}

/// Converts milliseconds to seconds, rounding up.
pub fn ceil_seconds(ms: i64) -> i64 {
    ms.div_euclid(1000) + i64::from(ms.rem_euclid(1000) != 0)
}

#[cfg(test)]
mod tests;
