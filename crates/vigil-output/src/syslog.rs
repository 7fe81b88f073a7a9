//! Alerts as RFC 5424 syslog messages over a unix datagram socket, UDP, or TCP
//! (octet-counted framing, RFC 6587), with the alert's facts as structured data.

use std::fmt;
use std::io::Write;
use std::net::{TcpStream, UdpSocket};
use std::os::unix::net::UnixDatagram;
use std::sync::Arc;
use std::time::Duration;

use crate::alert::{falco_priority, rfc3339, AlertRecord};
use crate::worker::Sink;

/// `unix:///dev/log`, `udp://HOST:PORT`, `tcp://HOST:PORT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    Unix(String),
    Udp(String),
    Tcp(String),
}

impl Target {
    pub fn parse(s: &str) -> Result<Target, String> {
        if let Some(p) = s.strip_prefix("unix://") {
            Ok(Target::Unix(p.to_string()))
        } else if let Some(a) = s.strip_prefix("udp://") {
            Ok(Target::Udp(a.to_string()))
        } else if let Some(a) = s.strip_prefix("tcp://") {
            Ok(Target::Tcp(a.to_string()))
        } else if s.starts_with('/') {
            Ok(Target::Unix(s.to_string()))
        } else {
            Err(format!(
                "syslog target `{s}`: use unix:///dev/log, udp://HOST:PORT or tcp://HOST:PORT"
            ))
        }
    }
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Unix(p) => write!(f, "unix://{p}"),
            Target::Udp(a) => write!(f, "udp://{a}"),
            Target::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyslogConfig {
    pub target: Target,
    /// Facility number (4 auth, 10 authpriv, 16-23 local0-7).
    pub facility: u8,
    pub app_name: String,
}

/// The SD-ID of Vigil's structured data (32473 is the IANA example enterprise number).
pub const SD_ID: &str = "vigil@32473";

fn severity(priority: &str) -> u8 {
    match falco_priority(priority) {
        "Emergency" => 0,
        "Alert" => 1,
        "Critical" => 2,
        "Error" => 3,
        "Warning" => 4,
        "Notice" => 5,
        "Informational" => 6,
        _ => 7,
    }
}

/// RFC 5424 PARAM-VALUE escaping: `"`, `\` and `]`.
fn sd_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '"' | '\\' | ']') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// PARAM-NAME: printable US-ASCII without `=`, space, `]`, `"`, at most 32 characters.
fn sd_name(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_graphic() && !matches!(c, '=' | ']' | '"') {
                c
            } else {
                '_'
            }
        })
        .take(32)
        .collect()
}

/// One RFC 5424 message.
pub fn format(a: &AlertRecord, facility: u8, app: &str, procid: u32) -> String {
    let pri = facility as u32 * 8 + severity(&a.priority) as u32;
    let host = if a.hostname.is_empty() { "-" } else { &a.hostname };
    let mut sd = format!(
        "[{SD_ID} rule=\"{}\" priority=\"{}\"",
        sd_escape(&a.rule),
        falco_priority(&a.priority)
    );
    for (k, v) in &a.output_fields {
        let text = match v {
            serde_json::Value::Null => continue,
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        sd.push_str(&format!(" {}=\"{}\"", sd_name(k), sd_escape(&text)));
    }
    if !a.tags.is_empty() {
        sd.push_str(&format!(" tags=\"{}\"", sd_escape(&a.tags.join(","))));
    }
    sd.push(']');
    // the message is one line: newlines in outputs (multi-line command lines) become spaces
    let msg = a.output.replace(['\n', '\r'], " ");
    format!("<{pri}>1 {} {host} {app} {procid} alert {sd} {msg}", rfc3339(a.time_ns))
}

enum Conn {
    Unix(UnixDatagram),
    Udp(UdpSocket),
    Tcp(TcpStream),
}

pub struct SyslogSink {
    cfg: SyslogConfig,
    conn: Option<Conn>,
}

impl SyslogSink {
    pub fn new(cfg: SyslogConfig) -> SyslogSink {
        SyslogSink { cfg, conn: None }
    }

    fn connect(&self) -> Result<Conn, String> {
        let e = |x: std::io::Error| format!("syslog {}: {x}", self.cfg.target);
        Ok(match &self.cfg.target {
            Target::Unix(p) => {
                let s = UnixDatagram::unbound().map_err(e)?;
                s.connect(p).map_err(e)?;
                Conn::Unix(s)
            }
            Target::Udp(a) => {
                let s = UdpSocket::bind("0.0.0.0:0").map_err(e)?;
                s.connect(a.as_str()).map_err(e)?;
                Conn::Udp(s)
            }
            Target::Tcp(a) => {
                let s = TcpStream::connect(a.as_str()).map_err(e)?;
                s.set_write_timeout(Some(Duration::from_secs(5))).map_err(e)?;
                Conn::Tcp(s)
            }
        })
    }
}

impl Sink for SyslogSink {
    fn deliver(&mut self, batch: &[Arc<AlertRecord>]) -> Result<(), String> {
        if self.conn.is_none() {
            self.conn = Some(self.connect()?);
        }
        let pid = std::process::id();
        let mut result = Ok(());
        if let Some(conn) = &mut self.conn {
            for a in batch {
                let m = format(a, self.cfg.facility, &self.cfg.app_name, pid);
                let r = match conn {
                    Conn::Unix(s) => s.send(m.as_bytes()).map(|_| ()),
                    Conn::Udp(s) => s.send(m.as_bytes()).map(|_| ()),
                    Conn::Tcp(s) => s.write_all(format!("{} {m}", m.len()).as_bytes()),
                };
                if let Err(e) = r {
                    result = Err(format!("syslog {}: {e}", self.cfg.target));
                    break;
                }
            }
        }
        if result.is_err() {
            self.conn = None; // reconnect on the retry
        }
        result
    }

    fn reopen(&mut self) {
        self.conn = None;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_has_rfc5424_header_and_escaped_structured_data() {
        let a = AlertRecord {
            time_ns: 0,
            rule: "Read \"shadow\"".into(),
            priority: "WARNING".into(),
            output: "cat read\n/etc/shadow".into(),
            tags: vec!["T1003".into()],
            hostname: "h1".into(),
            output_fields: [("proc.name".to_string(), serde_json::json!("c]at"))].into(),
            native: String::new(),
        };
        let m = format(&a, 4, "vigil", 7);
        assert_eq!(
            m,
            "<36>1 1970-01-01T00:00:00.000000000Z h1 vigil 7 alert [vigil@32473 rule=\"Read \\\"shadow\\\"\" priority=\"Warning\" proc.name=\"c\\]at\" tags=\"T1003\"] cat read /etc/shadow"
        );
    }
}
