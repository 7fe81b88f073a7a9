//! The userspace half of the pipeline, shared by live runs and replay:
//! raw record -> decoder -> process tree -> (rules) -> outputs.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::io::{self, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::Serialize;
use tracing::debug;
use vigil_event::model::PolicyVerdict;
use vigil_event::recording::RecordingWriter;
use vigil_event::{Body, DecodeStats, Decoder, Event};
use vigil_proctree::{Process, ProcessTree, TreeConfig, TreeStats};
use vigil_rules::{Engine, EngineConfig, Match, RuleSet, RuleStats};

use crate::alert_record;
use crate::enforcement::{self, PolicySlot};
use crate::host::HostFacts;
use crate::main_stream::{MainOutputStats, MainStream};
use crate::render::{self, ActionJson, AlertJson};
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
    /// Container runtimes to ask about containers (live runs; empty: ids only).
    pub container_endpoints: Vec<vigil_container::Endpoint>,
    /// How alerts are written to the main output (events are always Vigil's JSON).
    pub format: AlertFormat,
    /// Further destinations of every alert (syslog, webhook, OTLP, files), each behind
    /// its own queue.
    pub outputs: Option<Arc<vigil_output::Outputs>>,
}

/// The main output's alert format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum AlertFormat {
    /// Vigil's JSON (docs/events.md): the event with its `alert`.
    #[default]
    Json,
    /// Falco's alert JSON (time, rule, priority, output, output_fields, source, tags, hostname).
    Falco,
    /// One line per alert for a terminal.
    Text,
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
    out: MainStream,
    recorder: Option<RecordingWriter<Box<dyn Write>>>,
    /// Records written to the recording, and why it stopped if it did.
    recorded: u64,
    recording_error: Option<String>,
    written: BTreeMap<&'static str, u64>,
    last_ktime: u64,
    line: Vec<u8>,
    unknown_process: Process,
    /// Events waiting for their container's runtime to answer, per container id, with the
    /// time they stop waiting.
    held: HashMap<String, (Instant, VecDeque<Held>)>,
    held_total: usize,
    /// The enforcement policies of the rules, by slot (what a verdict's slot means).
    slots: Vec<PolicySlot>,
}

/// An event past the process tree, waiting for its rules.
struct Held {
    num: u64,
    ev: Event,
    proc: Option<Arc<Process>>,
    ancestors: Vec<Arc<Process>>,
    txt_60s: u64,
}

/// How long an event waits for its container's metadata, and how many may wait at once.
const HOLD_MAX: Duration = Duration::from_secs(2);
const HOLD_MAX_EVENTS: usize = 50_000;

/// What the userspace side has seen, for the stats line and the summary.
#[derive(Debug, Serialize)]
pub struct PipelineStats {
    pub decode: DecodeStats,
    pub tree: TreeStats,
    pub tree_size: usize,
    /// Events held for a container's metadata now (a queue: 0 once lookups are answered
    /// or given up).
    pub events_held: usize,
    pub written: BTreeMap<&'static str, u64>,
    /// Alerts held back by rate limits (each is counted, and the next alert of the
    /// same rule and scope says how many it stands for).
    pub alerts_suppressed: u64,
    /// Lines the main output (stdout or --output) could not take.
    pub main_output: MainOutputStats,
    /// Records written to `--record`'s file; the error that ended the recording early.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recording: Option<RecordingStats>,
    /// Container runtime lookups: found, unknown, failed by socket.
    pub containers: vigil_container::ContainerStats,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<RuleStats>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RecordingStats {
    pub records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped_by: Option<String>,
}

impl Pipeline {
    pub fn new(cfg: PipelineConfig, out: Box<dyn Write>, recorder: Option<RecordingWriter<Box<dyn Write>>>) -> Self {
        let tree = ProcessTree::new(cfg.tree.clone());
        let engine = cfg.rules.clone().map(|r| Engine::new(r, cfg.engine.clone()));
        let slots = cfg.rules.as_deref().map(enforcement::slots).unwrap_or_default();
        let host = match &cfg.host {
            Some(recorded) => HostFacts::recorded(recorded),
            None => HostFacts::live(cfg.container_endpoints.clone()),
        };
        Self {
            cfg,
            decoder: Decoder::new(),
            txt: TxtQueries::default(),
            tree,
            engine,
            host,
            matches: Vec::new(),
            events_seen: 0,
            out: MainStream::new(out),
            recorder,
            recorded: 0,
            recording_error: None,
            written: BTreeMap::new(),
            last_ktime: 0,
            line: Vec::with_capacity(4096),
            unknown_process: Process::default(),
            held: HashMap::new(),
            held_total: 0,
            slots,
        }
    }

    /// Takes one raw record through the whole pipeline.
    pub fn process_record(&mut self, rec: &[u8]) -> io::Result<()> {
        if let Some(r) = &mut self.recorder {
            match r.write(rec) {
                Ok(()) => self.recorded += 1,
                Err(e) => self.recording_failed(e),
            }
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
        if let Body::Cgroup(c) = &ev.body {
            if c.removed {
                self.host.containers.cgroup_removed(c.id);
            } else {
                self.host.containers.cgroup_created(c.id, &c.path.as_str());
            }
        }
        if matches!(ev.body, Body::Snapshot(_) | Body::Tick | Body::Cgroup(_)) {
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
        let held = Held {
            num: self.events_seen,
            ev,
            proc,
            ancestors,
            txt_60s,
        };
        // An event of a container whose runtime has not answered yet waits for the answer
        // (bounded), so that its rules and its alert see the container's name, image and
        // pod; the container's later events wait behind it, in order.
        if let Some(c) = self.host.containers.container_of(held.ev.cgroup_id) {
            if self.held.contains_key(&c.id)
                || (self.held_total < HOLD_MAX_EVENTS && self.host.containers.is_pending(&c))
            {
                self.held_total += 1;
                self.held
                    .entry(c.id.clone())
                    .or_insert_with(|| (Instant::now() + HOLD_MAX, VecDeque::new()))
                    .1
                    .push_back(held);
                return Ok(());
            }
        }
        self.evaluate(held)
    }

    /// Rules, alerts and the event line for one event.
    fn evaluate(&mut self, h: Held) -> io::Result<()> {
        let Held {
            num,
            ev,
            proc,
            ancestors,
            txt_60s,
        } = h;
        let verdict = match &ev.body {
            Body::Exec(x) => x.policy,
            Body::Net(n) => n.policy,
            _ => None,
        };
        let mut fields = Vec::new();
        if let Some(engine) = &mut self.engine {
            let p: &Process = proc.as_deref().unwrap_or(&self.unknown_process);
            let mut view = RuleEvent::new(&ev, num, p, &ancestors, &self.host, self.cfg.boot_to_realtime_ns);
            view.dns_txt_60s = txt_60s;
            engine.process(&view, &mut self.matches);
            if let (Some(v), Some(rules)) = (verdict, self.cfg.rules.as_deref()) {
                action_alert(&self.slots, rules, v, &view, &mut self.matches);
            }
            let rules = self.cfg.rules.as_deref();
            for m in &self.matches {
                let rule = rules.and_then(|r| r.rules().get(m.rule_index));
                fields.push(alert_record::output_fields(rule, &view));
            }
        }
        let matches = std::mem::take(&mut self.matches);
        for (m, f) in matches.iter().zip(fields) {
            let action = self.action_of(m, verdict, &ev);
            self.write(&ev, proc.as_ref(), &ancestors, Some((m, action, f)))?;
        }
        self.matches = matches;
        self.matches.clear();
        if self.cfg.emit_events {
            self.write(&ev, proc.as_ref(), &ancestors, None)?;
        }
        Ok(())
    }

    /// Evaluates the held events of containers whose runtime answered (or whose wait is
    /// over; all of them with `all`).
    pub fn release_held(&mut self, all: bool) -> io::Result<()> {
        if self.held.is_empty() {
            return Ok(());
        }
        let now = Instant::now();
        let ready: Vec<String> = self
            .held
            .iter()
            .filter(|(_, (until, q))| {
                all || now >= *until
                    || q.front().is_some_and(|h| {
                        self.host
                            .containers
                            .container_of(h.ev.cgroup_id)
                            .is_none_or(|c| !self.host.containers.is_pending(&c))
                    })
            })
            .map(|(id, _)| id.clone())
            .collect();
        for id in ready {
            if let Some((_, q)) = self.held.remove(&id) {
                self.held_total -= q.len();
                for h in q {
                    self.evaluate(h)?;
                }
            }
        }
        Ok(())
    }

    /// One JSON line: the event, and the alert when a rule matched it.
    fn write(
        &mut self,
        ev: &Event,
        proc: Option<&Arc<Process>>,
        ancestors: &[Arc<Process>],
        alert: Option<(&Match, Option<ActionJson>, BTreeMap<String, serde_json::Value>)>,
    ) -> io::Result<()> {
        let mut json = render::event_json(
            ev,
            proc,
            ancestors,
            self.cfg.boot_to_realtime_ns,
            &self.unknown_process,
            &self.host,
        );
        let is_alert = alert.is_some();
        let (m, fields) = match alert {
            Some((m, action, fields)) => {
                json.alert = Some(AlertJson {
                    action,
                    ..AlertJson::from_match(m)
                });
                (Some(m), fields)
            }
            None => {
                json.compact_ancestry();
                (None, BTreeMap::new())
            }
        };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &json).map_err(io::Error::other)?;
        if let Some(m) = m {
            let time_ns = ev.ktime as i64 + self.cfg.boot_to_realtime_ns;
            let native = String::from_utf8_lossy(&self.line).into_owned();
            let record = Arc::new(alert_record::record(m, fields, time_ns, &self.host.hostname, native));
            if let Some(outputs) = &self.cfg.outputs {
                outputs.send(&record);
            }
            match self.cfg.format {
                AlertFormat::Json => {}
                AlertFormat::Falco => {
                    self.line.clear();
                    self.line.extend_from_slice(record.falco_json().as_bytes());
                }
                AlertFormat::Text => {
                    self.line.clear();
                    self.line.extend_from_slice(record.text().as_bytes());
                }
            }
        }
        self.line.push(b'\n');
        self.out.write_line(&self.line);
        *self
            .written
            .entry(if is_alert { "alerts" } else { "events" })
            .or_default() += 1;
        Ok(())
    }

    /// What the kernel did about an alert of a rule with an action.
    fn action_of(&self, m: &Match, verdict: Option<PolicyVerdict>, ev: &Event) -> Option<ActionJson> {
        let rule = self.cfg.rules.as_deref()?.rules().get(m.rule_index)?;
        if rule.action == vigil_rules::Action::Alert {
            return None;
        }
        let hook = match ev.body {
            Body::Net(_) => "cgroup/connect",
            _ => "sched_process_exec",
        };
        let own = verdict.filter(|v| self.slots.get(v.slot as usize).is_some_and(|s| s.rule == rule.name));
        Some(ActionJson {
            action: rule.action.as_str(),
            result: own.map_or("not acted", |v| v.result()),
            enforce: rule.enforce,
            policy: own.map(|v| v.slot),
            hook,
        })
    }

    /// Swaps in a new rule set (hot reload); sequence state and rate-limit buckets start afresh.
    pub fn set_rules(&mut self, rules: Arc<RuleSet>) {
        self.slots = enforcement::slots(&rules);
        self.engine = Some(Engine::new(Arc::clone(&rules), self.cfg.engine.clone()));
        self.cfg.rules = Some(rules);
    }

    /// Makes what was written visible (called after each batch, so alerts are not held back).
    pub fn flush(&mut self) -> io::Result<()> {
        self.release_held(false)?;
        if let Some(r) = &mut self.recorder {
            if let Err(e) = r.flush() {
                self.recording_failed(e);
            }
        }
        self.out.flush();
        Ok(())
    }

    /// A recording that cannot be written (a full disk) ends there, while detection goes
    /// on: what it holds up to the failure replays (a cut-short recording replays every
    /// complete record), and the statistics say where it stopped and why.
    fn recording_failed(&mut self, e: io::Error) {
        eprintln!(
            "vigil: warning: recording stopped after {} records: {e}; the agent goes on without it",
            self.recorded
        );
        self.recorder = None;
        self.recording_error = Some(e.to_string());
    }

    /// Periodic housekeeping at kernel time `now_ktime`: goes through the pipeline as a
    /// tick record, so a recording replays it at the same point.
    pub fn tick(&mut self, now_ktime: u64) -> io::Result<()> {
        self.process_record(&vigil_event::tick_record(now_ktime))
    }

    /// Are events waiting for a container runtime's answer?
    pub fn holding(&self) -> bool {
        !self.held.is_empty()
    }

    /// Evaluates every held event and flushes: the end of a run or replay.
    pub fn finish(&mut self) -> io::Result<()> {
        self.release_held(true)?;
        self.flush()
    }

    /// A line of the agent's own in the main output (an output that dropped alerts).
    pub fn write_notice(&mut self, notice: &serde_json::Value) -> io::Result<()> {
        let mut line = serde_json::to_vec(notice).map_err(io::Error::other)?;
        line.push(b'\n');
        self.out.write_line(&line);
        self.out.flush();
        Ok(())
    }

    /// A fact about the agent itself that every output must see (events lost in the
    /// kernel), as Falco raises its "syscall event drop" alert: one line in the main stream,
    /// the notice's fields plus an `alert` object like a rule's, and that alert on every
    /// output.
    pub fn write_internal_alert(
        &mut self,
        rule: &str,
        priority: &str,
        output: String,
        notice: serde_json::Map<String, serde_json::Value>,
    ) -> io::Result<()> {
        let tags = vec!["vigil".to_string(), "loss".to_string()];
        let fields = notice.iter().map(|(k, v)| (format!("vigil.{k}"), v.clone())).collect();
        let mut line = notice;
        line.insert(
            "alert".into(),
            serde_json::json!({ "rule": rule, "priority": priority, "output": output, "tags": tags }),
        );
        let line = serde_json::Value::Object(line);
        let native = line.to_string();
        if let Some(outputs) = &self.cfg.outputs {
            let time_ns = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as i64);
            outputs.send(&Arc::new(vigil_output::AlertRecord {
                time_ns,
                rule: rule.to_string(),
                priority: priority.to_string(),
                output,
                tags,
                hostname: self.host.hostname.clone(),
                output_fields: fields,
                native,
            }));
        }
        self.write_notice(&line)
    }

    /// The rules in force.
    pub fn rules(&self) -> Option<&RuleSet> {
        self.cfg.rules.as_deref()
    }

    /// The enforcement policies of the rules in force, by slot.
    pub fn policy_slots(&self) -> &[PolicySlot] {
        &self.slots
    }

    pub fn last_ktime(&self) -> u64 {
        self.last_ktime
    }

    pub fn tree(&self) -> &ProcessTree {
        &self.tree
    }

    pub fn containers(&self) -> &vigil_container::Containers {
        &self.host.containers
    }

    pub fn stats(&self) -> PipelineStats {
        PipelineStats {
            decode: self.decoder.stats.clone(),
            tree: self.tree.stats(),
            tree_size: self.tree.len(),
            events_held: self.held_total,
            written: self.written.clone(),
            alerts_suppressed: self.engine.as_ref().map_or(0, |e| e.suppressed_total()),
            main_output: self.out.stats(),
            recording: (self.recorded > 0 || self.recording_error.is_some()).then(|| RecordingStats {
                records: self.recorded,
                stopped_by: self.recording_error.clone(),
            }),
            containers: self.host.containers.stats(),
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

/// Every action is an alert: a kernel verdict whose rule the engine did not report for
/// this event (rate-limited, or a condition userspace reads differently) becomes one.
fn action_alert(
    slots: &[PolicySlot],
    rules: &RuleSet,
    v: PolicyVerdict,
    view: &RuleEvent<'_>,
    matches: &mut Vec<Match>,
) {
    let Some(slot) = slots.get(v.slot as usize) else {
        return;
    };
    if matches.iter().any(|m| m.rule == slot.rule) {
        return;
    }
    let Some((index, rule)) = rules.rules().iter().enumerate().find(|(_, r)| r.name == slot.rule) else {
        return;
    };
    matches.push(Match {
        rule: rule.name.clone(),
        rule_index: index,
        priority: rule.priority,
        tags: rule.tags.clone(),
        output: rule.output.format(view),
        ts_ns: vigil_rules::EventSource::ts_ns(view),
        suppressed: 0,
        steps: Vec::new(),
    });
}
