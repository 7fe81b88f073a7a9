//! The in-kernel DNS parser: its Rust mirror against responses whose parse is known by
//! construction (no privileges), and the BPF program itself against the mirror through
//! BPF_PROG_TEST_RUN (root: it loads the programs, and fails when it cannot).

use std::net::{IpAddr, Ipv4Addr};
use std::path::PathBuf;

use vigil_event::abi::dns_flag as flag;
use vigil_fuzz::dns::{build_response, parse, random_message, random_response, start_sensor, Answer, BpfDns};

fn repo_files(dir: &str) -> Vec<Vec<u8>> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(dir);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Vec::new();
    };
    entries
        .map(|e| std::fs::read(e.expect("dir entry").path()).expect("read"))
        .collect()
}

#[test]
fn the_mirror_parses_well_formed_responses_as_they_were_built() {
    let mut rng = fastrand::Rng::with_seed(7);
    for _ in 0..20_000 {
        let (expect, message) = random_response(&mut rng);
        assert_eq!(parse(&message), expect, "message {message:02x?}");
    }
}

#[test]
fn the_mirror_flags_what_is_wrong() {
    let a = |i: u8| Answer::Addr(IpAddr::V4(Ipv4Addr::new(10, 0, 0, i)), 60);
    // ten addresses: eight kept, the rest flagged
    let p = parse(&build_response(1, "many.test", &(0..10).map(a).collect::<Vec<_>>()));
    assert_eq!(p.answers.len(), 8);
    assert_eq!(p.vflags, flag::RESPONSE | flag::MORE_ANSWERS);
    // cut inside the second answer: the first is kept
    let m = build_response(2, "cut.test", &[a(1), a(2)]);
    let p = parse(&m[..m.len() - 2]);
    assert_eq!(p.answers.len(), 1);
    assert_eq!(p.vflags, flag::RESPONSE | flag::MALFORMED | flag::TRUNCATED);
    // a name that points at itself
    let mut m = build_response(3, "x.test", &[]);
    m[12] = 0xC0;
    m[13] = 12;
    assert!(parse(&m).vflags & flag::POINTER_LOOP != 0);
    // a reserved label type
    m[12] = 0x40;
    assert!(parse(&m).vflags & flag::BAD_LABEL != 0);
    // shorter than a header
    assert_eq!(
        parse(&[0; 11]).vflags,
        flag::RESPONSE | flag::MALFORMED | flag::TRUNCATED
    );
}

#[test]
fn the_bpf_dns_parser_agrees_with_its_mirror() {
    let sensor = start_sensor()
        .expect("this test loads the BPF programs: run it as root on a kernel with BTF (scripts/test.sh does)");
    let mut bpf = BpfDns::new(&sensor).expect("reading the ring buffers");
    let mut rng = fastrand::Rng::with_seed(11);

    // first against the truth of construction, so the mirror is not the only oracle
    let built: Vec<_> = (0..200).map(|_| random_response(&mut rng)).collect();
    let messages: Vec<Vec<u8>> = built.iter().map(|(_, m)| m.clone()).collect();
    bpf.check(&messages)
        .expect("test run")
        .unwrap_or_else(|m| panic!("{m}"));
    for (expect, m) in &built {
        assert_eq!(&parse(m), expect);
    }

    // the seeds, every mismatch ever found, then damaged messages
    let seeds = repo_files("fuzz/seeds/dns");
    assert!(!seeds.is_empty(), "fuzz/seeds/dns is empty");
    let regressions = repo_files("fuzz/regressions/dns_bpf");
    for set in [&seeds, &regressions] {
        if !set.is_empty() {
            bpf.check(set).expect("test run").unwrap_or_else(|m| panic!("{m}"));
        }
    }
    let mut malformed = 0;
    for _ in 0..40 {
        let batch: Vec<Vec<u8>> = (0..500).map(|_| random_message(&mut rng, &seeds)).collect();
        malformed += batch.iter().filter(|m| parse(m).vflags & flag::MALFORMED != 0).count();
        bpf.check(&batch).expect("test run").unwrap_or_else(|m| panic!("{m}"));
    }
    assert_eq!(bpf.runs, 200 + seeds.len() as u64 + regressions.len() as u64 + 20_000);
    // the damage reaches the error paths, not only the happy one
    assert!(malformed > 2_000, "only {malformed} of 20,000 messages were malformed");
}
