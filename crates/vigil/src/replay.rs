//! `vigil replay`: the pipeline over a recording, offline and without root.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Write};
use std::path::Path;

use anyhow::{Context, Result};
use vigil_event::recording::{RecordingError, RecordingReader};

use crate::pipeline::{Pipeline, PipelineConfig, PipelineStats};
use crate::rules::{error_lines, AgentIdentity, RuleSources};

pub struct ReplayOptions<'a> {
    pub emit_events: bool,
    pub output: Option<&'a Path>,
    pub rules: RuleSources,
    pub engine: vigil_rules::EngineConfig,
    pub tree: vigil_proctree::TreeConfig,
}

pub fn replay(path: &Path, mut opts: ReplayOptions<'_>) -> Result<PipelineStats> {
    let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut reader =
        RecordingReader::new(BufReader::new(file)).with_context(|| format!("reading {}", path.display()))?;
    // The rules see the agent that recorded, as they did live.
    opts.rules.agent = AgentIdentity {
        pid: reader.agent_pid,
        ..AgentIdentity::of_this_process(&opts.rules)
    };
    let rules = opts
        .rules
        .load()
        .map_err(|e| anyhow::anyhow!("rules did not load:\n{}", error_lines(&e).join("\n")))?;
    let out: Box<dyn Write> = match opts.output {
        Some(p) => Box::new(BufWriter::new(
            crate::privileges::private_file(p, false).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(BufWriter::new(io::stdout())),
    };
    let mut pipeline = Pipeline::new(
        PipelineConfig {
            emit_events: opts.emit_events,
            rules: Some(rules.into_shared()),
            engine: opts.engine,
            boot_to_realtime_ns: reader.boot_to_realtime_ns,
            tree: opts.tree,
            // judged against the recording host's facts, as live
            host: Some(reader.host.clone()),
            container_endpoints: Vec::new(),
            format: crate::pipeline::AlertFormat::Json,
            outputs: None,
        },
        out,
        None,
    );
    // The live run's tick records are in the stream: reaping happens where it happened live.
    // A recording cut short (the agent or host crashed while recording) or with a
    // corrupted length replays every complete record before the damage; the damage is
    // reported once the pipeline has finished, so nothing complete is lost.
    let damage = loop {
        match reader.next_record() {
            Ok(Some(rec)) => pipeline.process_record(&rec)?,
            Ok(None) => break None,
            Err(e) => break Some(e),
        }
    };
    pipeline.finish()?;
    let main = pipeline.stats().main_output;
    if main.dropped > 0 {
        anyhow::bail!(
            "{} lines could not be written to the output: {}",
            main.dropped,
            main.last_error.unwrap_or_default()
        );
    }
    match damage {
        None => {}
        Some(e @ RecordingError::Truncated { .. }) => {
            eprintln!(
                "vigil: warning: {}: {e}; the {} complete records before it were replayed",
                path.display(),
                reader.records_read()
            );
        }
        Some(e) => {
            return Err(anyhow::anyhow!(
                "{}: {e}; the {} records before it were replayed, the rest cannot be framed",
                path.display(),
                reader.records_read()
            ))
        }
    }
    Ok(pipeline.stats())
}
