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
use vigil_rules::{Engine, EngineConfig, Match, RuleSet, RuleStats};

use crate::host::HostFacts;
use crate::render::{self, AlertJson};
use crate::rule_event::RuleEvent;

pub struct PipelineConfig {
    /// Write every event, not only alerts.
    pub emit_events: bool,
    /// Rules to evaluate (none: no alerts).
    pub rules: Option<Arc<RuleSet>>,
    pub engine: EngineConfig,
    /// Offset from kernel boot time to Unix time, for timestamps in the output.
    pub boot_to_realtime_ns: i64,
    pub tree: TreeConfig,
    /// The facts of the host the records come from: None for this host (live), a
    /// recording's for a replay.
    pub host: Option<vigil_event::recording::RecordedHost>,
}

/// TXT queries per process over the last minute of event time (TXT floods carry DNS
/// tunnels; the kernel reports each query, the count is kept here).
#[derive(Default)]
struct TxtQueries {
    by_pid: std::collections::HashMap<u32, std::collections::VecDeque<u64>>,
}

const TXT_WINDOW_NS: u64 = 60_000_000_000;
const DNS_TYPE_TXT: u16 = 16;

impl TxtQueries {
    /// Records a query and returns how many the process sent in the window, this one included.
    fn add(&mut self, pid: u32, ktime: u64) -> u64 {
        let q = self.by_pid.entry(pid).or_default();
        q.push_back(ktime);
        while q.front().is_some_and(|&t| ktime.saturating_sub(t) > TXT_WINDOW_NS) || q.len() > 100_000 {
            q.pop_front();
        }
        q.len() as u64
    }

    fn prune(&mut self, now: u64) {
        self.by_pid
            .retain(|_, q| q.back().is_some_and(|&t| now.saturating_sub(t) <= TXT_WINDOW_NS));
    }
}

pub struct Pipeline {
    cfg: PipelineConfig,
    txt: TxtQueries,
    decoder: Decoder,
    tree: ProcessTree,
    engine: Option<Engine>,
    host: HostFacts,
    matches: Vec<Match>,
    events_seen: u64,
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
    /// Alerts held back by rate limits (each is counted, and the next alert of the
    /// same rule and scope says how many it stands for).
    pub alerts_suppressed: u64,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleStats>,
}

impl Pipeline {
    pub fn new(cfg: PipelineConfig, out: Box<dyn Write>, recorder: Option<RecordingWriter<Box<dyn Write>>>) -> Self {
        let tree = ProcessTree::new(cfg.tree.clone());
        let engine = cfg.rules.clone().map(|r| Engine::new(r, cfg.engine.clone()));
        let host = cfg.host.as_ref().map_or_else(HostFacts::default, HostFacts::recorded);
        Self {
            cfg,
            decoder: Decoder::new(),
            txt: TxtQueries::default(),
            tree,
            engine,
            host,
            matches: Vec::new(),
            events_seen: 0,
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
        if let Body::Tick = ev.body {
            self.txt.prune(ev.ktime);
        }
        if matches!(ev.body, Body::Snapshot(_) | Body::Tick) {
            return Ok(()); // state, not an event of its own
        }
        let txt_60s = match &ev.body {
            Body::Dns(d) if d.qtype == DNS_TYPE_TXT && !d.has(vigil_event::abi::dns_flag::RESPONSE) => {
                self.txt.add(ev.pid, ev.ktime)
            }
            _ => 0,
        };
        self.events_seen += 1;
        let ancestors = self.tree.ancestors(ev.pid);
        if let Some(engine) = &mut self.engine {
            let p: &Process = proc.as_deref().unwrap_or(&self.unknown_process);
            let mut view = RuleEvent::new(
                &ev,
                self.events_seen,
                p,
                &ancestors,
                &self.host,
                self.cfg.boot_to_realtime_ns,
            );
            view.dns_txt_60s = txt_60s;
            engine.process(&view, &mut self.matches);
        }
        let matches = std::mem::take(&mut self.matches);
        for m in &matches {
            self.write(&ev, proc.as_ref(), &ancestors, Some(m))?;
        }
        self.matches = matches;
        self.matches.clear();
        if self.cfg.emit_events {
            self.write(&ev, proc.as_ref(), &ancestors, None)?;
        }
        Ok(())
    }

    /// One JSON line: the event, and the alert when a rule matched it.
    fn write(
        &mut self,
        ev: &Event,
        proc: Option<&Arc<Process>>,
        ancestors: &[Arc<Process>],
        alert: Option<&Match>,
    ) -> io::Result<()> {
        let mut json = render::event_json(
            ev,
            proc,
            ancestors,
            self.cfg.boot_to_realtime_ns,
            &self.unknown_process,
            &self.host,
        );
        json.alert = alert.map(AlertJson::from_match);
        self.line.clear();
        serde_json::to_writer(&mut self.line, &json).map_err(io::Error::other)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)?;
        *self
            .written
            .entry(if alert.is_some() { "alerts" } else { "events" })
            .or_default() += 1;
        Ok(())
    }

    /// Swaps in a new rule set (hot reload); sequence state and rate-limit buckets start afresh.
    pub fn set_rules(&mut self, rules: Arc<RuleSet>) {
        self.engine = Some(Engine::new(Arc::clone(&rules), self.cfg.engine.clone()));
        self.cfg.rules = Some(rules);
    }

    /// Makes what was written visible (called after each batch, so alerts are not held back).
    pub fn flush(&mut self) -> io::Result<()> {
        if let Some(r) = &mut self.recorder {
            r.flush()?;
        }
        self.out.flush()
    }

    /// Periodic housekeeping at kernel time `now_ktime`: goes through the pipeline as a
    /// tick record, so a recording replays it at the same point.
    pub fn tick(&mut self, now_ktime: u64) -> io::Result<()> {
        self.process_record(&vigil_event::tick_record(now_ktime))
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
            alerts_suppressed: self.engine.as_ref().map_or(0, |e| e.suppressed_total()),
            rules: self
                .engine
                .as_ref()
                .map(|e| {
                    self.cfg
                        .rules
                        .iter()
                        .flat_map(|r| r.rules())
                        .filter_map(|r| e.rule_stats(&r.name))
                        .filter(|s| s.matches > 0)
                        .collect()
                })
                .unwrap_or_default(),
        }
    }
}
