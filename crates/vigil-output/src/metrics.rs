//! A Prometheus `/metrics` endpoint. The agent renders its counters with [`Exposition`]
//! (text format 0.0.4) every second and [`MetricsServer`] serves the latest page from
//! its own thread.

use std::fmt::Write;
use std::sync::{Arc, Mutex};

/// Builds a page of the Prometheus text format.
#[derive(Default)]
pub struct Exposition {
    out: String,
    declared: std::collections::BTreeSet<String>,
}

fn escape(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

impl Exposition {
    /// One sample; `kind` is `counter` or `gauge` (declared once per name).
    pub fn sample(&mut self, name: &str, kind: &str, help: &str, labels: &[(&str, &str)], value: f64) {
        if self.declared.insert(name.to_string()) {
            let _ = writeln!(self.out, "# HELP {name} {help}");
            let _ = writeln!(self.out, "# TYPE {name} {kind}");
        }
        let labels: Vec<String> = labels.iter().map(|(k, v)| format!("{k}=\"{}\"", escape(v))).collect();
        if labels.is_empty() {
            let _ = writeln!(self.out, "{name} {value}");
        } else {
            let _ = writeln!(self.out, "{name}{{{}}} {value}", labels.join(","));
        }
    }

    pub fn finish(self) -> String {
        self.out
    }
}

/// Serves the last page at `/metrics`.
pub struct MetricsServer {
    page: Arc<Mutex<String>>,
    pub addr: String,
}

impl MetricsServer {
    /// Listens on `addr` (`127.0.0.1:9464`, `0.0.0.0:9464`).
    pub fn start(addr: &str) -> Result<MetricsServer, String> {
        let server = tiny_http::Server::http(addr).map_err(|e| format!("metrics on {addr}: {e}"))?;
        let bound = server
            .server_addr()
            .to_ip()
            .map(|a| a.to_string())
            .unwrap_or_else(|| addr.to_string());
        let page = Arc::new(Mutex::new(String::new()));
        let p = page.clone();
        std::thread::Builder::new()
            .name("vigil-metrics".into())
            .spawn(move || {
                for req in server.incoming_requests() {
                    let resp = if req.url() == "/metrics" {
                        let body = p.lock().unwrap_or_else(|e| e.into_inner()).clone();
                        let ct = tiny_http::Header::from_bytes(
                            &b"Content-Type"[..],
                            &b"text/plain; version=0.0.4; charset=utf-8"[..],
                        )
                        .ok();
                        let mut r = tiny_http::Response::from_string(body);
                        if let Some(h) = ct {
                            r.add_header(h);
                        }
                        r
                    } else {
                        tiny_http::Response::from_string("see /metrics\n").with_status_code(404)
                    };
                    let _ = req.respond(resp);
                }
            })
            .map_err(|e| format!("metrics thread: {e}"))?;
        Ok(MetricsServer { page, addr: bound })
    }

    pub fn publish(&self, page: String) {
        *self.page.lock().unwrap_or_else(|e| e.into_inner()) = page;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn samples_are_declared_once_and_labels_escaped() {
        let mut e = Exposition::default();
        e.sample("vigil_alerts_total", "counter", "Alerts", &[("rule", "a \"b\"")], 2.0);
        e.sample("vigil_alerts_total", "counter", "Alerts", &[("rule", "c")], 1.0);
        assert_eq!(
            e.finish(),
            "# HELP vigil_alerts_total Alerts\n# TYPE vigil_alerts_total counter\nvigil_alerts_total{rule=\"a \\\"b\\\"\"} 2\nvigil_alerts_total{rule=\"c\"} 1\n"
        );
    }
}
