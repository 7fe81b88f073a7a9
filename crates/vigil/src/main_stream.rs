//! The main output (stdout or `--output`). A write that fails (a full disk, a closed pipe)
//! never stops the agent: the line is counted as dropped, stderr says so once, and the first
//! line that gets through afterwards is preceded by a notice with the count, so a reader of
//! the stream sees the gap.

use std::io::Write;

use serde::Serialize;

/// What the main output could not take.
#[derive(Debug, Clone, Default, Serialize)]
pub struct MainOutputStats {
    /// Lines (events, alerts, notices) not written.
    pub dropped: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
}

/// The line that tells a reader of the main stream an output lost alerts: the same shape for
/// the main stream itself and for every other output.
pub fn output_dropped_notice(output: &str, dropped_total: u64, last_error: &Option<String>) -> serde_json::Value {
    serde_json::json!({
        "notice": "output_dropped",
        "output": output,
        "dropped_total": dropped_total,
        "last_error": last_error,
    })
}

pub struct MainStream {
    inner: Box<dyn Write>,
    stats: MainOutputStats,
    /// `dropped` as of the last notice that reached the stream.
    reported: u64,
    failing: bool,
}

impl MainStream {
    pub fn new(inner: Box<dyn Write>) -> Self {
        Self {
            inner,
            stats: MainOutputStats::default(),
            reported: 0,
            failing: false,
        }
    }

    /// Writes one line (with its newline), or counts it as dropped.
    pub fn write_line(&mut self, line: &[u8]) {
        if self.stats.dropped > self.reported {
            let notice = output_dropped_notice("main", self.stats.dropped, &self.stats.last_error);
            let mut text = notice.to_string().into_bytes();
            text.push(b'\n');
            if self.inner.write_all(&text).is_ok() {
                self.reported = self.stats.dropped;
            }
        }
        match self.inner.write_all(line) {
            Ok(()) => self.failing = false,
            Err(e) => {
                self.stats.dropped += 1;
                self.failed(e);
            }
        }
    }

    /// Flushes; a failure keeps the buffered bytes for the next flush.
    pub fn flush(&mut self) {
        if let Err(e) = self.inner.flush() {
            self.failed(e);
        }
    }

    pub fn stats(&self) -> MainOutputStats {
        self.stats.clone()
    }

    fn failed(&mut self, e: std::io::Error) {
        if !self.failing {
            eprintln!(
                "vigil: warning: the main output cannot be written ({e}); lines are counted as dropped until it can"
            );
            self.failing = true;
        }
        self.stats.last_error = Some(e.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A destination that fails while `full` is set, like a disk without space.
    #[derive(Clone, Default)]
    struct Disk {
        full: Arc<Mutex<bool>>,
        data: Arc<Mutex<Vec<u8>>>,
    }

    impl Write for Disk {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if *self.full.lock().unwrap() {
                return Err(std::io::Error::from_raw_os_error(libc::ENOSPC));
            }
            self.data.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_a_full_disk_refuses_are_counted_and_the_gap_is_announced() {
        let disk = Disk::default();
        let mut s = MainStream::new(Box::new(disk.clone()));
        s.write_line(b"one\n");
        *disk.full.lock().unwrap() = true;
        s.write_line(b"two\n");
        s.write_line(b"three\n");
        assert_eq!(s.stats().dropped, 2);
        *disk.full.lock().unwrap() = false;
        s.write_line(b"four\n");
        s.write_line(b"five\n");
        let text = String::from_utf8(disk.data.lock().unwrap().clone()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!((lines[0], lines[2], lines[3]), ("one", "four", "five"));
        let notice: serde_json::Value = serde_json::from_str(lines[1]).unwrap();
        assert_eq!(notice["notice"], "output_dropped");
        assert_eq!(notice["dropped_total"], 2);
        assert!(notice["last_error"].as_str().unwrap().contains("No space"), "{notice}");
    }
}
