//! An alert, in the shapes the outputs write.

use std::collections::BTreeMap;

use serde::Serialize;
use serde_json::Value;

/// One alert, rendered once for every output.
#[derive(Debug, Clone)]
pub struct AlertRecord {
    /// Unix time of the event, ns.
    pub time_ns: i64,
    pub rule: String,
    /// Vigil's spelling (`WARNING`).
    pub priority: String,
    pub output: String,
    pub tags: Vec<String>,
    pub hostname: String,
    /// Dotted Falco field names (`proc.name`, `container.id`, `k8s.pod.name`, ...).
    pub output_fields: BTreeMap<String, Value>,
    /// Vigil's own JSON line (no newline).
    pub native: String,
}

/// Falco's alert JSON (`json_output: true`), as falcosidekick, Falco Talon and SIEM
/// parsers read it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct FalcoAlert<'a> {
    pub hostname: &'a str,
    pub output: &'a str,
    pub output_fields: &'a BTreeMap<String, Value>,
    pub priority: &'static str,
    pub rule: &'a str,
    pub source: &'static str,
    pub tags: &'a [String],
    /// RFC 3339 with nanoseconds, UTC.
    pub time: String,
}

/// Falco's spelling of a priority (`Warning`, `Informational`, ...).
pub fn falco_priority(p: &str) -> &'static str {
    match p.to_ascii_uppercase().as_str() {
        "EMERGENCY" => "Emergency",
        "ALERT" => "Alert",
        "CRITICAL" => "Critical",
        "ERROR" => "Error",
        "WARNING" => "Warning",
        "NOTICE" => "Notice",
        "INFORMATIONAL" | "INFO" => "Informational",
        _ => "Debug",
    }
}

/// RFC 3339 UTC with nanoseconds: `2026-12-03T16:51:20.123456789Z`.
pub fn rfc3339(unix_ns: i64) -> String {
    let secs = unix_ns.div_euclid(1_000_000_000);
    let nanos = unix_ns.rem_euclid(1_000_000_000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// Days since 1970-01-01 to (year, month, day) (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

impl AlertRecord {
    pub fn falco(&self) -> FalcoAlert<'_> {
        FalcoAlert {
            hostname: &self.hostname,
            output: &self.output,
            output_fields: &self.output_fields,
            priority: falco_priority(&self.priority),
            rule: &self.rule,
            source: "syscall",
            tags: &self.tags,
            time: rfc3339(self.time_ns),
        }
    }

    /// Falco's JSON, one line.
    pub fn falco_json(&self) -> String {
        serde_json::to_string(&self.falco()).unwrap_or_default()
    }

    /// One line for a terminal, like Falco's: time, priority, rule, output, container.
    pub fn text(&self) -> String {
        let container = match self.output_fields.get("container.name").and_then(Value::as_str) {
            Some(name) if !name.is_empty() => format!(
                " (container={} {})",
                name,
                self.output_fields
                    .get("container.id")
                    .and_then(Value::as_str)
                    .unwrap_or("")
            ),
            _ => String::new(),
        };
        format!(
            "{} {}: [{}] {}{container}",
            rfc3339(self.time_ns),
            falco_priority(&self.priority),
            self.rule,
            self.output
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_are_rfc3339_utc_with_nanoseconds() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1_796_233_880_000_000_123), "2026-12-02T17:51:20.000000123Z");
        assert_eq!(rfc3339(951_782_400_000_000_000), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn priorities_use_falcos_spelling() {
        assert_eq!(falco_priority("WARNING"), "Warning");
        assert_eq!(falco_priority("INFORMATIONAL"), "Informational");
        assert_eq!(falco_priority("CRITICAL"), "Critical");
    }
}

/// The JSON an output writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Vigil's own JSON (docs/events.md).
    #[default]
    Vigil,
    /// Falco's alert JSON.
    Falco,
}

impl AlertRecord {
    pub fn json(&self, format: Format) -> String {
        match format {
            Format::Vigil => self.native.clone(),
            Format::Falco => self.falco_json(),
        }
    }
}
