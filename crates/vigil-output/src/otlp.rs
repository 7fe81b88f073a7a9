//! Alerts as OpenTelemetry log records, POSTed to a collector's OTLP/HTTP endpoint
//! (`http://HOST:4318/v1/logs`) in OTLP's JSON encoding (the protobuf schema's JSON
//! mapping, which collectors accept with `Content-Type: application/json`).

use std::sync::Arc;
use std::time::Duration;

use serde_json::{json, Value};

use crate::alert::{falco_priority, AlertRecord};
use crate::worker::Sink;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OtlpConfig {
    /// The logs endpoint, e.g. `http://127.0.0.1:4318/v1/logs`.
    pub url: String,
}

/// OpenTelemetry severity numbers (logs data model).
fn severity_number(priority: &str) -> u32 {
    match falco_priority(priority) {
        "Emergency" => 24,
        "Alert" => 23,
        "Critical" => 21,
        "Error" => 17,
        "Warning" => 13,
        "Notice" => 10,
        "Informational" => 9,
        _ => 5,
    }
}

fn any_value(v: &Value) -> Value {
    match v {
        Value::Bool(b) => json!({ "boolValue": b }),
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({ "intValue": n.to_string() }),
        Value::Number(n) => json!({ "doubleValue": n.as_f64() }),
        Value::String(s) => json!({ "stringValue": s }),
        other => json!({ "stringValue": other.to_string() }),
    }
}

/// The ExportLogsServiceRequest for a batch, as JSON.
pub fn request(batch: &[Arc<AlertRecord>], hostname: &str) -> Value {
    let records: Vec<Value> = batch
        .iter()
        .map(|a| {
            let mut attrs = vec![
                json!({ "key": "rule", "value": { "stringValue": a.rule } }),
                json!({ "key": "priority", "value": { "stringValue": falco_priority(&a.priority) } }),
                json!({ "key": "source", "value": { "stringValue": "syscall" } }),
                json!({ "key": "tags", "value": { "arrayValue": { "values": a.tags.iter().map(|t| json!({ "stringValue": t })).collect::<Vec<_>>() } } }),
            ];
            for (k, v) in &a.output_fields {
                if !v.is_null() {
                    attrs.push(json!({ "key": k, "value": any_value(v) }));
                }
            }
            json!({
                "timeUnixNano": a.time_ns.max(0).to_string(),
                "severityNumber": severity_number(&a.priority),
                "severityText": falco_priority(&a.priority),
                "body": { "stringValue": a.output },
                "attributes": attrs,
            })
        })
        .collect();
    json!({
        "resourceLogs": [{
            "resource": { "attributes": [
                { "key": "service.name", "value": { "stringValue": "vigil" } },
                { "key": "host.name", "value": { "stringValue": hostname } },
            ]},
            "scopeLogs": [{ "scope": { "name": "vigil" }, "logRecords": records }]
        }]
    })
}

pub struct OtlpSink {
    cfg: OtlpConfig,
}

impl OtlpSink {
    pub fn new(cfg: OtlpConfig) -> OtlpSink {
        OtlpSink { cfg }
    }
}

impl Sink for OtlpSink {
    fn deliver(&mut self, batch: &[Arc<AlertRecord>]) -> Result<(), String> {
        let host = batch.first().map(|a| a.hostname.as_str()).unwrap_or("");
        let body = request(batch, host).to_string();
        ureq::post(&self.cfg.url)
            .timeout(Duration::from_secs(5))
            .set("Content-Type", "application/json")
            .send_string(&body)
            .map(|_| ())
            .map_err(|e| format!("otlp {}: {e}", self.cfg.url))
    }
}
