//! The recording format of `vigil run --record` and `vigil replay`.
//!
//! A recording is the raw record stream, exactly as the kernel (or the /proc snapshot)
//! produced it, so replay runs the same decoder and rules over the same bytes:
//!
//! ```text
//! "VIGILREC" u16 version  u16 abi  u32 agent_pid  i64 boot_to_realtime_ns
//! then per record: u32 length, length bytes
//! ```

use std::io::{self, Read, Write};

use thiserror::Error;

use crate::abi::{ABI_VERSION, RECORD_MAX};

const MAGIC: &[u8; 8] = b"VIGILREC";
const VERSION: u16 = 1;

#[derive(Debug, Error)]
pub enum RecordingError {
    #[error("not a vigil recording (bad magic)")]
    BadMagic,
    #[error("recording format version {0} is not supported (this build reads {VERSION})")]
    BadVersion(u16),
    #[error("recording was made with record ABI {0}; this build reads {ABI_VERSION}")]
    BadAbi(u16),
    #[error("record {index} declares {len} bytes, more than the {RECORD_MAX}-byte maximum")]
    Oversized { index: u64, len: u32 },
    #[error("recording ends inside record {index} (truncated file)")]
    Truncated { index: u64 },
    #[error(transparent)]
    Io(#[from] io::Error),
}

pub struct RecordingWriter<W: Write> {
    out: W,
}

impl<W: Write> RecordingWriter<W> {
    /// `agent_pid`: the recording agent, whose own identity its rules use.
    pub fn new(mut out: W, boot_to_realtime_ns: i64, agent_pid: u32) -> io::Result<Self> {
        out.write_all(MAGIC)?;
        out.write_all(&VERSION.to_le_bytes())?;
        out.write_all(&ABI_VERSION.to_le_bytes())?;
        out.write_all(&agent_pid.to_le_bytes())?;
        out.write_all(&boot_to_realtime_ns.to_le_bytes())?;
        Ok(Self { out })
    }

    pub fn write(&mut self, record: &[u8]) -> io::Result<()> {
        self.out.write_all(&(record.len() as u32).to_le_bytes())?;
        self.out.write_all(record)
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}

pub struct RecordingReader<R: Read> {
    input: R,
    /// Offset to add to a kernel boot-time timestamp to get Unix-epoch nanoseconds
    /// on the machine and boot the recording was made.
    pub boot_to_realtime_ns: i64,
    /// The pid of the agent that made the recording.
    pub agent_pid: u32,
    index: u64,
}

impl<R: Read> RecordingReader<R> {
    pub fn new(mut input: R) -> Result<Self, RecordingError> {
        let mut head = [0u8; 24];
        input.read_exact(&mut head).map_err(|_| RecordingError::BadMagic)?;
        if &head[..8] != MAGIC {
            return Err(RecordingError::BadMagic);
        }
        let version = u16::from_le_bytes([head[8], head[9]]);
        if version != VERSION {
            return Err(RecordingError::BadVersion(version));
        }
        let abi = u16::from_le_bytes([head[10], head[11]]);
        if abi != ABI_VERSION {
            return Err(RecordingError::BadAbi(abi));
        }
        let mut off = [0u8; 8];
        off.copy_from_slice(&head[16..24]);
        let agent_pid = u32::from_le_bytes([head[12], head[13], head[14], head[15]]);
        Ok(Self {
            input,
            boot_to_realtime_ns: i64::from_le_bytes(off),
            agent_pid,
            index: 0,
        })
    }

    /// The next raw record, or None at a clean end of file.
    pub fn next_record(&mut self) -> Result<Option<Vec<u8>>, RecordingError> {
        let mut len = [0u8; 4];
        match read_full(&mut self.input, &mut len)? {
            0 => return Ok(None),
            4 => {}
            _ => return Err(RecordingError::Truncated { index: self.index }),
        }
        let len = u32::from_le_bytes(len);
        if len as usize > RECORD_MAX {
            return Err(RecordingError::Oversized { index: self.index, len });
        }
        let mut buf = vec![0u8; len as usize];
        if read_full(&mut self.input, &mut buf)? != buf.len() {
            return Err(RecordingError::Truncated { index: self.index });
        }
        self.index += 1;
        Ok(Some(buf))
    }
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
        let mut w = RecordingWriter::new(&mut buf, 42, 777).unwrap();
        w.write(b"hello").unwrap();
        w.write(b"").unwrap();
        w.write(&[7u8; 300]).unwrap();
        let mut r = RecordingReader::new(&buf[..]).unwrap();
        assert_eq!(r.boot_to_realtime_ns, 42);
        assert_eq!(r.agent_pid, 777);
        assert_eq!(r.next_record().unwrap().unwrap(), b"hello");
        assert_eq!(r.next_record().unwrap().unwrap(), b"");
        assert_eq!(r.next_record().unwrap().unwrap().len(), 300);
        assert!(r.next_record().unwrap().is_none());

        let cut = &buf[..buf.len() - 10];
        let mut r = RecordingReader::new(cut).unwrap();
        r.next_record().unwrap();
        r.next_record().unwrap();
        assert!(matches!(r.next_record(), Err(RecordingError::Truncated { index: 2 })));
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
        RecordingWriter::new(&mut buf, 0, 0).unwrap();
        buf[8] = 9;
        assert!(matches!(
            RecordingReader::new(&buf[..]),
            Err(RecordingError::BadVersion(9))
        ));
    }
}
