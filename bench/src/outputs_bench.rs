//! Alert throughput of each output (`vigil-bench outputs`), in process, against local
//! receivers started here: a file, rsyslog-shaped UDP (a socket drained by a thread), a
//! webhook and an OTLP receiver (HTTP servers answering 200). Each output gets the same
//! synthetic alerts; reported: alerts per second until the last one is delivered, and
//! drops (expected 0: the queue holds them all).

use std::collections::BTreeMap;
use std::net::UdpSocket;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{anyhow, Result};
use vigil_output::{file, otlp, syslog, webhook, AlertRecord, Format, Outputs, Spec};

fn alert(i: usize) -> Arc<AlertRecord> {
    let fields: BTreeMap<String, serde_json::Value> = [
        ("proc.name", serde_json::json!("bash")),
        ("proc.pid", serde_json::json!(1000 + i)),
        ("proc.cmdline", serde_json::json!("bash -c cat /etc/shadow")),
        ("container.id", serde_json::json!("host")),
        ("fd.name", serde_json::json!("/etc/shadow")),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    Arc::new(AlertRecord {
        time_ns: 1_796_233_880_000_000_000 + i as i64,
        rule: "Read sensitive file untrusted".into(),
        priority: "WARNING".into(),
        output: format!(
            "Sensitive file opened for reading by non-trusted program (file=/etc/shadow pid={})",
            1000 + i
        ),
        tags: vec!["T1003.008".into(), "mitre_credential_access".into()],
        hostname: "bench".into(),
        output_fields: fields,
        native: format!("{{\"alert\":{{\"rule\":\"Read sensitive file untrusted\",\"n\":{i}}}}}"),
    })
}

/// An HTTP receiver answering 200 to everything, on its own thread.
fn http_sink() -> Result<u16> {
    let server = tiny_http::Server::http("127.0.0.1:0").map_err(|e| anyhow!("{e}"))?;
    let port = server.server_addr().to_ip().map(|a| a.port()).unwrap_or(0);
    std::thread::spawn(move || {
        for mut req in server.incoming_requests() {
            let mut sink = Vec::new();
            let _ = std::io::copy(req.as_reader(), &mut sink);
            let _ = req.respond(tiny_http::Response::from_string("{}"));
        }
    });
    Ok(port)
}

pub fn run(alerts: usize) -> Result<()> {
    let dir = std::env::temp_dir().join(format!("vigil-bench-outputs-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let udp = UdpSocket::bind("127.0.0.1:0")?;
    let udp_port = udp.local_addr()?.port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65536];
        while udp.recv(&mut buf).is_ok() {}
    });
    let web = http_sink()?;
    let otl = http_sink()?;
    let specs = vec![
        Spec::File(file::FileConfig {
            path: dir.join("alerts.jsonl"),
            max_bytes: 64 << 20,
            keep: 2,
            format: Format::Falco,
        }),
        Spec::Syslog(syslog::SyslogConfig {
            target: syslog::Target::Udp(format!("127.0.0.1:{udp_port}")),
            facility: 10,
            app_name: "vigil".into(),
        }),
        Spec::Webhook(webhook::WebhookConfig {
            url: format!("http://127.0.0.1:{web}/"),
            spool_dir: dir.join("spool"),
            max_spool_bytes: 1 << 30,
            batch: 100,
            format: Format::Falco,
        }),
        Spec::Otlp(otlp::OtlpConfig {
            url: format!("http://127.0.0.1:{otl}/v1/logs"),
        }),
    ];
    println!("| output | alerts | alerts/s | dropped |\n|---|---|---|---|");
    let batch: Vec<Arc<AlertRecord>> = (0..alerts).map(alert).collect();
    for spec in specs
        .iter()
        .cloned()
        .map(|s| vec![s])
        .chain(std::iter::once(specs.clone()))
    {
        let name = if spec.len() == 1 {
            spec[0].name()
        } else {
            format!("all {} at once", spec.len())
        };
        let outputs = Outputs::start(&spec, alerts + 1).map_err(|e| anyhow!(e))?;
        let started = Instant::now();
        for a in &batch {
            outputs.send(a);
        }
        // delivered: every output's sent count reaches the number of alerts
        let deadline = started + Duration::from_secs(120);
        while outputs.stats().iter().any(|o| o.sent < alerts as u64) && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        let secs = started.elapsed().as_secs_f64();
        let stats = outputs.stats();
        let dropped: u64 = stats.iter().map(|o| o.dropped).sum();
        let slowest = stats.iter().map(|o| o.sent).min().unwrap_or(0);
        outputs.shutdown(Duration::from_secs(5));
        println!("| {name} | {slowest} | {:.0} | {dropped} |", slowest as f64 / secs);
    }
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
