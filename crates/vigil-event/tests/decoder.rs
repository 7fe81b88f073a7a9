//! The decoder against well-formed, truncated, corrupted and hostile records.

use vigil_event::abi::{self, exec_flag, file_flag, kind};
use vigil_event::model::{Dns, DnsAnswer, Endpoint, Net, NetOp};
use vigil_event::{decode, encode, Body, Cwd, Decoder, Event, Exec, Exit, File, FileOp, Fork, Text};

fn event(body: Body) -> Event {
    Event {
        ktime: 123_456_789,
        pid: 42,
        tid: 43,
        uid: 1000,
        gid: 1000,
        cgroup_id: 7,
        comm: "bash".into(),
        body,
    }
}

fn sample_exec() -> Exec {
    Exec {
        ppid: 1,
        sid: 42,
        euid: 0,
        flags: exec_flag::SCRIPT,
        argc: 3,
        start_ktime: 99,
        cap_effective: 0x1ff,
        exe_ino: 1234,
        exe_mode: 0o100755,
        prev_comm: "sh".into(),
        exe: "/usr/bin/python3.11".into(),
        filename: "./run.py".into(),
        interp: Some("/usr/bin/python3".into()),
        argv: vec!["python3".into(), "./run.py".into(), "--flag".into()],
        env: vec!["PATH=/bin".into(), "LD_PRELOAD=/tmp/x.so".into()],
        cwd: "/home/u".into(),
        prev_exe: Some("/bin/sh".into()),
        stdio_peer: Some(Endpoint {
            addr: "::1".parse().unwrap(),
            port: 4444,
        }),
        ..Exec::default()
    }
}

fn samples() -> Vec<Event> {
    vec![
        event(Body::Exec(Box::new(sample_exec()))),
        event(Body::Snapshot(Box::new(sample_exec()))),
        event(Body::Fork(Fork {
            child_pid: 44,
            child_ppid: 42,
            child_start_ktime: 5,
        })),
        event(Body::Exit(Exit {
            status: 0x0100,
            start_ktime: 5,
        })),
        event(Body::Cwd(Cwd {
            syscall: 80,
            truncated: false,
            cwd: "/tmp".into(),
        })),
        event(Body::File(Box::new(File {
            op: FileOp::Rename,
            syscall: 316,
            fd: -1,
            ret: 0,
            flags: 0,
            mode: 0,
            uid: u32::MAX,
            gid: u32::MAX,
            vflags: file_flag::FROM_INODE,
            dev: 0,
            ino: 0,
            aux: 0,
            i_mode: 0,
            path: "/etc/passwd".into(),
            path2: Some("/etc/passwd-".into()),
        }))),
        event(Body::Net(Box::new(Net {
            op: NetOp::FlowEnd,
            syscall: 0,
            fd: -1,
            ret: 0,
            family: 10,
            sock_type: 1,
            protocol: 6,
            direction: 1,
            lport: 40000,
            rport: 443,
            flags: 2,
            laddr: Some("::1".parse().unwrap()),
            raddr: Some("2001:db8::1".parse().unwrap()),
            cookie: 99,
            start_ktime: 5,
            bytes_out: 10,
            bytes_in: 20,
            pkts_out: 1,
            pkts_in: 2,
            closer_pid: 42,
            newfd: 0,
            unix_path: None,
            names: vec!["api.example.com".into(), "edge.example.net".into()],
            // a connect a policy denied: the verdict travels with the record
            policy: Some(vigil_event::model::PolicyVerdict {
                slot: 3,
                verdict: vigil_event::abi::verdict::DENIED,
            }),
        }))),
        event(Body::Net(Box::new(Net {
            op: NetOp::Connect,
            syscall: 42,
            fd: 5,
            ret: -2,
            family: 1,
            sock_type: 1,
            protocol: 0,
            direction: 1,
            lport: 0,
            rport: 0,
            flags: 0,
            laddr: None,
            raddr: None,
            cookie: 0,
            start_ktime: 0,
            bytes_out: 0,
            bytes_in: 0,
            pkts_out: 0,
            pkts_in: 0,
            closer_pid: 0,
            newfd: 0,
            unix_path: Some("/var/run/docker.sock".into()),
            names: vec![],
            policy: None,
        }))),
        event(Body::Dns(Box::new(Dns {
            id: 7,
            dns_flags: 0x8180,
            qtype: 28,
            rcode: 0,
            qdcount: 1,
            ancount: 3,
            server: Some("10.0.0.53".parse().unwrap()),
            server_port: 53,
            client_port: 33333,
            vflags: 1,
            cookie: 3,
            answers: vec![
                DnsAnswer {
                    addr: "1.2.3.4".parse().unwrap(),
                    ttl: 30,
                },
                DnsAnswer {
                    addr: "2001:db8::7".parse().unwrap(),
                    ttl: 31,
                },
            ],
            qname: "www.example.com".into(),
            cnames: vec!["cdn.example.net".into()],
        }))),
    ]
}

#[test]
fn every_kind_round_trips() {
    for ev in samples() {
        let rec = encode(&ev);
        assert_eq!(decode(&rec).unwrap(), ev, "kind {}", ev.body.kind_name());
    }
}

#[test]
fn every_truncation_is_rejected_and_counted() {
    let mut d = Decoder::new();
    let mut rejected = 0;
    for ev in samples() {
        let rec = encode(&ev);
        for cut in 0..rec.len() {
            assert!(
                d.decode(&rec[..cut]).is_err(),
                "{} cut at {cut} decoded",
                ev.body.kind_name()
            );
            rejected += 1;
        }
    }
    assert_eq!(d.stats.malformed_total(), rejected);
    assert_eq!(d.stats.decoded_total(), 0);
}

#[test]
fn corrupted_headers_are_rejected_with_a_reason() {
    let rec = encode(&samples()[0]);
    let mut d = Decoder::new();

    let mut bad_abi = rec.clone();
    bad_abi[2] = 9;
    assert_eq!(d.decode(&bad_abi).unwrap_err().reason(), "bad_abi");

    let mut bad_kind = rec.clone();
    bad_kind[0] = 200;
    assert_eq!(d.decode(&bad_kind).unwrap_err().reason(), "unknown_kind");

    let mut bad_size = rec.clone();
    bad_size[4..8].copy_from_slice(&(rec.len() as u32 + 1).to_le_bytes());
    assert_eq!(d.decode(&bad_size).unwrap_err().reason(), "size_mismatch");

    // a string length that points past the end of the record
    let mut bad_tail = rec.clone();
    let off = 212; // offset of exe_len in struct vigil_exec (the first string length)
    bad_tail[off..off + 2].copy_from_slice(&u16::MAX.to_le_bytes());
    assert_eq!(d.decode(&bad_tail).unwrap_err().reason(), "tail_mismatch");

    assert_eq!(d.stats.malformed_total(), 4);
    assert_eq!(d.stats.malformed["bad_abi"], 1);
}

#[test]
fn garbage_never_panics() {
    // A deterministic pseudo-random stream of records, some with a plausible header.
    let mut state = 0x9e3779b97f4a7c15u64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    let mut d = Decoder::new();
    for i in 0..20_000 {
        let len = (next() % 600) as usize;
        let mut rec: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        if i % 2 == 0 && len >= 8 {
            rec[0..2].copy_from_slice(&((next() % 8) as u16).to_le_bytes());
            rec[2..4].copy_from_slice(&abi::ABI_VERSION.to_le_bytes());
            rec[4..8].copy_from_slice(&(len as u32).to_le_bytes());
        }
        let _ = d.decode(&rec);
    }
    assert_eq!(d.stats.malformed_total() + d.stats.decoded_total(), 20_000);
    assert!(d.stats.malformed_total() > 0);
}

#[test]
fn oversized_record_is_rejected() {
    let mut d = Decoder::new();
    let big = vec![0u8; abi::RECORD_MAX + 1];
    assert_eq!(d.decode(&big).unwrap_err().reason(), "too_large");
}

#[test]
fn unknown_net_op_is_kept_and_counted() {
    let mut ev = samples().into_iter().find(|e| matches!(e.body, Body::Net(_))).unwrap();
    if let Body::Net(n) = &mut ev.body {
        n.op = NetOp::Unknown(99);
    }
    let mut d = Decoder::new();
    let Body::Net(n) = d.decode(&encode(&ev)).unwrap().body else {
        panic!("not net")
    };
    assert_eq!(n.op, NetOp::Unknown(99));
    assert_eq!(d.stats.unknown_values, 1);
}

#[test]
fn unknown_file_op_is_kept_and_counted() {
    let mut ev = samples().into_iter().find(|e| matches!(e.body, Body::File(_))).unwrap();
    if let Body::File(f) = &mut ev.body {
        f.op = FileOp::Unknown(77);
    }
    let mut d = Decoder::new();
    let got = d.decode(&encode(&ev)).unwrap();
    match got.body {
        Body::File(f) => assert_eq!(f.op, FileOp::Unknown(77)),
        other => panic!("unexpected {other:?}"),
    }
    assert_eq!(d.stats.unknown_values, 1);
}

#[test]
fn non_utf8_names_survive_and_serialize_escaped() {
    let name: &[u8] = b"/tmp/caf\xe9\xff\\x";
    let mut ev = samples().into_iter().find(|e| matches!(e.body, Body::File(_))).unwrap();
    if let Body::File(f) = &mut ev.body {
        f.path = Text::new(name);
        f.path2 = None;
    }
    let got = decode(&encode(&ev)).unwrap();
    let Body::File(f) = got.body else {
        panic!("not a file event")
    };
    assert_eq!(f.path.as_bytes(), name);
    assert_eq!(serde_json::to_string(&f.path).unwrap(), r#""/tmp/caf\\xe9\\xff\\\\x""#);
    assert_eq!(Text::from("plain\\").as_str(), "plain\\");
}

#[test]
fn huge_argv_is_bounded_by_the_record_limits() {
    let mut x = sample_exec();
    x.argv = (0..5000).map(|i| Text::from(format!("arg{i}").as_str())).collect();
    x.exe = Text::new(vec![b'a'; 10_000]);
    let rec = encode(&event(Body::Exec(Box::new(x))));
    assert!(rec.len() <= abi::RECORD_MAX);
    let Body::Exec(got) = decode(&rec).unwrap().body else {
        panic!("not exec")
    };
    assert_eq!(got.exe.len(), abi::PATH_MAX);
    assert!(got.argv.len() < 5000 && got.argv.len() > 100);
    assert_eq!(got.argv[0].as_str(), "arg0");
}

#[test]
fn joined_paths_are_cleaned() {
    let mut ev = samples().into_iter().find(|e| matches!(e.body, Body::File(_))).unwrap();
    if let Body::File(f) = &mut ev.body {
        f.vflags = file_flag::JOINED;
        f.path = "/home/u/./a//b/../c".into();
        f.path2 = Some("../../target".into());
        f.op = FileOp::Symlink;
    }
    let Body::File(f) = decode(&encode(&ev)).unwrap().body else {
        panic!()
    };
    assert_eq!(f.path.as_str(), "/home/u/a/c");
    // a symlink target is not a path of ours to clean
    assert_eq!(f.path2.unwrap().as_str(), "../../target");
}

#[test]
fn exit_status_decoding() {
    let normal = Exit {
        status: 3 << 8,
        start_ktime: 0,
    };
    assert_eq!((normal.code(), normal.signal()), (Some(3), None));
    let killed = Exit {
        status: 9 | 0x80,
        start_ktime: 0,
    };
    assert_eq!(
        (killed.code(), killed.signal(), killed.core_dumped()),
        (None, Some(9), true)
    );
    assert_eq!(kind::EXIT, 4);
}
