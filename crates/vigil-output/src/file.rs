//! A JSON-lines file with size-based rotation (`alerts.jsonl` -> `alerts.jsonl.1` ...),
//! reopened on SIGHUP so logrotate can move it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;
use std::sync::Arc;

use crate::alert::{AlertRecord, Format};
use crate::worker::Sink;

#[derive(Debug, Clone, PartialEq)]
pub struct FileConfig {
    pub path: PathBuf,
    /// Rotate when the file would grow past this (0: never).
    pub max_bytes: u64,
    /// Rotated files kept (`.1` is the newest).
    pub keep: usize,
    pub format: Format,
}

pub struct FileSink {
    cfg: FileConfig,
    file: File,
    size: u64,
}

fn open(path: &std::path::Path) -> Result<File, String> {
    OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|e| format!("{}: {e}", path.display()))
}

impl FileSink {
    pub fn open(cfg: FileConfig) -> Result<FileSink, String> {
        let file = open(&cfg.path)?;
        let size = file.metadata().map(|m| m.len()).unwrap_or(0);
        Ok(FileSink { cfg, file, size })
    }

    fn rotate(&mut self) -> Result<(), String> {
        let name = |i: usize| {
            let mut p = self.cfg.path.clone().into_os_string();
            p.push(format!(".{i}"));
            PathBuf::from(p)
        };
        let keep = self.cfg.keep.max(1);
        let _ = std::fs::remove_file(name(keep));
        for i in (1..keep).rev() {
            let _ = std::fs::rename(name(i), name(i + 1));
        }
        std::fs::rename(&self.cfg.path, name(1)).map_err(|e| format!("rotating {}: {e}", self.cfg.path.display()))?;
        self.file = open(&self.cfg.path)?;
        self.size = 0;
        Ok(())
    }
}

impl Sink for FileSink {
    fn deliver(&mut self, batch: &[Arc<AlertRecord>]) -> Result<(), String> {
        let mut buf = Vec::new();
        for a in batch {
            buf.extend_from_slice(a.json(self.cfg.format).as_bytes());
            buf.push(b'\n');
        }
        if self.cfg.max_bytes > 0 && self.size > 0 && self.size + buf.len() as u64 > self.cfg.max_bytes {
            self.rotate()?;
        }
        if let Err(e) = self.file.write_all(&buf) {
            // a full disk took part of the batch: cut it off, so the retry leaves no torn line
            let _ = self.file.set_len(self.size);
            return Err(format!("{}: {e}", self.cfg.path.display()));
        }
        self.size += buf.len() as u64;
        Ok(())
    }

    fn reopen(&mut self) {
        if let Ok(f) = open(&self.cfg.path) {
            self.size = f.metadata().map(|m| m.len()).unwrap_or(0);
            self.file = f;
        }
    }
}
