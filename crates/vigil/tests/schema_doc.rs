//! docs/events.md documents every field the agent writes (no root needed).

use std::sync::Arc;

use vigil::event_json;
use vigil_event::abi::{exec_flag, file_flag};
use vigil_event::model::{Detection, Dns, DnsAnswer, Endpoint, Net, NetOp, Syscall};
use vigil_event::{Body, Cwd, Event, Exec, Exit, File, FileOp, Fork};
use vigil_proctree::Process;

/// Objects whose keys vary per event and are documented as a whole.
const OPEN_OBJECTS: &[&str] = &["syscall.args"];

fn keys(prefix: &str, v: &serde_json::Value, out: &mut Vec<String>) {
    if OPEN_OBJECTS.contains(&prefix) {
        out.push(prefix.to_string());
        return;
    }
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let p = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                keys(&p, v, out);
            }
        }
        serde_json::Value::Array(a) if a.first().is_some_and(|x| x.is_object()) => {
            keys(&format!("{prefix}[]"), &a[0], out)
        }
        _ => out.push(prefix.to_string()),
    }
}

#[test]
fn every_field_written_is_documented() {
    let doc =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/events.md")).expect("docs/events.md");
    let exec = Exec {
        flags: exec_flag::SCRIPT | exec_flag::EXE_DELETED | exec_flag::STDIN_SOCKET,
        stdio_peer: Some(Endpoint {
            addr: "10.0.0.1".parse().expect("ip"),
            port: 4444,
        }),
        interp: Some("/bin/sh".into()),
        prev_exe: Some("/bin/bash".into()),
        exe: "/usr/bin/dash".into(),
        argv: vec!["sh".into()],
        ..Exec::default()
    };
    let file = |op, path2: Option<&str>, vflags, flags| File {
        op,
        syscall: 257,
        fd: 3,
        ret: -2,
        flags,
        mode: 0o644,
        uid: 0,
        gid: 0,
        vflags,
        dev: 1,
        ino: 2,
        aux: 10,
        i_mode: 0o100644,
        path: "/etc/x".into(),
        path2: path2.map(Into::into),
    };
    let bodies = vec![
        Body::Exec(Box::new(exec)),
        Body::Fork(Fork {
            child_pid: 2,
            child_ppid: 1,
            child_start_ktime: 0,
        }),
        Body::Exit(Exit {
            status: 9,
            start_ktime: 0,
        }),
        Body::Cwd(Cwd {
            syscall: 80,
            truncated: false,
            cwd: "/".into(),
        }),
        Body::File(Box::new(file(
            FileOp::Open,
            None,
            file_flag::INODE_VALID | file_flag::PATH_DELETED,
            0o101,
        ))),
        Body::File(Box::new(file(FileOp::Chown, Some("/y"), 0, 0))),
        Body::File(Box::new(file(FileOp::Truncate, None, file_flag::PATH_TRUNC, 0))),
        Body::File(Box::new(file(FileOp::Unlink, None, 0, 0x200))),
    ];
    let net = |op, direction| Net {
        op,
        syscall: 42,
        fd: 3,
        ret: -111,
        family: 2,
        sock_type: 1,
        protocol: 6,
        direction,
        lport: 40000,
        rport: 443,
        flags: 1,
        laddr: Some("127.0.0.1".parse().expect("ip")),
        raddr: Some("10.0.0.1".parse().expect("ip")),
        cookie: 7,
        start_ktime: 0,
        bytes_out: 1,
        bytes_in: 2,
        pkts_out: 3,
        pkts_in: 4,
        closer_pid: 9,
        newfd: 0,
        unix_path: None,
        names: vec!["example.com".into()],
        policy: None,
    };
    let mut unix = net(NetOp::Connect, 1);
    unix.family = 1;
    unix.unix_path = Some("/run/docker.sock".into());
    let mut bodies = bodies;
    bodies.extend([
        Body::Net(Box::new(net(NetOp::Connect, 1))),
        Body::Net(Box::new(net(NetOp::FlowEnd, 2))),
        Body::Net(Box::new(net(NetOp::DupStdio, 1))),
        Body::Net(Box::new(net(NetOp::Listen, 3))),
        Body::Net(Box::new(unix)),
        Body::Dns(Box::new(Dns {
            id: 1,
            dns_flags: 0x8180,
            qtype: 1,
            rcode: 0,
            qdcount: 1,
            ancount: 2,
            server: Some("127.0.0.53".parse().expect("ip")),
            server_port: 53,
            client_port: 5000,
            vflags: 1 | 2,
            cookie: 5,
            answers: vec![DnsAnswer {
                addr: "1.2.3.4".parse().expect("ip"),
                ttl: 60,
            }],
            qname: "example.com".into(),
            cnames: vec!["cdn.example.net".into()],
        })),
        Body::Syscall(Box::new(Syscall {
            syscall: 101,
            flags: 3,
            ret: 0,
            args: [16, 42, 0, 0, 0, 0],
            target_pid: 42,
            target_comm: Some("sshd".into()),
            str1: None,
            str2: None,
        })),
        Body::Syscall(Box::new(Syscall {
            syscall: 161,
            flags: 0,
            ret: 0,
            args: [0; 6],
            target_pid: 0,
            target_comm: None,
            str1: Some("/mnt/host".into()),
            str2: None,
        })),
        Body::Detection(Box::new(Detection {
            detector: 2,
            count: 50,
            threshold: 50,
            window_start_ktime: 1,
            window_ns: 10,
            sample: "/home/u/a.doc".into(),
        })),
    ]);
    let parent = Arc::new(Process {
        pid: 1,
        name: "init".into(),
        args: vec!["init".into()],
        ..Process::default()
    });
    let me = Arc::new(Process {
        pid: 2,
        ppid: 1,
        ..Process::default()
    });
    let host = vigil::HostFacts::default();
    let mut missing = Vec::new();
    for body in bodies {
        let ev = Event {
            ktime: 1,
            pid: 2,
            tid: 2,
            uid: 0,
            gid: 0,
            cgroup_id: 0,
            comm: "x".into(),
            body,
        };
        let ancestors = vec![parent.clone()];
        let json =
            serde_json::to_value(event_json(&ev, Some(&me), &ancestors, 0, &Process::default(), &host)).expect("json");
        let mut ks = Vec::new();
        keys("", &json, &mut ks);
        for k in ks {
            let documented = doc.contains(&format!("`{k}`"));
            if !documented && !missing.contains(&k) {
                missing.push(k);
            }
        }
    }
    assert!(
        missing.is_empty(),
        "fields written but not documented in docs/events.md: {missing:?}"
    );
}
