//! `vigil replay`: the pipeline over a recording, offline and without root.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use vigil_event::recording::RecordingReader;

use crate::pipeline::{Pipeline, PipelineConfig, PipelineStats};

pub fn replay(
    path: &Path,
    emit_events: bool,
    out: Option<&Path>,
    tree: vigil_proctree::TreeConfig,
) -> Result<PipelineStats> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader =
        RecordingReader::new(BufReader::new(file)).with_context(|| format!("reading {}", path.display()))?;
    let out: Box<dyn Write> = match out {
        Some(p) => Box::new(BufWriter::new(
            File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let mut pipeline = Pipeline::new(
        PipelineConfig {
            emit_events,
            boot_to_realtime_ns: reader.boot_to_realtime_ns,
            tree,
        },
        out,
        None,
    );
    let mut since_tick = 0u32;
    while let Some(rec) = reader
        .next_record()
        .with_context(|| format!("reading {}", path.display()))?
    {
        pipeline.process_record(&rec)?;
        since_tick += 1;
        if since_tick == 1024 {
            // Event time drives reaping, so a replay keeps the same tree as the live run.
            pipeline.tick(pipeline.last_ktime());
            since_tick = 0;
        }
    }
    pipeline.flush()?;
    Ok(pipeline.stats())
}
