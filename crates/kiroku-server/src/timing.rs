//! Response-time targets per purpose (見読性, T2-2.3): every request whose route serves one of the
//! purposes below is timed, from its arrival to its response, and counted in a histogram per
//! purpose (Prometheus) and in a window of recent requests (percentiles and the share within the
//! target on the status page). Routes that serve none of them are not measured.

use std::collections::VecDeque;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::Method;
use axum::middleware::Next;
use axum::response::Response;
use serde::Serialize;

use crate::AppState;

/// What a person is doing when they wait for a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Purpose {
    /// Opening a patient's chart: the patient and their list of documents.
    Chart,
    /// Reading one document, a version, its history or a file.
    Document,
    /// Searching patients, the approval queue, the audit trail.
    Search,
    Login,
    /// Printing a record or exporting the trail.
    Print,
    /// Registering or changing a patient or a document.
    Write,
}

impl Purpose {
    pub const ALL: [Purpose; 6] = [Purpose::Chart, Purpose::Document, Purpose::Search, Purpose::Login, Purpose::Print, Purpose::Write];

    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Chart => "chart",
            Purpose::Document => "document",
            Purpose::Search => "search",
            Purpose::Login => "login",
            Purpose::Print => "print",
            Purpose::Write => "write",
        }
    }

    fn index(self) -> usize {
        Purpose::ALL.iter().position(|p| *p == self).unwrap_or(0)
    }
}

/// The purpose a route serves, from its method and its route pattern (`/api/v1/documents/{id}`).
pub fn classify(method: &Method, route: &str) -> Option<Purpose> {
    let api = route.strip_prefix("/api/v1").unwrap_or(route);
    if method != Method::GET {
        return match api {
            "/auth/login" | "/login" => Some(Purpose::Login),
            _ if api.starts_with("/patients") || api.starts_with("/documents") => Some(Purpose::Write),
            _ => None,
        };
    }
    match api {
        "/patients/{patient_id}" | "/patients/{patient_id}/documents" => Some(Purpose::Chart),
        "/patients" | "/approvals" | "/audit" => Some(Purpose::Search),
        "/patients/{patient_id}/print" | "/audit/export.csv" | "/audit/export/fhir" => Some(Purpose::Print),
        _ if api.starts_with("/documents/{id}") && !api.ends_with("/edit") && !api.ends_with("/proof") => Some(Purpose::Document),
        _ => None,
    }
}

/// The targets, in milliseconds, and the window of recent requests the status page summarises.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Targets {
    pub chart_ms: u64,
    pub document_ms: u64,
    pub search_ms: u64,
    pub login_ms: u64,
    pub print_ms: u64,
    pub write_ms: u64,
    pub window_secs: u64,
}

impl Default for Targets {
    fn default() -> Self {
        Targets { chart_ms: 1000, document_ms: 1000, search_ms: 2000, login_ms: 2000, print_ms: 5000, write_ms: 2000, window_secs: 15 * 60 }
    }
}

impl Targets {
    pub fn of(&self, purpose: Purpose) -> Duration {
        Duration::from_millis(match purpose {
            Purpose::Chart => self.chart_ms,
            Purpose::Document => self.document_ms,
            Purpose::Search => self.search_ms,
            Purpose::Login => self.login_ms,
            Purpose::Print => self.print_ms,
            Purpose::Write => self.write_ms,
        })
    }
}

/// Histogram bucket bounds in seconds (Prometheus `le`).
const BUCKETS: [f64; 12] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 5.0, 10.0, 30.0];
/// The most recent requests kept per purpose for percentiles; older ones leave the window anyway.
const WINDOW_CAP: usize = 20_000;

#[derive(Debug, Default)]
struct Series {
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_micros: AtomicU64,
    recent: Mutex<VecDeque<(Instant, Duration)>>,
}

/// The measurements of every purpose since start.
#[derive(Debug, Default)]
pub struct ResponseTimes {
    series: [Series; Purpose::ALL.len()],
}

/// One purpose as the status page and the API show it.
#[derive(Debug, Clone, Serialize)]
pub struct PurposeSummary {
    pub purpose: Purpose,
    pub target_ms: u64,
    /// Requests since the server started.
    pub requests_total: u64,
    /// Requests within the recent window, and their percentiles (None without requests).
    pub window_requests: u64,
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    /// Share of the window's requests answered within the target, in percent.
    pub within_target_percent: Option<f64>,
}

impl ResponseTimes {
    pub fn record(&self, purpose: Purpose, elapsed: Duration) {
        let s = &self.series[purpose.index()];
        let secs = elapsed.as_secs_f64();
        for (bound, n) in BUCKETS.iter().zip(&s.buckets) {
            if secs <= *bound {
                n.fetch_add(1, Relaxed);
            }
        }
        s.count.fetch_add(1, Relaxed);
        s.sum_micros.fetch_add(u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX), Relaxed);
        if let Ok(mut recent) = s.recent.lock() {
            if recent.len() == WINDOW_CAP {
                recent.pop_front();
            }
            recent.push_back((Instant::now(), elapsed));
        }
    }

    /// Every purpose over the last `targets.window_secs`.
    pub fn summary(&self, targets: &Targets) -> Vec<PurposeSummary> {
        let window = Duration::from_secs(targets.window_secs);
        Purpose::ALL
            .iter()
            .map(|&purpose| {
                let s = &self.series[purpose.index()];
                let target = targets.of(purpose);
                let mut times: Vec<Duration> = s
                    .recent
                    .lock()
                    .map(|r| r.iter().filter(|(at, _)| at.elapsed() <= window).map(|(_, d)| *d).collect())
                    .unwrap_or_default();
                times.sort();
                let pct = |q: f64| percentile(&times, q).map(|d| d.as_secs_f64() * 1000.0);
                let within = times.iter().filter(|d| **d <= target).count();
                PurposeSummary {
                    purpose,
                    target_ms: target.as_millis() as u64,
                    requests_total: s.count.load(Relaxed),
                    window_requests: times.len() as u64,
                    p50_ms: pct(0.50),
                    p95_ms: pct(0.95),
                    p99_ms: pct(0.99),
                    within_target_percent: (!times.is_empty()).then(|| within as f64 * 100.0 / times.len() as f64),
                }
            })
            .collect()
    }

    /// The Prometheus text: a histogram and the target per purpose.
    pub fn render(&self, targets: &Targets, out: &mut String) {
        let _ = writeln!(
            out,
            "# HELP kiroku_response_seconds Time to answer requests, by purpose (chart, document, search, login, print, write).\n# TYPE kiroku_response_seconds histogram"
        );
        for purpose in Purpose::ALL {
            let s = &self.series[purpose.index()];
            let p = purpose.as_str();
            for (bound, n) in BUCKETS.iter().zip(&s.buckets) {
                let _ = writeln!(out, "kiroku_response_seconds_bucket{{purpose=\"{p}\",le=\"{bound}\"}} {}", n.load(Relaxed));
            }
            let count = s.count.load(Relaxed);
            let _ = writeln!(out, "kiroku_response_seconds_bucket{{purpose=\"{p}\",le=\"+Inf\"}} {count}");
            let _ = writeln!(out, "kiroku_response_seconds_sum{{purpose=\"{p}\"}} {}", s.sum_micros.load(Relaxed) as f64 / 1e6);
            let _ = writeln!(out, "kiroku_response_seconds_count{{purpose=\"{p}\"}} {count}");
        }
        let _ = writeln!(
            out,
            "# HELP kiroku_response_target_seconds The configured response-time target per purpose.\n# TYPE kiroku_response_target_seconds gauge"
        );
        for purpose in Purpose::ALL {
            let _ =
                writeln!(out, "kiroku_response_target_seconds{{purpose=\"{}\"}} {}", purpose.as_str(), targets.of(purpose).as_secs_f64());
        }
    }
}

/// The value below which a share `q` of the sorted `times` lie (nearest rank).
fn percentile(sorted: &[Duration], q: f64) -> Option<Duration> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted.get(rank - 1).copied()
}

/// Times every request of a measured purpose.
pub async fn measure(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let purpose = request.extensions().get::<MatchedPath>().and_then(|m| classify(request.method(), m.as_str()));
    let started = Instant::now();
    let response = next.run(request).await;
    if let Some(purpose) = purpose {
        state.response_times.record(purpose, started.elapsed());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_classified_by_what_the_reader_does() {
        let get = Method::GET;
        let cases = [
            (&get, "/patients/{patient_id}", Some(Purpose::Chart)),
            (&get, "/api/v1/patients/{patient_id}/documents", Some(Purpose::Chart)),
            (&get, "/api/v1/documents/{id}", Some(Purpose::Document)),
            (&get, "/documents/{id}/history", Some(Purpose::Document)),
            (&get, "/documents/{id}/edit", None),
            (&get, "/api/v1/patients", Some(Purpose::Search)),
            (&get, "/patients/{patient_id}/print", Some(Purpose::Print)),
            (&Method::POST, "/api/v1/auth/login", Some(Purpose::Login)),
            (&Method::POST, "/login", Some(Purpose::Login)),
            (&Method::PUT, "/api/v1/documents/{id}", Some(Purpose::Write)),
            (&Method::POST, "/patients/{patient_id}/documents", Some(Purpose::Write)),
            (&get, "/metrics", None),
            (&Method::POST, "/api/v1/users", None),
        ];
        for (method, route, expected) in cases {
            assert_eq!(classify(method, route), expected, "{method} {route}");
        }
    }

    #[test]
    fn percentiles_and_the_share_within_target() {
        let times = ResponseTimes::default();
        for ms in 1..=100 {
            times.record(Purpose::Chart, Duration::from_millis(ms * 20));
        }
        let targets = Targets::default();
        let chart = times.summary(&targets).into_iter().find(|s| s.purpose == Purpose::Chart).expect("chart");
        assert_eq!((chart.requests_total, chart.window_requests), (100, 100));
        assert_eq!((chart.p50_ms, chart.p99_ms), (Some(1000.0), Some(1980.0)));
        assert_eq!(chart.within_target_percent, Some(50.0));
        let mut text = String::new();
        times.render(&targets, &mut text);
        assert!(text.contains("kiroku_response_seconds_bucket{purpose=\"chart\",le=\"1\"} 50"), "{text}");
        assert!(text.contains("kiroku_response_target_seconds{purpose=\"chart\"} 1"));
    }
}
