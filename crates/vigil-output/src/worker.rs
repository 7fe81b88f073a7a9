//! The part every output shares: a bounded queue, a thread that delivers in batches and
//! retries with backoff, and counters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde::Serialize;

use crate::alert::AlertRecord;

/// A destination.
pub trait Sink: Send {
    /// Delivers a batch in order; an error makes the worker retry the same batch.
    fn deliver(&mut self, batch: &[Arc<AlertRecord>]) -> Result<(), String>;
    /// SIGHUP: reopen files (logrotate moved them).
    fn reopen(&mut self) {}
    /// Called when the queue is idle (a spool may flush what is pending).
    fn idle(&mut self) -> Result<(), String> {
        Ok(())
    }
}

/// What an output configuration names.
#[derive(Debug, Clone, PartialEq)]
pub enum Spec {
    File(crate::file::FileConfig),
    Syslog(crate::syslog::SyslogConfig),
    Webhook(crate::webhook::WebhookConfig),
    Otlp(crate::otlp::OtlpConfig),
}

impl Spec {
    pub fn name(&self) -> String {
        match self {
            Spec::File(c) => format!("file:{}", c.path.display()),
            Spec::Syslog(c) => format!("syslog:{}", c.target),
            Spec::Webhook(c) => format!("webhook:{}", c.url),
            Spec::Otlp(c) => format!("otlp:{}", c.url),
        }
    }
}

/// Counters of one output, for `vigil stats`, `/metrics` and the summary.
#[derive(Debug, Clone, Default, Serialize)]
pub struct OutputStats {
    pub name: String,
    /// Alerts delivered.
    pub sent: u64,
    /// Alerts the queue had no room for: counted, never sent.
    pub dropped: u64,
    /// Deliveries that failed (each retried).
    pub failures: u64,
    pub queue_depth: u64,
    pub queue_capacity: u64,
    /// The last failure, if the output is failing now.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

#[derive(Default)]
struct Counters {
    sent: AtomicU64,
    dropped: AtomicU64,
    failures: AtomicU64,
    depth: AtomicU64,
    last_error: Mutex<Option<String>>,
}

enum Msg {
    Alert(Arc<AlertRecord>),
    Reopen,
    Stop,
}

struct Worker {
    name: String,
    tx: SyncSender<Msg>,
    capacity: usize,
    counters: Arc<Counters>,
    thread: Mutex<Option<JoinHandle<()>>>,
}

/// The outputs of a run.
pub struct Outputs {
    workers: Vec<Worker>,
}

const BATCH: usize = 256;
const MAX_BACKOFF: Duration = Duration::from_secs(30);

fn run(mut sink: Box<dyn Sink>, rx: Receiver<Msg>, c: Arc<Counters>) {
    let mut batch: Vec<Arc<AlertRecord>> = Vec::new();
    let mut backoff = Duration::from_millis(200);
    let mut stopping = false;
    loop {
        // take what is queued (wait a little when nothing is)
        if batch.is_empty() && !stopping {
            match rx.recv_timeout(Duration::from_millis(500)) {
                Ok(Msg::Alert(a)) => {
                    c.depth.fetch_sub(1, Ordering::Relaxed);
                    batch.push(a);
                }
                Ok(Msg::Reopen) => sink.reopen(),
                Ok(Msg::Stop) | Err(RecvTimeoutError::Disconnected) => stopping = true,
                Err(RecvTimeoutError::Timeout) => {
                    if let Err(e) = sink.idle() {
                        *c.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                    }
                    continue;
                }
            }
        }
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(Msg::Alert(a)) => {
                    c.depth.fetch_sub(1, Ordering::Relaxed);
                    batch.push(a);
                }
                Ok(Msg::Reopen) => sink.reopen(),
                Ok(Msg::Stop) => stopping = true,
                Err(_) => break,
            }
        }
        if batch.is_empty() {
            if stopping {
                let _ = sink.idle();
                return;
            }
            continue;
        }
        match sink.deliver(&batch) {
            Ok(()) => {
                c.sent.fetch_add(batch.len() as u64, Ordering::Relaxed);
                *c.last_error.lock().unwrap_or_else(|p| p.into_inner()) = None;
                batch.clear();
                backoff = Duration::from_millis(200);
            }
            Err(e) => {
                c.failures.fetch_add(1, Ordering::Relaxed);
                tracing::debug!("output failed, retrying in {backoff:?}: {e}");
                *c.last_error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                if stopping {
                    // at shutdown: one more try below, then what is left counts as dropped
                    c.dropped.fetch_add(batch.len() as u64, Ordering::Relaxed);
                    return;
                }
                std::thread::sleep(backoff);
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

impl Outputs {
    /// Starts one worker per spec; `capacity` alerts may wait per output. An output that
    /// cannot be opened now (a receiver not up yet) is not fatal: it retries.
    pub fn start(specs: &[Spec], capacity: usize) -> Result<Outputs, String> {
        let mut workers = Vec::new();
        for spec in specs {
            let sink: Box<dyn Sink> = match spec {
                Spec::File(c) => Box::new(crate::file::FileSink::open(c.clone())?),
                Spec::Syslog(c) => Box::new(crate::syslog::SyslogSink::new(c.clone())),
                Spec::Webhook(c) => Box::new(crate::webhook::WebhookSink::open(c.clone())?),
                Spec::Otlp(c) => Box::new(crate::otlp::OtlpSink::new(c.clone())),
            };
            let (tx, rx) = sync_channel(capacity.max(1));
            let counters = Arc::new(Counters::default());
            let c = counters.clone();
            let name = spec.name();
            let thread = std::thread::Builder::new()
                .name("vigil-output".into())
                .spawn(move || run(sink, rx, c))
                .map_err(|e| format!("{name}: cannot start its thread: {e}"))?;
            workers.push(Worker {
                name,
                tx,
                capacity: capacity.max(1),
                counters,
                thread: Mutex::new(Some(thread)),
            });
        }
        Ok(Outputs { workers })
    }

    pub fn is_empty(&self) -> bool {
        self.workers.is_empty()
    }

    /// Queues an alert for every output; a full queue counts it as dropped there.
    pub fn send(&self, alert: &Arc<AlertRecord>) {
        for w in &self.workers {
            match w.tx.try_send(Msg::Alert(alert.clone())) {
                Ok(()) => {
                    w.counters.depth.fetch_add(1, Ordering::Relaxed);
                }
                Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                    w.counters.dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// SIGHUP: files are reopened.
    pub fn reopen(&self) {
        for w in &self.workers {
            let _ = w.tx.send(Msg::Reopen);
        }
    }

    pub fn stats(&self) -> Vec<OutputStats> {
        self.workers
            .iter()
            .map(|w| OutputStats {
                name: w.name.clone(),
                sent: w.counters.sent.load(Ordering::Relaxed),
                dropped: w.counters.dropped.load(Ordering::Relaxed),
                failures: w.counters.failures.load(Ordering::Relaxed),
                queue_depth: w.counters.depth.load(Ordering::Relaxed),
                queue_capacity: w.capacity as u64,
                last_error: w.counters.last_error.lock().unwrap_or_else(|p| p.into_inner()).clone(),
            })
            .collect()
    }

    /// Delivers what is queued (the outputs get up to `timeout` in all), then stops.
    pub fn shutdown(&self, timeout: Duration) {
        let deadline = Instant::now() + timeout;
        for w in &self.workers {
            let _ = w.tx.send(Msg::Stop);
        }
        for w in &self.workers {
            let Some(t) = w.thread.lock().unwrap_or_else(|p| p.into_inner()).take() else {
                continue;
            };
            while !t.is_finished() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(10));
            }
            if t.is_finished() {
                let _ = t.join();
            } else {
                // still retrying a dead destination: what it holds is counted lost
                let left = w.counters.depth.swap(0, Ordering::Relaxed);
                w.counters.dropped.fetch_add(left, Ordering::Relaxed);
            }
        }
    }
}
