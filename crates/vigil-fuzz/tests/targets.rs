//! The fuzz targets in the normal suite (no root): every seed and every input a fuzzer
//! ever crashed or hung on (`fuzz/regressions/`) runs clean, proptest inputs (random
//! bytes, and seeds with random bytes overwritten) run clean, and the recording format
//! round-trips and survives being cut at any byte. Long runs: `fuzz/run.sh`.

use std::path::{Path, PathBuf};

use proptest::prelude::*;
use vigil_event::recording::{RecordedHost, RecordingError, RecordingReader, RecordingWriter};
use vigil_fuzz::TARGETS;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn files(dir: &Path) -> Vec<Vec<u8>> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    paths
        .iter()
        .filter(|p| p.is_file())
        .map(|p| std::fs::read(p).expect("read seed"))
        .collect()
}

/// The seed corpus of a target (what `fuzz/run.sh` starts from).
fn seeds(target: &str) -> Vec<Vec<u8>> {
    files(&repo().join("fuzz/seeds").join(target))
}

fn target(name: &str) -> vigil_fuzz::Target {
    TARGETS.iter().find(|(n, _)| *n == name).expect("target").1
}

#[test]
fn every_target_has_seeds_and_runs_them_and_every_regression_clean() {
    for (name, run) in TARGETS {
        let seeds = seeds(name);
        assert!(!seeds.is_empty(), "{name} has no seed corpus");
        for s in &seeds {
            run(s);
        }
        for r in files(&repo().join("fuzz/regressions").join(name)) {
            run(&r);
        }
    }
}

#[test]
fn the_pipeline_seeds_hold_real_records() {
    // seeds that decode to nothing would leave the fuzzer outside the pipeline
    let decoded = seeds("pipeline")
        .iter()
        .flat_map(|s| {
            let mut rest = &s[..];
            let mut n = 0;
            while let [a, b, tail @ ..] = rest {
                let len = (u16::from_le_bytes([*a, *b]) as usize).min(tail.len());
                n += usize::from(vigil_event::decode(&tail[..len]).is_ok());
                rest = &tail[len..];
            }
            Some(n)
        })
        .sum::<usize>();
    assert!(decoded >= 10, "only {decoded} records of the pipeline seeds decode");
}

/// A seed with `edits` (offset, byte) written over it: close to valid input, where parsers
/// take their deepest paths.
fn mutated(seed: &[u8], edits: &[(usize, u8)]) -> Vec<u8> {
    let mut v = seed.to_vec();
    for &(at, b) in edits {
        if !v.is_empty() {
            let i = at % v.len();
            v[i] = b;
        }
    }
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, ..ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_crash_a_target(t in 0..TARGETS.len(), data in prop::collection::vec(any::<u8>(), 0..2048)) {
        (TARGETS[t].1)(&data);
    }

    #[test]
    fn mutated_seeds_never_crash_a_target(
        t in 0..TARGETS.len(),
        pick in any::<prop::sample::Index>(),
        edits in prop::collection::vec((any::<usize>(), any::<u8>()), 1..16),
        cut in any::<prop::sample::Index>(),
    ) {
        let (name, run) = TARGETS[t];
        let seeds = seeds(name);
        let seed = pick.get(&seeds);
        let m = mutated(seed, &edits);
        run(&m);
        // and cut short anywhere
        run(&m[..cut.index(m.len() + 1)]);
    }

    #[test]
    fn a_recording_cut_at_any_byte_gives_back_exactly_its_complete_records(
        records in prop::collection::vec(prop::collection::vec(any::<u8>(), 0..300), 0..20),
        cut in any::<prop::sample::Index>(),
    ) {
        let mut w = RecordingWriter::new(Vec::new(), 7, 42, &RecordedHost::default()).expect("header");
        for r in &records {
            w.write(r).expect("write");
        }
        let bytes = w.into_inner();
        // whole: every record back, in order
        let mut r = RecordingReader::new(&bytes[..]).expect("header reads");
        for want in &records {
            prop_assert_eq!(r.next_record().expect("record"), Some(want.clone()));
        }
        prop_assert_eq!(r.next_record().expect("end"), None);
        // cut: exactly the records that end before the cut, then a clean end (a cut on a
        // record boundary) or a truncation, never anything else
        let at = cut.index(bytes.len() + 1);
        let header = bytes.len() - records.iter().map(|r| 4 + r.len()).sum::<usize>();
        let mut end = header;
        let mut boundaries = vec![end];
        for r in &records {
            end += 4 + r.len();
            boundaries.push(end);
        }
        let complete = boundaries.iter().filter(|&&b| b <= at).count().saturating_sub(1);
        if let Ok(mut r) = RecordingReader::new(&bytes[..at]) {
            let mut got = 0;
            loop {
                match r.next_record() {
                    Ok(Some(rec)) => {
                        prop_assert_eq!(&rec, &records[got]);
                        got += 1;
                    }
                    Ok(None) => {
                        prop_assert!(boundaries.contains(&at), "a clean end at {} is no record boundary", at);
                        break;
                    }
                    Err(RecordingError::Truncated { .. }) => break,
                    Err(e) => prop_assert!(false, "a cut recording gave {}", e),
                }
            }
            prop_assert_eq!(got, complete);
        } else {
            prop_assert!(at < header, "a cut after the header must read");
        }
    }
}

#[test]
fn config_target_reports_positions_for_unknown_keys() {
    // the target runs the real parser: an unknown key is an error with its position
    let flags = [("events".to_string(), vigil::config_file::FlagKind::Switch)]
        .into_iter()
        .collect();
    let e = vigil::config_file::flags_of_text(Path::new("c.yaml"), "events: true\nbogus: 1\n", &flags)
        .expect_err("unknown key");
    assert!(e.to_string().starts_with("c.yaml:2:1:"), "{e}");
    target("config")(b"events: true\nbogus: 1\n");
}
