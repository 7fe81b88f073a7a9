//! Enforcement: rules with `action: kill` or `action: deny`, decided in the kernel. Real
//! processes are killed before their first instruction, real connects fail with EPERM,
//! a real DNS answer makes its address denied, and XDP drops a real scanner's packets in
//! a network namespace the test makes. Root only; never skipped.

mod common;

use std::net::{TcpListener, TcpStream, UdpSocket};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::dns::{answer, dns_message};
use common::*;
use serde_json::Value;

const WAIT: Duration = Duration::from_secs(20);

/// The alerts of a rule.
fn alerts<'a>(lines: &'a [Value], rule: &'a str) -> impl Iterator<Item = &'a Value> {
    lines.iter().filter(move |v| v["alert"]["rule"] == rule)
}

fn write_rules(dir: &Path, text: &str) -> String {
    let p = dir.join("policies.yaml");
    std::fs::write(&p, text).expect("write rules");
    p.display().to_string()
}

/// A copy of busybox under `dir`/bin: a real binary a policy can name by path.
fn dropped_busybox(dir: &Path) -> String {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).expect("bin dir");
    let exe = bin.join("busybox");
    let src = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|p| Path::new(p).exists())
        .expect("busybox (busybox-static; scripts/setup.sh installs it)");
    std::fs::copy(src, &exe).expect("copy busybox");
    exe.display().to_string()
}

#[test]
fn a_denied_binary_is_killed_before_it_runs_and_audit_mode_lets_it_run() {
    let dir = TempDir::new("enforce-exec");
    let exe = dropped_busybox(dir.path());
    let rules = write_rules(
        dir.path(),
        &format!(
            r#"
- rule: Binary run from the quarantine
  desc: test policy
  condition: evt.type in (execve, execveat) and proc.exepath startswith {}/bin/
  output: "quarantined binary %proc.exepath run (pid %proc.pid)"
  priority: CRITICAL
  tags: [T1204]
  action: kill
"#,
            dir.path().display()
        ),
    );
    let marker = dir.path().join("marker");
    let script = format!("echo ran > {}", marker.display());

    for audit in [false, true] {
        let _ = std::fs::remove_file(&marker);
        let mut args = vec!["--rules", rules.as_str()];
        if audit {
            args.extend(["--enforcement", "audit"]);
        }
        let agent = Agent::start(&args);
        assert!(
            agent
                .stderr()
                .iter()
                .any(|l| l.contains("enforcement: 1 policies from 1 rules")),
            "the agent says what it enforces: {:?}",
            agent.stderr()
        );
        let status = Command::new(&exe)
            .args(["sh", "-c", &script])
            .status()
            .expect("run busybox");
        // a binary the policy does not name runs
        assert!(Command::new("/bin/true").status().expect("true").success());
        use std::os::unix::process::ExitStatusExt;
        if audit {
            assert!(status.success(), "audit mode acts on nothing: {status:?}");
            assert!(marker.exists(), "audit mode: the binary ran");
        } else {
            assert_eq!(status.signal(), Some(9), "killed with SIGKILL: {status:?}");
            assert!(!marker.exists(), "killed before running any code: no marker");
        }
        let lines = agent.wait_for("the policy's alert", WAIT, |l| {
            alerts(l, "Binary run from the quarantine").next().is_some()
        });
        let a = alerts(&lines, "Binary run from the quarantine").next().expect("alert");
        assert_eq!(a["proc"]["exepath"], exe.as_str(), "{a}");
        let action = &a["alert"]["action"];
        assert_eq!(action["action"], "kill", "{a}");
        assert_eq!(action["result"], if audit { "would kill" } else { "killed" }, "{a}");
        assert_eq!(action["hook"], "sched_process_exec");
        assert_eq!(action["policy"], 0);
        assert_eq!(a["alert"]["mitre_techniques"][0], "T1204");
        assert_eq!(
            alerts(&lines, "Binary run from the quarantine").count(),
            1,
            "one alert per action"
        );
        agent.stop();
    }
}

#[test]
fn an_allowlisted_binary_is_exempt_and_the_agent_says_so() {
    let dir = TempDir::new("enforce-allow");
    let exe = dropped_busybox(dir.path());
    let rules = write_rules(
        dir.path(),
        &format!(
            r#"
- rule: Busybox copies are killed
  desc: test policy
  condition: evt.type = execve and proc.exepath = {exe}
  output: "busybox copy %proc.exepath"
  priority: CRITICAL
  action: kill
"#
        ),
    );
    let agent = Agent::start(&["--rules", &rules, "--allow-exe", &format!("{}/", dir.path().display())]);
    let status = Command::new(&exe).arg("true").status().expect("run busybox");
    assert!(status.success(), "allowlisted: never killed ({status:?})");
    let lines = agent.wait_for("the exempt alert", WAIT, |l| {
        alerts(l, "Busybox copies are killed").next().is_some()
    });
    let a = alerts(&lines, "Busybox copies are killed").next().expect("alert");
    assert_eq!(a["alert"]["action"]["result"], "exempt", "{a}");
    agent.stop();
}

#[test]
fn a_connect_to_a_denied_network_fails_with_eperm_and_an_allowed_one_succeeds() {
    let dir = TempDir::new("enforce-net");
    let rules = write_rules(
        dir.path(),
        r#"
- rule: Connection to a denied network
  desc: test policy
  condition: evt.type = connect and fd.rnet in ("127.0.0.2/32", "192.0.2.0/24")
  output: "denied connect to %fd.rip:%fd.rport by %proc.name (pid %proc.pid)"
  priority: CRITICAL
  action: deny
"#,
    );
    // listening on every loopback address: without the policy both connects succeed
    let listener = TcpListener::bind("0.0.0.0:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let agent = Agent::start(&["--rules", &rules]);
    let denied = TcpStream::connect(("127.0.0.2", port));
    let err = denied.expect_err("the denied connect fails");
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "EPERM, no packet left: {err}");
    let allowed = TcpStream::connect(("127.0.0.1", port)).expect("an allowed connect succeeds");
    drop(allowed);
    let lines = agent.wait_for("the deny alert", WAIT, |l| {
        alerts(l, "Connection to a denied network").next().is_some()
    });
    let a = alerts(&lines, "Connection to a denied network").next().expect("alert");
    assert_eq!(a["fd"]["rip"], "127.0.0.2", "{a}");
    assert_eq!(a["proc"]["pid"], std::process::id(), "{a}");
    assert_eq!(a["alert"]["action"]["result"], "denied", "{a}");
    assert_eq!(a["alert"]["action"]["hook"], "cgroup/connect");
    assert_eq!(alerts(&lines, "Connection to a denied network").count(), 1);
    agent.stop();
}

#[test]
fn an_address_becomes_denied_the_moment_a_denied_name_resolves_to_it() {
    let dir = TempDir::new("enforce-dns");
    let rules = write_rules(
        dir.path(),
        r#"
- rule: Connection to a denied domain
  desc: test policy
  condition: evt.type = connect and (fd.sip.name = pool.evil.test or fd.sip.name endswith .evil.test)
  output: "denied connect to %fd.sip (%fd.sip.name) by %proc.name"
  priority: CRITICAL
  action: deny
"#,
    );
    let dns = UdpSocket::bind("127.0.0.1:0").expect("dns socket");
    let dns_port = dns.local_addr().expect("addr").port();
    let listener = TcpListener::bind("0.0.0.0:0").expect("listen");
    let port = listener.local_addr().expect("addr").port();
    let agent = Agent::start(&["--rules", &rules, "--dns-port", &dns_port.to_string()]);
    let server = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..2 {
            let (n, from) = dns.recv_from(&mut buf).expect("query");
            let q = &buf[..n];
            let (id, name, _) = common::dns::parse_query(q).expect("query");
            // the denied name resolves to 127.0.0.7, a harmless one to 127.0.0.8
            let addr = if name.ends_with("evil.test") { 7 } else { 8 };
            let resp = dns_message(id, 0x8180, &name, 1, &[answer(1, &[127, 0, 0, addr])]);
            dns.send_to(&resp, from).expect("answer");
        }
    });
    let resolve = |name: &str| {
        let u = UdpSocket::bind("127.0.0.1:0").expect("client");
        u.set_read_timeout(Some(Duration::from_secs(5))).expect("timeout");
        u.send_to(&dns_message(0x4243, 0x0100, name, 1, &[]), ("127.0.0.1", dns_port))
            .expect("query");
        let mut buf = [0u8; 512];
        let n = u.recv(&mut buf).expect("answer");
        buf[n - 4..n].to_vec()
    };
    assert_eq!(resolve("www.evil.test"), [127, 0, 0, 7]);
    assert_eq!(resolve("fine.good.test"), [127, 0, 0, 8]);
    server.join().expect("dns server");

    let err = TcpStream::connect(("127.0.0.7", port)).expect_err("denied by name");
    assert_eq!(err.raw_os_error(), Some(libc::EPERM), "{err}");
    drop(TcpStream::connect(("127.0.0.8", port)).expect("a name not denied connects"));
    let lines = agent.wait_for("the deny alert", WAIT, |l| {
        alerts(l, "Connection to a denied domain").next().is_some()
    });
    let a = alerts(&lines, "Connection to a denied domain").next().expect("alert");
    assert_eq!(a["fd"]["rip"], "127.0.0.7", "{a}");
    assert_eq!(a["fd"]["rip_names"][0], "www.evil.test", "{a}");
    assert_eq!(a["alert"]["action"]["result"], "denied");
    agent.stop();
}

#[test]
fn a_rule_whose_condition_the_kernel_cannot_decide_is_refused_with_its_position() {
    let dir = TempDir::new("enforce-bad");
    let rules = write_rules(
        dir.path(),
        "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.cmdline contains miner\n  output: o\n  priority: WARNING\n  action: kill\n",
    );
    let out = Command::new(vigil_bin())
        .args(["rules", "check", &rules])
        .output()
        .expect("vigil rules check");
    let text = String::from_utf8_lossy(&out.stdout).to_string() + &String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("policies.yaml:6:3"), "positioned at `action`: {text}");
    assert!(text.contains("proc.cmdline contains miner"), "names the part: {text}");

    // `vigil rules explain` shows what a valid policy compiles to
    let good = write_rules(
        dir.path(),
        "- rule: r\n  desc: d\n  condition: evt.type = execve and proc.name in (xmrig, minerd)\n  output: o\n  priority: WARNING\n  action: kill\n  enforce: false\n",
    );
    let out = Command::new(vigil_bin())
        .args(["rules", "explain", "--rules", &good, "--no-builtin-rules"])
        .output()
        .expect("vigil rules explain");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("Enforcement: 1 policies"), "{text}");
    assert!(
        text.contains("kill `r` (enforce: false, reports only): at exec, name in [\"xmrig\", \"minerd\"]"),
        "{text}"
    );
}

/// A network namespace with one end of a veth pair; the other end, in the host, is
/// guarded by XDP. Removed on drop.
struct Netns {
    name: String,
    host_if: String,
}

fn ip(args: &[&str]) {
    let out = Command::new("ip").args(args).output().expect("ip");
    assert!(
        out.status.success(),
        "ip {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("vg{tag}{}", std::process::id() % 10000);
        let host_if = format!("vh{tag}{}", std::process::id() % 10000);
        let peer = format!("vp{tag}{}", std::process::id() % 10000);
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        ip(&["netns", "add", &name]);
        ip(&["link", "add", &host_if, "type", "veth", "peer", "name", &peer]);
        ip(&["link", "set", &peer, "netns", &name]);
        ip(&["addr", "add", "10.231.0.1/24", "dev", &host_if]);
        ip(&["link", "set", &host_if, "up"]);
        ip(&["-n", &name, "addr", "add", "10.231.0.2/24", "dev", &peer]);
        ip(&["-n", &name, "addr", "add", "10.231.0.3/24", "dev", &peer]);
        ip(&["-n", &name, "link", "set", &peer, "up"]);
        ip(&["-n", &name, "link", "set", "lo", "up"]);
        Netns { name, host_if }
    }

    /// Runs python code inside the namespace; its stdout.
    fn python(&self, code: &str) -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &self.name, python(), "-c", code])
            .output()
            .expect("ip netns exec");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["link", "del", &self.host_if]).status();
        let _ = Command::new("ip").args(["netns", "del", &self.name]).status();
    }
}

/// Connects from `src` to 10.231.0.1 on each port with a short timeout: "ok" per port
/// answered (accepted or refused), "timeout" per port whose SYN got no answer (dropped).
fn probe_code(src: &str, ports: &[u16]) -> String {
    format!(
        r#"
import socket
out = []
for p in {ports:?}:
    s = socket.socket()
    s.bind(('{src}', 0))
    s.settimeout(0.3)
    try:
        s.connect(('10.231.0.1', p)); out.append('ok')
    except ConnectionRefusedError:
        out.append('ok')
    except socket.timeout:
        out.append('timeout')
    s.close()
print(' '.join(out))
"#
    )
}

#[test]
fn xdp_drops_denied_sources_and_a_syn_scanner_is_detected_and_dropped() {
    let ns = Netns::new("x");
    let listener = TcpListener::bind("10.231.0.1:0").expect("listen on the veth address");
    let port = listener.local_addr().expect("addr").port();
    let agent = Agent::start(&[
        "--xdp",
        &ns.host_if,
        "--xdp-deny",
        "10.231.0.3/32",
        "--xdp-scan-ports",
        "40",
        "--xdp-scan-window",
        "10",
    ]);
    assert!(
        agent
            .stderr()
            .iter()
            .any(|l| l.contains("vigil: xdp on") && l.contains(&ns.host_if)),
        "{:?}",
        agent.stderr()
    );
    // the denied source's SYNs are dropped; the other source is answered
    assert_eq!(ns.python(&probe_code("10.231.0.3", &[port])), "timeout");
    assert_eq!(ns.python(&probe_code("10.231.0.2", &[port])), "ok");

    // a SYN scan of 100 ports from 10.231.0.2: detected, then its packets are dropped
    let ports: Vec<u16> = (20000..20100).collect();
    let scan = ns.python(&probe_code("10.231.0.2", &ports));
    let answered = scan.split(' ').filter(|r| *r == "ok").count();
    assert!(answered >= 39, "ports before the threshold are answered: {scan}");
    assert!(
        scan.ends_with("timeout"),
        "after the threshold the scanner is dropped: {scan}"
    );
    assert_eq!(
        ns.python(&probe_code("10.231.0.2", &[port])),
        "timeout",
        "the scanner's later packets are dropped, even to an open port"
    );
    let lines = agent.wait_for("the SYN-scan alert", WAIT, |l| {
        l.iter()
            .any(|v| v["evt"]["type"] == "syn_scan" && v["alert"].is_object())
    });
    let a = lines
        .iter()
        .find(|v| v["evt"]["type"] == "syn_scan" && v["alert"].is_object())
        .expect("alert");
    assert_eq!(a["alert"]["rule"], "Inbound SYN scan", "{a}");
    assert!(str_of(&a["detection"]["sample"]).starts_with("10.231.0.2:"), "{a}");
    assert_eq!(a["detection"]["threshold"], 40);
    let (_, summary) = agent.stop();
    let xdp = &summary["xdp"];
    assert!(xdp["dropped_deny"].as_u64().unwrap_or(0) >= 1, "{xdp}");
    assert!(xdp["dropped_scanner"].as_u64().unwrap_or(0) >= 1, "{xdp}");
    assert_eq!(xdp["scans"], 1, "{xdp}");
    assert!(xdp["deny_hits"][0].as_u64().unwrap_or(0) >= 1, "per entry: {xdp}");
}
