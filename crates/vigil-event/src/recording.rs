//! The recording format of `vigil run --record` and `vigil replay`.
//!
//! A recording is the raw record stream, exactly as the kernel (or the /proc snapshot)
//! produced it, so replay runs the same decoder and rules over the same bytes:
//!
//! ```text
//! "VIGILREC" u16 version  u16 abi  u32 agent_pid  i64 boot_to_realtime_ns
//! version 2: u16 n, n x u64 init namespace inodes, u16 len, len bytes hostname
//! then per record: u32 length, length bytes
//! ```
//!
//! Version 2 adds the recording host's facts that events are compared with (the init
//! namespaces behind `evt.arg.ns_is_init`, the hostname), so a replay judges them as
//! the live run did. Version 1 recordings still replay, without those facts.

use std::io::{self, Read, Write};

use thiserror::Error;

use crate::abi::{ABI_VERSION, RECORD_MAX};

const MAGIC: &[u8; 8] = b"VIGILREC";
const VERSION: u16 = 2;

/// Facts about the host a recording was made on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RecordedHost {
    pub hostname: String,
    /// Inode numbers of pid 1's namespaces (mnt, pid, net, uts, ipc, user, cgroup).
    pub init_namespaces: Vec<u64>,
}

#[derive(Debug, Error)]
pub enum RecordingError {
    #[error("not a vigil recording (bad magic)")]
    BadMagic,
    #[error("recording format version {0} is not supported (this build reads 1 to {VERSION})")]
    BadVersion(u16),
    #[error("recording header is malformed: {0}")]
    BadHeader(&'static str),
    #[error("recording was made with record ABI {0}; this build reads {ABI_VERSION}")]
    BadAbi(u16),
    #[error("record {index} (at byte {offset}) declares {len} bytes, more than the {RECORD_MAX}-byte maximum: the recording is corrupted there")]
    Oversized { index: u64, offset: u64, len: u32 },
    #[error("recording ends inside record {index} (at byte {offset}): the file was cut short, as by a crash while recording")]
    Truncated { index: u64, offset: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub struct RecordingWriter<W: Write> {
    out: W,
}

impl<W: Write> RecordingWriter<W> {
    /// `agent_pid`: the recording agent, whose own identity its rules use.
    pub fn new(mut out: W, boot_to_realtime_ns: i64, agent_pid: u32, host: &RecordedHost) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&ABI_VERSION.to_le_bytes())?;
        out.write_all(&agent_pid.to_le_bytes())?;
        out.write_all(&boot_to_realtime_ns.to_le_bytes())?;
        let ns = &host.init_namespaces[..host.init_namespaces.len().min(16)];
        out.write_all(&(ns.len() as u16).to_le_bytes())?;
        for n in ns {
            out.write_all(&n.to_le_bytes())?;
        }
        let name = &host.hostname.as_bytes()[..host.hostname.len().min(255)];
        out.write_all(&(name.len() as u16).to_le_bytes())?;
        out.write_all(name)?;
        Ok(Self { out })
    }

    pub fn write(&mut self, record: &[u8]) -> io::Result<()> {
        self.out.write_all(&(record.len() as u32).to_le_bytes())?;
        self.out.write_all(record)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The destination, with everything written so far.
    pub fn into_inner(self) -> W {
        self.out
    }
}

pub struct RecordingReader<R: Read> {
    input: R,
    /// Offset to add to a kernel boot-time timestamp to get Unix-epoch nanoseconds
    /// on the machine and boot the recording was made.
    pub boot_to_realtime_ns: i64,
    /// The pid of the agent that made the recording.
    pub agent_pid: u32,
    /// The recording host's facts (empty for a version 1 recording).
    pub host: RecordedHost,
    index: u64,
    /// Bytes consumed so far, header included.
    offset: u64,
}

impl<R: Read> RecordingReader<R> {
    pub fn new(mut input: R) -> Result<Self, RecordingError> {
        let mut head = [0u8; 24];
        input.read_exact(&mut head).map_err(|_| RecordingError::BadMagic)?;
        if &head[..8] != MAGIC {
            return Err(RecordingError::BadMagic);
        }
        let version = u16::from_le_bytes([head[8], head[9]]);
        if !(1..=VERSION).contains(&version) {
            return Err(RecordingError::BadVersion(version));
        }
        let abi = u16::from_le_bytes([head[10], head[11]]);
        if abi != ABI_VERSION {
            return Err(RecordingError::BadAbi(abi));
        }
        let mut off = [0u8; 8];
        off.copy_from_slice(&head[16..24]);
        let agent_pid = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        let host = if version >= 2 {
            read_host(&mut input)?
        } else {
            RecordedHost::default()
        };
        let offset = if version >= 2 {
            24 + 2 + 8 * host.init_namespaces.len() as u64 + 2 + host.hostname.len() as u64
        } else {
            24
        };
        Ok(Self {
            input,
            boot_to_realtime_ns: i64::from_le_bytes(off),
            agent_pid,
            host,
            index: 0,
            offset,
        })
    }

    /// Complete records read so far.
    pub fn records_read(&self) -> u64 {
        self.index
    }

    /// The byte offset where the next record starts (for error messages).
    pub fn offset(&self) -> u64 {
        self.offset
    }

    /// The next raw record, or None at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, RecordingError> {
        let mut len = [0u8; 4];
        let (index, offset) = (self.index, self.offset);
        match read_full(&mut self.input, &mut len)? {
            0 => return Ok(None),
            4 => {}
            _ => return Err(RecordingError::Truncated { index, offset }),
        }
        let len = u32::from_le_bytes(len);
        if len as usize > RECORD_MAX {
            return Err(RecordingError::Oversized { index, offset, len });
        }
        let mut buf = vec![0u8; len as usize];
        if read_full(&mut self.input, &mut buf)? != buf.len() {
            return Err(RecordingError::Truncated { index, offset });
        }
        self.index += 1;
        self.offset += 4 + u64::from(len);
        Ok(Some(buf))
    }
}

/// The host facts of a version 2 header (bounded: at most 16 namespaces, 255 name bytes).
fn read_host(r: &mut impl Read) -> Result<RecordedHost, RecordingError> {
    let mut u16b = [0u8; 2];
    let mut exact = |buf: &mut [u8]| -> Result<(), RecordingError> {
        if read_full(r, buf)? != buf.len() {
            return Err(RecordingError::BadHeader("it ends inside the host facts"));
        }
        Ok(())
    };
    exact(&mut u16b)?;
    let n = u16::from_le_bytes(u16b);
    if n > 16 {
        return Err(RecordingError::BadHeader("more than 16 init namespaces"));
    }
    let mut init_namespaces = Vec::with_capacity(n as usize);
    for _ in 0..n {
        let mut b = [0u8; 8];
        exact(&mut b)?;
        init_namespaces.push(u64::from_le_bytes(b));
    }
    exact(&mut u16b)?;
    let len = u16::from_le_bytes(u16b);
    if len > 255 {
        return Err(RecordingError::BadHeader("hostname longer than 255 bytes"));
    }
    let mut name = vec![0u8; len as usize];
    exact(&mut name)?;
    Ok(RecordedHost {
        hostname: String::from_utf8_lossy(&name).into_owned(),
        init_namespaces,
    })
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_truncation() {
        let mut buf = Vec::new();
        let host = RecordedHost {
            hostname: "web-1".into(),
            init_namespaces: vec![4026531836, 4026531840],
        };
        let mut w = RecordingWriter::new(&mut buf, 42, 777, &host).unwrap();
        w.write(b"hello").unwrap();
        w.write(b"").unwrap();
        w.write(&[7u8; 300]).unwrap();
        let mut r = RecordingReader::new(&buf[..]).unwrap();
        assert_eq!(r.boot_to_realtime_ns, 42);
        assert_eq!(r.agent_pid, 777);
        assert_eq!(r.host, host);
        assert_eq!(r.next_record().unwrap().unwrap(), b"hello");
        assert_eq!(r.next_record().unwrap().unwrap(), b"");
        assert_eq!(r.next_record().unwrap().unwrap().len(), 300);
        assert!(r.next_record().unwrap().is_none());

        // the third record starts after the header and the first two (4 + 5, 4 + 0 bytes)
        let header = buf.len() - (4 + 5) - 4 - (4 + 300);
        let third = (header + 9 + 4) as u64;
        let cut = &buf[..buf.len() - 10];
        let mut r = RecordingReader::new(cut).unwrap();
        r.next_record().unwrap();
        r.next_record().unwrap();
        assert_eq!(r.records_read(), 2);
        assert_eq!(r.offset(), third);
        assert!(matches!(
            r.next_record(),
            Err(RecordingError::Truncated { index: 2, offset }) if offset == third
        ));

        // a corrupted length: reported with its record and offset
        let mut bad = buf.clone();
        bad[third as usize..third as usize + 4].copy_from_slice(&u32::MAX.to_le_bytes());
        let mut r = RecordingReader::new(&bad[..]).unwrap();
        r.next_record().unwrap();
        r.next_record().unwrap();
        let e = r.next_record().unwrap_err();
        assert!(matches!(e, RecordingError::Oversized { index: 2, offset, len: u32::MAX } if offset == third));
        assert!(e.to_string().contains(&format!("at byte {third}")), "{e}");
    }

    #[test]
    fn rejects_foreign_files() {
        assert!(matches!(
            RecordingReader::new(&b"not a recording at all!!"[..]),
            Err(RecordingError::BadMagic)
        ));
        assert!(matches!(
            RecordingReader::new(&b"VIG"[..]),
            Err(RecordingError::BadMagic)
        ));
        let mut buf = Vec::new();
        RecordingWriter::new(&mut buf, 0, 0, &RecordedHost::default()).unwrap();
        buf[8] = 9;
        assert!(matches!(
            RecordingReader::new(&buf[..]),
            Err(RecordingError::BadVersion(9))
        ));
        // Version 1 (no host facts) still reads.
        let mut v1 = Vec::new();
        RecordingWriter::new(&mut v1, 5, 6, &RecordedHost::default()).unwrap();
        v1.truncate(24);
        v1[8] = 1;
        v1.extend_from_slice(&3u32.to_le_bytes());
        v1.extend_from_slice(b"abc");
        let mut r = RecordingReader::new(&v1[..]).unwrap();
        assert_eq!((r.agent_pid, r.host.init_namespaces.len()), (6, 0));
        assert_eq!(r.next_record().unwrap().unwrap(), b"abc");
    }
}
