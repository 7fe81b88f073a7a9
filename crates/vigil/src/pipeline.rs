//! The userspace half of the pipeline, shared by live runs and replay:
//! raw record -> decoder -> process tree -> (rules) -> outputs.

use std::collections::BTreeMap;
use std::io::{self, Write};
use std::sync::Arc;

use serde::Serialize;
use tracing::debug;
use vigil_event::recording::RecordingWriter;
use vigil_event::{Body, DecodeStats, Decoder, Event};
use vigil_proctree::{Process, ProcessTree, TreeConfig, TreeStats};

use crate::render;

pub struct PipelineConfig {
    /// Write every event, not only alerts.
    pub emit_events: bool,
    /// Offset from kernel boot time to Unix time, for timestamps in the output.
    pub boot_to_realtime_ns: i64,
    pub tree: TreeConfig,
}

pub struct Pipeline {
    cfg: PipelineConfig,
    decoder: Decoder,
    tree: ProcessTree,
    out: Box<dyn Write>,
    recorder: Option<RecordingWriter<Box<dyn Write>>>,
    written: BTreeMap<&'static str, u64>,
    last_ktime: u64,
    line: Vec<u8>,
    unknown_process: Process,
}

/// What the userspace side has seen, for the stats line and the summary.
#[derive(Debug, Serialize)]
pub struct PipelineStats {
    pub decode: DecodeStats,
    pub tree: TreeStats,
    pub tree_size: usize,
    pub written: BTreeMap<&'static str, u64>,
}

impl Pipeline {
    pub fn new(cfg: PipelineConfig, out: Box<dyn Write>, recorder: Option<RecordingWriter<Box<dyn Write>>>) -> Self {
        let tree = ProcessTree::new(cfg.tree.clone());
        Self {
            cfg,
            decoder: Decoder::new(),
            tree,
            out,
            recorder,
            written: BTreeMap::new(),
            last_ktime: 0,
            line: Vec::with_capacity(4096),
            unknown_process: Process::default(),
        }
    }

    /// Takes one raw record through the whole pipeline.
    pub fn process_record(&mut self, rec: &[u8]) -> io::Result<()> {
        if let Some(r) = &mut self.recorder {
            r.write(rec)?;
        }
        let ev = match self.decoder.decode(rec) {
            Ok(ev) => ev,
            Err(e) => {
                debug!("malformed record ({} bytes): {e}", rec.len());
                return Ok(());
            }
        };
        self.last_ktime = self.last_ktime.max(ev.ktime);
        let proc = self.tree.apply(&ev);
        if self.cfg.emit_events && !matches!(ev.body, Body::Snapshot(_)) {
            self.write_event(&ev, proc.as_ref())?;
        }
        Ok(())
    }

    fn write_event(&mut self, ev: &Event, proc: Option<&Arc<Process>>) -> io::Result<()> {
        let ancestors = self.tree.ancestors(ev.pid);
        let json = render::event_json(
            ev,
            proc,
            &ancestors,
            self.cfg.boot_to_realtime_ns,
            &self.unknown_process,
        );
        self.line.clear();
        serde_json::to_writer(&mut self.line, &json).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        *self.written.entry("events").or_default() += 1;
        Ok(())
    }

    /// Makes what was written visible (called after each batch, so alerts are not held back).
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(r) = &mut self.recorder {
            r.flush()?;
        }
        self.out.flush()
    }

    /// Periodic housekeeping; `now_ktime` is the kernel clock (live) or the last event time (replay).
    pub fn tick(&mut self, now_ktime: u64) {
        self.tree.reap(now_ktime);
    }

    pub fn last_ktime(&self) -> u64 {
        self.last_ktime
    }

    pub fn tree(&self) -> &ProcessTree {
        &self.tree
    }

    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            decode: self.decoder.stats.clone(),
            tree: self.tree.stats(),
            tree_size: self.tree.len(),
            written: self.written.clone(),
        }
    }
}
