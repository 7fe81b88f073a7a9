//! Alerts POSTed as JSON to an HTTP endpoint, through an on-disk spool.
//!
//! Every alert is first appended to the spool file; a separate offset file says how far
//! the receiver has acknowledged (a 2xx answer). Batches are sent in order from the
//! offset, retried with backoff while the receiver fails, and survive an agent restart:
//! the next run resumes at the offset. A receiver outage therefore loses nothing until
//! the spool reaches its size limit; then new alerts wait in the output's queue and, when
//! that is full too, are counted as dropped. (A crash between a 2xx and the offset write
//! resends that one batch: at-least-once at worst.)

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::alert::{AlertRecord, Format};
use crate::worker::Sink;

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookConfig {
    pub url: String,
    /// Where the spool lives (a file per URL).
    pub spool_dir: PathBuf,
    pub max_spool_bytes: u64,
    /// Alerts per POST (a JSON array); 1 posts each alert as one JSON object, as
    /// falcosidekick's `/` endpoint expects.
    pub batch: usize,
    pub format: Format,
}

pub struct WebhookSink {
    cfg: WebhookConfig,
    spool: PathBuf,
    offset_file: PathBuf,
    offset: u64,
    next_try: Instant,
    backoff: Duration,
}

fn fnv(s: &str) -> u64 {
    s.bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

impl WebhookSink {
    pub fn open(cfg: WebhookConfig) -> Result<WebhookSink, String> {
        // the spool holds alerts (command lines, paths of every user): root's alone
        std::os::unix::fs::DirBuilderExt::mode(std::fs::DirBuilder::new().recursive(true), 0o700)
            .create(&cfg.spool_dir)
            .map_err(|e| format!("{}: {e}", cfg.spool_dir.display()))?;
        let base = cfg.spool_dir.join(format!("webhook-{:016x}", fnv(&cfg.url)));
        let spool = base.with_extension("jsonl");
        let offset_file = base.with_extension("offset");
        let offset = std::fs::read_to_string(&offset_file)
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(0);
        Ok(WebhookSink {
            cfg,
            spool,
            offset_file,
            offset,
            next_try: Instant::now(),
            backoff: Duration::from_millis(200),
        })
    }

    fn spool_len(&self) -> u64 {
        std::fs::metadata(&self.spool).map(|m| m.len()).unwrap_or(0)
    }

    fn append(&self, batch: &[Arc<AlertRecord>]) -> Result<(), String> {
        let mut buf = Vec::new();
        for a in batch {
            buf.extend_from_slice(a.json(self.cfg.format).as_bytes());
            buf.push(b'\n');
        }
        if self.spool_len() + buf.len() as u64 > self.cfg.max_spool_bytes {
            return Err(format!(
                "webhook {}: spool {} is full ({} bytes)",
                self.cfg.url,
                self.spool.display(),
                self.cfg.max_spool_bytes
            ));
        }
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .open(&self.spool)
            .map_err(|e| format!("{}: {e}", self.spool.display()))?;
        f.write_all(&buf).map_err(|e| format!("{}: {e}", self.spool.display()))
    }

    fn save_offset(&self) -> Result<(), String> {
        let tmp = self.offset_file.with_extension("offset.tmp");
        std::fs::write(&tmp, self.offset.to_string()).map_err(|e| e.to_string())?;
        std::fs::rename(&tmp, &self.offset_file).map_err(|e| e.to_string())
    }

    /// Sends what the spool holds past the offset, in order, until it is empty or the
    /// receiver fails.
    fn flush(&mut self) -> Result<(), String> {
        if Instant::now() < self.next_try {
            return Ok(());
        }
        loop {
            let len = self.spool_len();
            if self.offset >= len {
                if len > 0 {
                    // everything acknowledged: start the files afresh
                    File::create(&self.spool).map_err(|e| e.to_string())?;
                    self.offset = 0;
                    self.save_offset()?;
                }
                return Ok(());
            }
            let mut f = File::open(&self.spool).map_err(|e| e.to_string())?;
            f.seek(SeekFrom::Start(self.offset)).map_err(|e| e.to_string())?;
            let mut lines = Vec::new();
            let mut consumed = 0u64;
            for line in BufReader::new(f).lines().take(self.cfg.batch.max(1)) {
                let line = line.map_err(|e| e.to_string())?;
                consumed += line.len() as u64 + 1;
                lines.push(line);
            }
            let body = if self.cfg.batch <= 1 {
                lines.concat()
            } else {
                format!("[{}]", lines.join(","))
            };
            let r = ureq::post(&self.cfg.url)
                .timeout(Duration::from_secs(5))
                .set("Content-Type", "application/json")
                .send_string(&body);
            match r {
                Ok(_) => {
                    self.offset += consumed;
                    self.save_offset()?;
                    self.backoff = Duration::from_millis(200);
                }
                Err(e) => {
                    self.next_try = Instant::now() + self.backoff;
                    self.backoff = (self.backoff * 2).min(Duration::from_secs(30));
                    return Err(format!("webhook {}: {e}", self.cfg.url));
                }
            }
        }
    }
}

impl Sink for WebhookSink {
    fn deliver(&mut self, batch: &[Arc<AlertRecord>]) -> Result<(), String> {
        // spooled is safe; a failing receiver is retried from the spool (idle)
        self.append(batch)?;
        if let Err(e) = self.flush() {
            tracing::debug!("{e}");
        }
        Ok(())
    }

    fn idle(&mut self) -> Result<(), String> {
        self.flush()
    }
}
