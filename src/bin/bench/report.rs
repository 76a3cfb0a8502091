//! Reports: one run as a table or a JSON document, and several runs compared in one table.

use std::{collections::BTreeMap, fs, path::PathBuf};

use comfy_table::{Table, presets};
use serde::{Deserialize, Serialize};

use crate::drive::Phase;

/// The figures of one measured phase.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Report {
    /// `grpc` or `redis-direct`.
    pub target: String,
    /// The workload's name.
    pub workload: String,
    /// `closed` or `open`.
    pub mode: String,
    /// Callers (closed) or the most calls in flight (open).
    pub concurrency: u32,
    /// Connections the callers shared.
    pub connections: u32,
    /// The scheduled calls per second (open mode only).
    pub rate: Option<u64>,
    /// Calls completed in the measured phase.
    pub requests: u64,
    /// Length of the measured phase, in seconds.
    pub elapsed_seconds: f64,
    /// Replies per second: completed calls that did not fail, so that a target that fails fast
    /// does not look faster than a healthy one.
    pub throughput_per_second: f64,
    /// Latency percentiles.
    pub latency_us: Latency,
    /// Replies by decision: `allow`, or `deny/` and the reason.
    pub replies: BTreeMap<String, u64>,
    /// Failed calls by gRPC status code, or `redis_error`.
    pub errors: BTreeMap<String, u64>,
    /// Open-loop calls sent more than 1 ms after their scheduled time.
    pub late_sends: u64,
    /// Open-loop calls never sent because the run overran.
    pub unsent: u64,
    /// CPU time used during the measured phase, in seconds: `generator` and each watched
    /// process.
    pub cpu_seconds: BTreeMap<String, f64>,
    /// The 1-minute load average just before the measured phase.
    pub load_average: Option<f64>,
}

/// Latency percentiles, in microseconds.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Latency {
    /// Median.
    pub p50: f64,
    /// 90th percentile.
    pub p90: f64,
    /// 99th percentile.
    pub p99: f64,
    /// 99.9th percentile.
    pub p999: f64,
    /// Slowest call.
    pub max: f64,
    /// Mean.
    pub mean: f64,
}

impl Latency {
    fn of(phase: &Phase) -> Latency {
        let histogram = &phase.tally.latency;
        let micros = |nanos: u64| (nanos as f64 / 100.0).round() / 10.0;
        Latency {
            p50: micros(histogram.value_at_quantile(0.50)),
            p90: micros(histogram.value_at_quantile(0.90)),
            p99: micros(histogram.value_at_quantile(0.99)),
            p999: micros(histogram.value_at_quantile(0.999)),
            max: micros(histogram.max()),
            mean: (histogram.mean() / 100.0).round() / 10.0,
        }
    }
}

/// The settings and process figures of a run, reported beside its phase.
pub struct RunInfo {
    /// `grpc` or `redis-direct`.
    pub target: &'static str,
    /// The workload's name.
    pub workload: &'static str,
    /// `closed` or `open`.
    pub mode: &'static str,
    /// Callers, or the most calls in flight.
    pub concurrency: u32,
    /// Connections.
    pub connections: u32,
    /// Scheduled calls per second, in open mode.
    pub rate: Option<u64>,
    /// CPU seconds used during the phase, by process name.
    pub cpu_seconds: BTreeMap<String, f64>,
    /// The 1-minute load average before the phase.
    pub load_average: Option<f64>,
}

impl Report {
    /// Builds the report of a measured phase.
    pub fn new(info: RunInfo, phase: &Phase) -> Report {
        let requests = phase.tally.completed();
        let elapsed_seconds = phase.elapsed.as_secs_f64();
        let to_strings = |counts: &BTreeMap<&'static str, u64>| {
            counts
                .iter()
                .map(|(label, count)| ((*label).to_owned(), *count))
                .collect()
        };
        Report {
            target: info.target.to_owned(),
            workload: info.workload.to_owned(),
            mode: info.mode.to_owned(),
            concurrency: info.concurrency,
            connections: info.connections,
            rate: info.rate,
            requests,
            elapsed_seconds: (elapsed_seconds * 1000.0).round() / 1000.0,
            throughput_per_second: (phase.tally.replied() as f64 / elapsed_seconds.max(1e-9))
                .round(),
            latency_us: Latency::of(phase),
            replies: to_strings(&phase.tally.replies),
            errors: to_strings(&phase.tally.errors),
            late_sends: phase.tally.late_sends,
            unsent: phase.tally.unsent,
            cpu_seconds: info.cpu_seconds,
            load_average: info.load_average,
        }
    }

    /// Prints the report as a two-column table.
    pub fn print_table(&self) {
        let mut table = Table::new();
        table.load_style(presets::NOTHING);
        let mut row = |label: &str, value: String| {
            table.add_row(vec![label.to_owned(), value]);
        };

        row("target", self.target.clone());
        row("workload", self.workload.clone());
        let pacing = match self.rate {
            Some(rate) => format!(
                "{} at {rate}/s, at most {} in flight",
                self.mode, self.concurrency
            ),
            None => format!("{}, {} callers", self.mode, self.concurrency),
        };
        row("mode", pacing);
        row("connections", self.connections.to_string());

        row("requests", self.requests.to_string());
        row("elapsed", format!("{:.3} s", self.elapsed_seconds));
        row("throughput", format!("{:.0}/s", self.throughput_per_second));
        let latency = &self.latency_us;

        row("latency p50", format!("{:.1} µs", latency.p50));
        row("latency p90", format!("{:.1} µs", latency.p90));
        row("latency p99", format!("{:.1} µs", latency.p99));
        row("latency p99.9", format!("{:.1} µs", latency.p999));
        row("latency max", format!("{:.1} µs", latency.max));
        for (label, count) in &self.replies {
            row(&format!("replies {label}"), count.to_string());
        }
        for (label, count) in &self.errors {
            row(&format!("errors {label}"), count.to_string());
        }
        if self.rate.is_some() {
            row("late sends", self.late_sends.to_string());
            row("unsent", self.unsent.to_string());
        }
        let calls = self.requests.max(1) as f64;
        for (process, seconds) in &self.cpu_seconds {
            let per_call = seconds * 1e6 / calls;
            row(
                &format!("cpu {process}"),
                format!("{seconds:.2} s, {per_call:.1} µs per call"),
            );
        }
        if let Some(load) = self.load_average {
            row("load average before", format!("{load:.2}"));
        }
        println!("{table}");
    }
}

/// Reads reports and prints them as one table, with the ratio of each gRPC throughput to the
/// redis-direct throughput of the same workload, mode and concurrency.
pub fn compare(paths: &[PathBuf]) -> Result<(), String> {
    let mut reports = Vec::new();
    for path in paths {
        let text = fs::read_to_string(path)
            .map_err(|error| format!("failed to read {}: {error}", path.display()))?;
        let report: Report = serde_json::from_str(&text)
            .map_err(|error| format!("{} is not a report: {error}", path.display()))?;
        reports.push(report);
    }

    let mut table = Table::new();
    table.load_style(presets::NOTHING);
    table.set_header(vec![
        "workload",
        "mode",
        "target",
        "conc",
        "rate",
        "calls/s",
        "÷ direct",
        "p50 µs",
        "p90 µs",
        "p99 µs",
        "p99.9 µs",
        "errors",
        "cpu µs per call",
    ]);
    for report in &reports {
        let baseline = reports.iter().find(|other| {
            other.target == "redis-direct"
                && other.workload == report.workload
                && other.mode == report.mode
                && other.concurrency == report.concurrency
        });
        let ratio = match baseline {
            Some(baseline) if report.target != "redis-direct" => format!(
                "{:.2}",
                report.throughput_per_second / baseline.throughput_per_second.max(1.0)
            ),
            _ => "-".to_owned(),
        };
        let errors: u64 = report.errors.values().sum();
        let calls = report.requests.max(1) as f64;
        let cpu = report
            .cpu_seconds
            .iter()
            .filter(|(_, seconds)| **seconds > 0.0)
            .map(|(process, seconds)| format!("{process} {:.1}", seconds * 1e6 / calls))
            .collect::<Vec<_>>()
            .join(", ");
        let latency = &report.latency_us;
        table.add_row(vec![
            report.workload.clone(),
            report.mode.clone(),
            report.target.clone(),
            report.concurrency.to_string(),
            report
                .rate
                .map_or_else(|| "-".to_owned(), |rate| rate.to_string()),
            format!("{:.0}", report.throughput_per_second),
            ratio,
            format!("{:.0}", latency.p50),
            format!("{:.0}", latency.p90),
            format!("{:.0}", latency.p99),
            format!("{:.0}", latency.p999),
            errors.to_string(),
            cpu,
        ]);
    }
    println!("{table}");
    Ok(())
}
