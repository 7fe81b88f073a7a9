//! Reading the ring buffers.
//!
//! Records are copied into a [`Batch`] and sorted by kernel timestamp before anyone
//! looks at them. The events ring is drained before the process ring, so that any
//! exec or fork a drained file event depends on is in the same batch: an event is
//! committed after the exec of its process, so if the event was seen the exec was
//! committed before we read the process ring.

use std::cell::RefCell;
use std::rc::Rc;
use std::time::Duration;

use libbpf_rs::{RingBuffer, RingBufferBuilder};

use crate::error::SensorError;
use crate::sensor::Sensor;

/// Records read in one poll, in kernel time order.
#[derive(Default)]
pub struct Batch {
    data: Vec<u8>,
    spans: Vec<(u64, usize, usize)>, // (ktime, start, len)
}

impl Batch {
    fn push(&mut self, rec: &[u8]) {
        // ktime sits at offset 8 of every header; a record too short for it sorts first
        // and is rejected by the decoder, which counts it.
        let ktime = rec
            .get(8..16)
            .and_then(|b| b.try_into().ok())
            .map(u64::from_le_bytes)
            .unwrap_or(0);
        self.spans.push((ktime, self.data.len(), rec.len()));
        self.data.extend_from_slice(rec);
    }

    fn sort(&mut self) {
        self.spans.sort_by_key(|s| s.0);
    }

    pub fn len(&self) -> usize {
        self.spans.len()
    }

    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans.iter().map(|&(_, s, l)| &self.data[s..s + l])
    }

    pub fn clear(&mut self) {
        self.data.clear();
        self.spans.clear();
    }
}

pub struct EventStream<'a> {
    sensor: &'a Sensor,
    rb: RingBuffer<'a>,
    batch: Rc<RefCell<Batch>>,
    epoll_fd: i32,
}

impl<'a> EventStream<'a> {
    pub fn new(sensor: &'a Sensor) -> Result<Self, SensorError> {
        let batch = Rc::new(RefCell::new(Batch::default()));
        let mut builder = RingBufferBuilder::new();
        for map in [&sensor.skel.maps.rb_events, &sensor.skel.maps.rb_proc] {
            let b = Rc::clone(&batch);
            builder
                .add(map, move |rec: &[u8]| {
                    b.borrow_mut().push(rec);
                    0
                })
                .map_err(|e| SensorError::RingBuffer(e.to_string()))?;
        }
        let rb = builder.build().map_err(|e| SensorError::RingBuffer(e.to_string()))?;
        let epoll_fd = rb.epoll_fd();
        Ok(Self {
            sensor,
            rb,
            batch,
            epoll_fd,
        })
    }

    /// Waits up to `timeout` for records, then drains both rings into `out`.
    /// A signal interrupting the wait is a normal wake-up, not an error.
    ///
    /// `sleep`: the wait is longer than the reader's busy poll interval, so the kernel is
    /// asked to wake it for the next record (it does not otherwise: a wake-up costs the
    /// producer an IPI). Whatever arrived before the request is drained first.
    pub fn poll(&mut self, timeout: Duration, sleep: bool, out: &mut Batch) -> Result<(), SensorError> {
        if sleep {
            self.sensor.set_reader_sleeping(true)?;
            self.drain(out)?;
            if !out.is_empty() {
                return self.sensor.set_reader_sleeping(false);
            }
        }
        self.wait(timeout)?;
        if sleep {
            self.sensor.set_reader_sleeping(false)?;
        }
        self.drain(out)
    }

    fn wait(&mut self, timeout: Duration) -> Result<(), SensorError> {
        let mut ev = libc::epoll_event { events: 0, u64: 0 };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: epoll_fd is owned by the ring buffer, ev is a valid buffer for one event.
        let n = unsafe { libc::epoll_wait(self.epoll_fd, &mut ev, 1, ms) };
        if n < 0 {
            let err = std::io::Error::last_os_error();
            if err.kind() != std::io::ErrorKind::Interrupted {
                return Err(SensorError::RingBuffer(err.to_string()));
            }
        }
        Ok(())
    }

    /// Drains whatever is in the rings now, without waiting.
    pub fn drain(&mut self, out: &mut Batch) -> Result<(), SensorError> {
        let rc = self.rb.consume_raw();
        if rc < 0 && rc != -libc::EINTR {
            return Err(SensorError::RingBuffer(
                std::io::Error::from_raw_os_error(-rc).to_string(),
            ));
        }
        let mut b = self.batch.borrow_mut();
        b.sort();
        std::mem::swap(&mut *b, out);
        b.clear();
        Ok(())
    }
}
