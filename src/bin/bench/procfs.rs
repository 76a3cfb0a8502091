//! CPU time and load average from Linux's `/proc`, to show how the two cores were shared
//! during a run. Elsewhere the figures are simply missing.

use std::fs;

/// Clock ticks per second in `/proc/PID/stat`: Linux reports CPU time in USER_HZ units, which
/// are 100 per second on every architecture it supports for user space.
const TICKS_PER_SECOND: f64 = 100.0;

/// Returns the CPU time, user and system, that process `pid` has used, in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may contain spaces, so the fields are
    // counted from the closing parenthesis: utime and stime are fields 14 and 15.
    let after_name = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = after_name.split(' ').collect();
    let user: f64 = fields.get(11)?.parse().ok()?;
    let system: f64 = fields.get(12)?.parse().ok()?;
    Some((user + system) / TICKS_PER_SECOND)
}

/// Returns the 1-minute load average.
pub fn load_average() -> Option<f64> {
    fs::read_to_string("/proc/loadavg")
        .ok()?
        .split(' ')
        .next()?
        .parse()
        .ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn own_cpu_time_readable() {
        if !std::path::Path::new("/proc/self/stat").exists() {
            return;
        }
        let seconds = cpu_seconds(std::process::id()).expect("own stat is readable");
        assert!(seconds >= 0.0);
        assert!(load_average().is_some());
    }
}
