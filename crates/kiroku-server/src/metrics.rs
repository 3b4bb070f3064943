//! Prometheus metrics: request counts by status class, login failures, and writer latency.

use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

#[derive(Debug, Default)]
pub struct Metrics {
    pub responses: [AtomicU64; 5],
    pub login_failures: AtomicU64,
    pub logins: AtomicU64,
    pub audited_reads: AtomicU64,
    pub writes: AtomicU64,
    /// Audit events not yet confirmed delivered to the syslog collector.
    pub syslog_backlog: AtomicU64,
}

impl Metrics {
    pub fn count_response(&self, status: u16) {
        let class = usize::from(status / 100).clamp(1, 5) - 1;
        self.responses[class].fetch_add(1, Relaxed);
    }

    /// The Prometheus text exposition.
    pub fn render(&self, backend: &str) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "# HELP kiroku_build_info Build information.\n# TYPE kiroku_build_info gauge");
        let _ = writeln!(out, "kiroku_build_info{{version=\"{}\",backend=\"{backend}\"}} 1", env!("CARGO_PKG_VERSION"));
        let _ =
            writeln!(out, "# HELP kiroku_http_responses_total HTTP responses by status class.\n# TYPE kiroku_http_responses_total counter");
        for (i, n) in self.responses.iter().enumerate() {
            let _ = writeln!(out, "kiroku_http_responses_total{{class=\"{}xx\"}} {}", i + 1, n.load(Relaxed));
        }
        let counters = [
            ("kiroku_logins_total", "Successful logins.", &self.logins),
            ("kiroku_login_failures_total", "Failed login attempts.", &self.login_failures),
            ("kiroku_audited_reads_total", "Reads of patient data, each with its audit event.", &self.audited_reads),
            ("kiroku_writes_total", "Committed changes.", &self.writes),
        ];
        for (name, help, v) in counters {
            let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} counter\n{name} {}", v.load(Relaxed));
        }
        let _ = writeln!(
            out,
            "# HELP kiroku_syslog_backlog Audit events not yet delivered to the syslog collector.\n# TYPE kiroku_syslog_backlog gauge\nkiroku_syslog_backlog {}",
            self.syslog_backlog.load(Relaxed)
        );
        out
    }
}
