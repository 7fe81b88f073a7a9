//! Outputs: alerts reach real rsyslog, a real Prometheus scrapes the agent, a webhook
//! receiver that fails for a while gets every alert once and in order (across an agent
//! restart), an OTLP/HTTP receiver decodes the log records with OpenTelemetry's own
//! protobuf definitions; Falco's format and the terminal format; systemd's notify
//! protocol and unit file. Every server is started by the test, on loopback. Root only.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(30);

/// A rule that fires when a binary named `vigil-out-*` runs, and the way to fire it.
struct Trigger {
    dir: TempDir,
}

impl Trigger {
    fn new() -> Trigger {
        let dir = TempDir::new("outputs");
        std::fs::write(
            dir.path().join("rules.yaml"),
            r#"
- rule: Output test marker
  desc: a binary named vigil-out-* ran (test of the outputs)
  condition: evt.type = execve and proc.name startswith vigil-out-
  output: "marker %proc.name ran (pid %proc.pid)"
  priority: WARNING
  tags: [test, T1204]
  rate_limit: none
"#,
        )
        .expect("rules");
        Trigger { dir }
    }

    fn rules(&self) -> String {
        self.dir.path().join("rules.yaml").display().to_string()
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs `vigil-out-<n>` (a copy of /bin/true).
    fn fire(&self, n: u32) {
        let exe = self.dir.path().join(format!("vigil-out-{n}"));
        if !exe.exists() {
            std::fs::copy("/bin/true", &exe).expect("copy true");
        }
        assert!(Command::new(&exe).status().expect("run marker").success());
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .expect("port")
        .local_addr()
        .expect("addr")
        .port()
}

fn wait_file(path: &Path, what: &str, pred: impl Fn(&str) -> bool) -> String {
    wait_until(what, || {
        let t = std::fs::read_to_string(path).ok()?;
        pred(&t).then_some(t)
    })
}

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn alerts_reach_a_real_rsyslog_as_rfc5424_with_structured_data() {
    let t = Trigger::new();
    let sock = UdpSocket::bind("127.0.0.1:0").expect("port");
    let port = sock.local_addr().expect("addr").port();
    drop(sock);
    let out = t.path().join("syslog.out");
    let conf = t.path().join("rsyslog.conf");
    std::fs::write(
        &conf,
        format!(
            r#"global(workDirectory="{dir}")
module(load="imudp")
input(type="imudp" address="127.0.0.1" port="{port}")
template(name="fields" type="string" string="%PRI%|%PROTOCOL-VERSION%|%APP-NAME%|%MSGID%|%STRUCTURED-DATA%|%msg%\n")
action(type="omfile" file="{out}" template="fields")
"#,
            dir = t.path().display(),
            out = out.display()
        ),
    )
    .expect("conf");
    let rsyslogd = Command::new("rsyslogd")
        .args(["-n", "-f"])
        .arg(&conf)
        .arg("-i")
        .arg(t.path().join("rsyslogd.pid"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("rsyslogd (scripts/setup.sh installs rsyslog)");
    let _rsyslogd = Server(rsyslogd);
    std::thread::sleep(Duration::from_millis(500));
    let agent = Agent::start(&["--rules", &t.rules(), "--syslog", &format!("udp://127.0.0.1:{port}")]);
    // rsyslog may still be starting: fire until a line arrives
    let text = wait_until("rsyslog wrote the alert", || {
        t.fire(1);
        std::thread::sleep(Duration::from_millis(300));
        let t = std::fs::read_to_string(&out).ok()?;
        t.contains("vigil-out-1").then_some(t)
    });
    let line = text.lines().find(|l| l.contains("vigil-out-1")).expect("line");
    let parts: Vec<&str> = line.splitn(6, '|').collect();
    // facility authpriv (10) * 8 + severity warning (4)
    assert_eq!(parts[0], "84", "{line}");
    assert_eq!(parts[1], "1", "RFC 5424: {line}");
    assert_eq!(parts[2], "vigil");
    assert_eq!(parts[3], "alert");
    assert!(
        parts[4].starts_with("[vigil@32473 rule=\"Output test marker\" priority=\"Warning\""),
        "{line}"
    );
    assert!(parts[4].contains("proc.name=\"vigil-out-1\""), "{line}");
    assert!(parts[4].contains("tags=\"test,T1204\""), "{line}");
    assert!(parts[5].contains("marker vigil-out-1 ran"), "{line}");
    let (_, summary) = agent.stop();
    assert!(summary["outputs"][0]["sent"].as_u64().unwrap_or(0) >= 1, "{summary}");
}

/// GET on loopback, the body.
fn http_get(url: &str) -> Option<String> {
    ureq::get(url)
        .timeout(Duration::from_secs(2))
        .call()
        .ok()?
        .into_string()
        .ok()
}

#[test]
fn a_real_prometheus_scrapes_alert_and_event_counters() {
    let t = Trigger::new();
    let mport = free_port();
    let pport = free_port();
    let agent = Agent::start(&["--rules", &t.rules(), "--metrics", &format!("127.0.0.1:{mport}")]);
    t.fire(1);
    t.fire(2);
    let conf = t.path().join("prometheus.yml");
    std::fs::write(
        &conf,
        format!(
            "global:\n  scrape_interval: 1s\nscrape_configs:\n  - job_name: vigil\n    static_configs:\n      - targets: ['127.0.0.1:{mport}']\n"
        ),
    )
    .expect("conf");
    let prom = Command::new("prometheus")
        .arg(format!("--config.file={}", conf.display()))
        .arg(format!("--web.listen-address=127.0.0.1:{pport}"))
        .arg(format!("--storage.tsdb.path={}", t.path().join("tsdb").display()))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("prometheus (scripts/setup.sh installs it)");
    let _prom = Server(prom);
    let query = |q: &str| -> Option<Value> {
        let url = format!(
            "http://127.0.0.1:{pport}/api/v1/query?query={}",
            q.replace('"', "%22")
                .replace('{', "%7B")
                .replace('}', "%7D")
                .replace(' ', "%20")
        );
        let v: Value = serde_json::from_str(&http_get(&url)?).ok()?;
        let r = v["data"]["result"].as_array()?.first()?.clone();
        Some(r)
    };
    let r = wait_until("prometheus has the alert counter", || {
        let r = query("vigil_alerts_total{rule=\"Output test marker\"}")?;
        (r["value"][1] == "2").then_some(r)
    });
    assert_eq!(r["metric"]["priority"], "WARNING", "{r}");
    assert_eq!(r["metric"]["job"], "vigil");
    let exec = wait_until("the exec hook's sent counter", || {
        query("vigil_kernel_events_total{hook=\"exec\",stage=\"sent\"}")
    });
    let n: f64 = exec["value"][1].as_str().unwrap_or("0").parse().unwrap_or(0.0);
    assert!(n >= 2.0, "{exec}");
    let up = wait_until("hooks attached", || query("vigil_hooks_attached"));
    assert!(up["value"][1].as_str().unwrap_or("0").parse::<f64>().unwrap_or(0.0) > 20.0);
    agent.stop();
}

/// An HTTP receiver that answers 500 while `failing` is set, 200 otherwise, and keeps the
/// bodies it accepted.
struct Receiver {
    port: u16,
    failing: Arc<Mutex<bool>>,
    accepted: Arc<Mutex<Vec<String>>>,
    refused: Arc<Mutex<u32>>,
}

impl Receiver {
    fn start() -> Receiver {
        let server = tiny_http::Server::http("127.0.0.1:0").expect("receiver");
        let port = server.server_addr().to_ip().expect("ip").port();
        let failing = Arc::new(Mutex::new(true));
        let accepted = Arc::new(Mutex::new(Vec::new()));
        let refused = Arc::new(Mutex::new(0));
        let (f, a, r) = (failing.clone(), accepted.clone(), refused.clone());
        std::thread::spawn(move || {
            for mut req in server.incoming_requests() {
                let mut body = String::new();
                let _ = req.as_reader().read_to_string(&mut body);
                let code = if *f.lock().unwrap() {
                    *r.lock().unwrap() += 1;
                    500
                } else {
                    a.lock().unwrap().push(body);
                    200
                };
                let _ = req.respond(tiny_http::Response::from_string("").with_status_code(code));
            }
        });
        Receiver {
            port,
            failing,
            accepted,
            refused,
        }
    }

    /// Marker names of the accepted alerts, in arrival order.
    fn markers(&self) -> Vec<String> {
        let mut out = Vec::new();
        for body in self.accepted.lock().unwrap().iter() {
            let v: Value = serde_json::from_str(body).expect("json body");
            // (built-in rules may fire on the test itself: only the marker rule counts)
            for a in v.as_array().expect("a batch is an array") {
                if a["rule"] == "Output test marker" {
                    out.push(str_of(&a["output_fields"]["proc.name"]).to_string());
                }
            }
        }
        out
    }
}

#[test]
fn a_webhook_gets_every_alert_once_and_in_order_across_an_outage_and_a_restart() {
    let t = Trigger::new();
    let rx = Receiver::start();
    let spool = t.path().join("spool");
    let url = format!("http://127.0.0.1:{}/", rx.port);
    let args = |spool: &PathBuf| {
        vec![
            "--rules".to_string(),
            t.rules(),
            "--webhook".to_string(),
            url.clone(),
            "--webhook-spool".to_string(),
            spool.display().to_string(),
            "--outputs-format".to_string(),
            "falco".to_string(),
        ]
    };
    let a = args(&spool);
    let agent = Agent::start(&a.iter().map(String::as_str).collect::<Vec<_>>());
    for n in 1..=3 {
        t.fire(n);
    }
    wait_until("the receiver refused a delivery", || {
        (*rx.refused.lock().unwrap() > 0).then_some(())
    });
    // the agent stops while the receiver is down: the alerts stay in the spool
    let (_, summary) = agent.stop();
    assert_eq!(summary["outputs"][0]["dropped"], 0, "{summary}");
    assert!(rx.accepted.lock().unwrap().is_empty());

    *rx.failing.lock().unwrap() = false;
    let agent = Agent::start(&a.iter().map(String::as_str).collect::<Vec<_>>());
    t.fire(4);
    let markers = wait_until("all four alerts delivered", || {
        let m = rx.markers();
        (m.len() >= 4).then_some(m)
    });
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(
        rx.markers(),
        ["vigil-out-1", "vigil-out-2", "vigil-out-3", "vigil-out-4"],
        "each once, in order: {markers:?}"
    );
    agent.stop();
}

#[test]
fn an_otlp_receiver_decodes_the_log_records_with_opentelemetrys_protobuf_definitions() {
    let t = Trigger::new();
    let port = free_port();
    let got = t.path().join("otlp.json");
    // The receiver parses the request into OpenTelemetry's own ExportLogsServiceRequest
    // message (PyPI opentelemetry-proto): a field Vigil got wrong fails the parse.
    let code = format!(
        r#"
import json, http.server
from google.protobuf.json_format import Parse, MessageToDict
from opentelemetry.proto.collector.logs.v1.logs_service_pb2 import ExportLogsServiceRequest
class H(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers['Content-Length']))
        req = Parse(body, ExportLogsServiceRequest())
        out = []
        for rl in req.resource_logs:
            res = {{a.key: a.value.string_value for a in rl.resource.attributes}}
            for sl in rl.scope_logs:
                for r in sl.log_records:
                    attrs = {{a.key: MessageToDict(a.value) for a in r.attributes}}
                    out.append({{'resource': res, 'severity': r.severity_number, 'severity_text': r.severity_text,
                                'body': r.body.string_value, 'time': r.time_unix_nano, 'attrs': attrs}})
        with open('{got}', 'a') as f:
            for o in out:
                f.write(json.dumps(o) + '\n')
        self.send_response(200); self.end_headers(); self.wfile.write(b'{{}}')
    def log_message(self, *a): pass
http.server.HTTPServer(('127.0.0.1', {port}), H).serve_forever()
"#,
        got = got.display()
    );
    let server = Command::new(python())
        .args(["-c", &code])
        .stderr(Stdio::piped())
        .spawn()
        .expect("python OTLP receiver");
    let _server = Server(server);
    let agent = Agent::start(&[
        "--rules",
        &t.rules(),
        "--otlp",
        &format!("http://127.0.0.1:{port}/v1/logs"),
    ]);
    t.fire(7);
    let text = wait_file(&got, "the OTLP receiver decoded the alert", |t| {
        t.contains("vigil-out-7")
    });
    let rec: Value =
        serde_json::from_str(text.lines().find(|l| l.contains("vigil-out-7")).expect("line")).expect("json");
    assert_eq!(rec["resource"]["service.name"], "vigil", "{rec}");
    assert_eq!(rec["severity"], 13, "WARN: {rec}");
    assert_eq!(rec["severity_text"], "Warning");
    assert!(str_of(&rec["body"]).contains("marker vigil-out-7 ran"), "{rec}");
    assert_eq!(rec["attrs"]["rule"]["stringValue"], "Output test marker");
    assert_eq!(rec["attrs"]["proc.name"]["stringValue"], "vigil-out-7");
    assert!(rec["attrs"]["proc.pid"]["intValue"].is_string(), "{rec}");
    assert!(rec["time"].as_u64().unwrap_or(0) > 1_700_000_000_000_000_000, "{rec}");
    agent.stop();
}

#[test]
fn falco_format_carries_what_falcosidekick_requires_and_text_is_one_line() {
    let t = Trigger::new();
    let agent = Agent::start(&["--rules", &t.rules(), "--format", "falco"]);
    t.fire(1);
    let lines = agent.wait_for("the Falco-format alert", WAIT, |l| {
        l.iter().any(|v| v["rule"] == "Output test marker")
    });
    let a = lines.iter().find(|v| v["rule"] == "Output test marker").expect("alert");
    // falcosidekick's FalcoPayload: output, priority, rule, time, output_fields, source,
    // tags, hostname; priority spelled as Falco does; time RFC 3339
    for key in [
        "output",
        "priority",
        "rule",
        "time",
        "output_fields",
        "source",
        "tags",
        "hostname",
    ] {
        assert!(!a[key].is_null(), "{key} missing: {a}");
    }
    assert_eq!(a["priority"], "Warning");
    assert_eq!(a["source"], "syscall");
    assert!(
        str_of(&a["time"]).ends_with('Z') && str_of(&a["time"]).contains('T'),
        "{a}"
    );
    assert_eq!(a["output_fields"]["proc.name"], "vigil-out-1");
    assert!(a["output_fields"]["proc.pid"].is_number(), "{a}");
    assert_eq!(a["output_fields"]["container.id"], "host");
    assert_eq!(a["tags"], serde_json::json!(["test", "T1204"]));
    agent.stop();

    // text: one readable line per alert
    let out = t.path().join("text.out");
    let mut child = Command::new(vigil_bin())
        .args([
            "run",
            "--rules",
            &t.rules(),
            "--format",
            "text",
            "--stats-interval",
            "0",
            "--stats-file",
            "none",
        ])
        .arg("--output")
        .arg(&out)
        .stderr(Stdio::piped())
        .spawn()
        .expect("vigil");
    let stderr = BufReader::new(child.stderr.take().expect("stderr"));
    for line in stderr.lines().map_while(Result::ok) {
        if line.starts_with("ready") {
            break;
        }
    }
    t.fire(2);
    let text = wait_file(&out, "the text line", |t| t.contains("vigil-out-2"));
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let _ = child.wait();
    let line = text.lines().find(|l| l.contains("vigil-out-2")).expect("line");
    assert!(
        line.contains(" Warning: [Output test marker] marker vigil-out-2 ran (pid "),
        "{line}"
    );
}

#[test]
fn a_dead_output_is_retried_and_counted_never_fatal_and_events_carry_a_compact_ancestry() {
    let t = Trigger::new();
    // nothing listens on this port: every delivery fails
    let dead = free_port();
    let agent = Agent::start(&[
        "--rules",
        &t.rules(),
        "--syslog",
        &format!("tcp://127.0.0.1:{dead}"),
        "--output-queue",
        "2",
        "--events",
    ]);
    for n in 1..=8 {
        t.fire(n);
    }
    let lines = agent.wait_for("the output's loss notice in the stream", WAIT, |l| {
        l.iter().any(|v| v["notice"] == "output_dropped")
    });
    let notice = lines.iter().find(|v| v["notice"] == "output_dropped").expect("notice");
    assert!(
        str_of(&notice["output"]).starts_with("syslog:tcp://127.0.0.1:"),
        "{notice}"
    );
    assert!(notice["dropped_total"].as_u64().unwrap_or(0) >= 1, "{notice}");
    // the main stream got every alert
    assert_eq!(
        lines
            .iter()
            .filter(|v| v["alert"]["rule"] == "Output test marker")
            .count(),
        8
    );
    // events carry a compact ancestry, alerts the full one
    let long_parent = Command::new("sh")
        .args([
            "-c",
            &format!("true {}; {}", "x".repeat(300), t.path().join("vigil-out-1").display()),
        ])
        .status()
        .expect("sh");
    assert!(long_parent.success());
    let lines = agent.wait_for("the marker under a long-argument shell", WAIT, |l| {
        l.iter()
            .any(|v| v["alert"].is_object() && v["ancestors"][0]["args"].as_array().is_some_and(|a| a.len() == 3))
    });
    let alert = lines
        .iter()
        .find(|v| v["alert"].is_object() && v["ancestors"][0]["args"].as_array().is_some_and(|a| a.len() == 3))
        .expect("alert");
    assert!(
        str_of(&alert["ancestors"][0]["args"][2]).len() > 300,
        "alerts keep full argv"
    );
    let event = lines
        .iter()
        .find(|v| v["alert"].is_null() && v["ancestors"][0]["args_truncated"] == true)
        .expect("an event with the shell as parent");
    assert!(str_of(&event["ancestors"][0]["args"][2]).len() <= 128, "{event}");
    let (_, summary) = agent.stop();
    let o = &summary["outputs"][0];
    assert!(o["failures"].as_u64().unwrap_or(0) >= 1, "{o}");
    assert!(o["dropped"].as_u64().unwrap_or(0) >= 1, "{o}");
    assert!(o["last_error"].is_string(), "{o}");
}

#[test]
fn systemd_notify_protocol_and_the_unit_file() {
    // The agent talks to $NOTIFY_SOCKET as systemd's Type=notify expects.
    let dir = TempDir::new("notify");
    let sock_path = dir.path().join("notify.sock");
    let sock = std::os::unix::net::UnixDatagram::bind(&sock_path).expect("notify socket");
    sock.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
    let mut child = Command::new(vigil_bin())
        .args([
            "run",
            "--stats-interval",
            "0",
            "--stats-file",
            "none",
            "--output",
            "/dev/null",
        ])
        .env("NOTIFY_SOCKET", &sock_path)
        .env("WATCHDOG_USEC", "30000000")
        .stderr(Stdio::null())
        .spawn()
        .expect("vigil");
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 512];
    while !got.iter().any(|m: &String| m.contains("WATCHDOG=1")) && start.elapsed() < Duration::from_secs(60) {
        if let Ok(n) = sock.recv(&mut buf) {
            got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    while let Ok(n) = sock.recv(&mut buf) {
        got.push(String::from_utf8_lossy(&buf[..n]).into_owned());
        if got.last().is_some_and(|m| m.contains("STOPPING=1")) {
            break;
        }
    }
    let _ = child.wait();
    assert!(got[0].starts_with("READY=1\nSTATUS="), "READY first: {got:?}");
    assert!(got.iter().any(|m| m == "WATCHDOG=1"), "{got:?}");
    assert!(got.iter().any(|m| m == "STOPPING=1"), "{got:?}");

    // The unit file passes systemd's own checks (with ExecStart pointing at this build).
    let unit = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../packaging/systemd/vigil.service"
    ))
    .expect("unit");
    let unit = unit.replace("/usr/bin/vigil", vigil_bin());
    let path = dir.path().join("vigil.service");
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(unit.as_bytes()))
        .expect("write unit");
    let out = Command::new("systemd-analyze")
        .args(["verify"])
        .arg(&path)
        .output()
        .expect("systemd-analyze (scripts/setup.sh installs systemd)");
    let err = String::from_utf8_lossy(&out.stderr);
    let complaints: Vec<&str> = err.lines().filter(|l| l.contains("vigil.service")).collect();
    assert!(complaints.is_empty(), "systemd-analyze verify: {err}");
    assert!(unit.contains("Type=notify") && unit.contains("ExecReload=/bin/kill -HUP $MAINPID"));
}

#[test]
fn the_configuration_file_sets_every_flag_and_its_mistakes_are_positioned() {
    let check = |file: &Path| {
        let out = Command::new(vigil_bin())
            .args(["config", "check"])
            .arg(file)
            .output()
            .expect("vigil config check");
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr),
        )
    };
    let example = Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../packaging/vigil.yaml"));
    let (ok, text) = check(example);
    assert!(ok && text.contains(": ok ("), "the shipped example is valid: {text}");

    let t = Trigger::new();
    let bad = t.path().join("bad.yaml");
    std::fs::write(&bad, "format: json\nsyslgo: udp://127.0.0.1:514\n").expect("write");
    let (ok, text) = check(&bad);
    assert!(!ok, "{text}");
    assert!(
        text.contains("bad.yaml:2:1: unknown setting `syslgo` (did you mean `syslog`?)"),
        "{text}"
    );
    std::fs::write(&bad, "rules: [/x]\nformat: jsn\n").expect("write");
    let (ok, text) = check(&bad);
    assert!(!ok, "{text}");
    assert!(text.contains("bad.yaml:2:1: invalid value 'jsn'"), "{text}");
    std::fs::write(&bad, "syslog: carrier-pigeon://x\n").expect("write");
    let (ok, text) = check(&bad);
    assert!(!ok && text.contains("--syslog"), "{text}");

    // a run takes its settings from the file; the command line wins over it
    let cfg = t.path().join("vigil.yaml");
    std::fs::write(
        &cfg,
        format!("rules: [{}]\nformat: text\nrate_limit: none\n", t.rules()),
    )
    .expect("write");
    let agent = Agent::start(&["--config", cfg.to_str().expect("utf-8"), "--format", "falco"]);
    t.fire(1);
    let lines = agent.wait_for("the alert, in the command line's format", WAIT, |l| {
        l.iter().any(|v| v["rule"] == "Output test marker")
    });
    assert!(lines.iter().any(|v| v["output_fields"]["proc.name"] == "vigil-out-1"));
    agent.stop();
}
