//! `vigil-fuzz-dns --minutes N`: the in-kernel DNS parser against its Rust mirror, on
//! random and damaged answers (as root: it loads the BPF programs). Prints one markdown
//! table row; a mismatch is written to the regressions folder and ends the run with exit 1.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::Parser;
use vigil_fuzz::dns::{random_message, start_sensor, BpfDns};

#[derive(Parser)]
struct Args {
    /// How long to run.
    #[arg(long, default_value_t = 10.0)]
    minutes: f64,
    /// Folders of messages to start from and mutate (seeds, AFL++'s queue of the `dns` target).
    #[arg(long)]
    corpus: Vec<PathBuf>,
    /// Where a message the two parsers disagree on is written.
    #[arg(long, default_value = "fuzz/regressions/dns_bpf")]
    regressions: PathBuf,
    /// Messages per BPF_PROG_TEST_RUN batch before the records are read back.
    #[arg(long, default_value_t = 512)]
    batch: usize,
}

fn main() -> Result<ExitCode> {
    let args = Args::parse();
    let mut seeds = Vec::new();
    for dir in &args.corpus {
        for e in std::fs::read_dir(dir).with_context(|| format!("reading {}", dir.display()))? {
            let path = e?.path();
            if path.is_file() {
                seeds.push(std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?);
            }
        }
    }
    let sensor = start_sensor().context("loading the BPF programs (run as root)")?;
    let mut bpf = BpfDns::new(&sensor)?;
    let mut rng = fastrand::Rng::with_seed(u64::from(std::process::id()));
    let started = Instant::now();
    let until = started + Duration::from_secs_f64(args.minutes * 60.0);
    let mut outcomes = BTreeSet::new();
    // the seeds themselves first, then random and damaged messages
    let mut batch: Vec<Vec<u8>> = seeds.clone();
    while Instant::now() < until {
        if batch.is_empty() {
            batch = (0..args.batch).map(|_| random_message(&mut rng, &seeds)).collect();
        }
        for chunk in batch.chunks(args.batch.max(1)) {
            if let Err(m) = bpf.check(chunk)? {
                std::fs::create_dir_all(&args.regressions)?;
                let path = args.regressions.join(format!("mismatch-{}", bpf.runs));
                std::fs::write(&path, &m.message)?;
                eprintln!(
                    "the BPF parser and the mirror disagree (saved to {}):\n{m}",
                    path.display()
                );
                return Ok(ExitCode::FAILURE);
            }
            outcomes.extend(chunk.iter().map(|m| vigil_fuzz::dns::parse(m).vflags));
        }
        batch.clear();
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "| dns_bpf | {} | 1 | {} | {:.0} | {} seeds | {} distinct flag sets (BPF: not instrumented) | 0 mismatches | 0 |",
        args.minutes,
        bpf.runs,
        bpf.runs as f64 / secs,
        seeds.len(),
        outcomes.len()
    );
    Ok(ExitCode::SUCCESS)
}
