//! Reading rule (and configuration) files from disk, bounded.
//!
//! A rules path comes from a user or a config-management tool and is read again on
//! every reload, so reading it must neither block nor take unbounded memory: only
//! regular files are read (a FIFO or a device would block or never end), at most
//! [`MAX_FILE_BYTES`] each, opened without following a FIFO's writer.

use std::fs::File;
use std::io::Read;
use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
use std::path::Path;

/// Largest rules file read (Falco's largest upstream file is about 100 KiB).
pub const MAX_FILE_BYTES: u64 = 16 << 20;

/// Most rules text one load reads, all files together.
pub const MAX_TOTAL_BYTES: u64 = 64 << 20;

/// Most rule files one load reads (a directory holding more is refused).
pub const MAX_FILES: usize = 10_000;

/// Reads a regular text file of at most `max` bytes; the error says what is wrong.
pub fn read_text_file(path: &Path, max: u64) -> Result<String, String> {
    // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK | libc::O_NOCTTY)
        .open(path)
        .map_err(|e| format!("cannot open: {e}"))?;
    let meta = file.metadata().map_err(|e| format!("cannot stat: {e}"))?;
    let ft = meta.file_type();
    if !ft.is_file() {
        let what = if ft.is_dir() {
            "a directory"
        } else if ft.is_fifo() {
            "a FIFO"
        } else if ft.is_char_device() {
            "a character device"
        } else if ft.is_block_device() {
            "a block device"
        } else if ft.is_socket() {
            "a socket"
        } else {
            "not a regular file"
        };
        return Err(format!(
            "is {what}, not a regular file: refused (reading it could block or never end)"
        ));
    }
    if meta.len() > max {
        return Err(format!(
            "is {} bytes, more than the {} bytes a file may have (split it)",
            meta.len(),
            max
        ));
    }
    read_to_string_at_most(file, max)
}

/// The file may grow while we read: never take more than `max` bytes of it.
fn read_to_string_at_most(file: File, max: u64) -> Result<String, String> {
    let mut bytes = Vec::new();
    file.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("grew past {max} bytes while it was read"));
    }
    String::from_utf8(bytes).map_err(|e| {
        format!(
            "is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn devices_directories_and_big_files_are_refused() {
        let e = read_text_file(Path::new("/dev/zero"), MAX_FILE_BYTES).unwrap_err();
        assert!(e.contains("character device"), "{e}");
        let e = read_text_file(Path::new("/"), MAX_FILE_BYTES).unwrap_err();
        assert!(e.contains("directory"), "{e}");
        let e = read_text_file(Path::new("/nonexistent.yaml"), MAX_FILE_BYTES).unwrap_err();
        assert!(e.contains("cannot open"), "{e}");
        let dir = std::env::temp_dir().join(format!("vigil-source-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let big = dir.join("big.yaml");
        std::fs::write(&big, vec![b'#'; 2048]).unwrap();
        let e = read_text_file(&big, 1024).unwrap_err();
        assert!(e.contains("2048 bytes, more than the 1024"), "{e}");
        assert_eq!(read_text_file(&big, 4096).unwrap().len(), 2048);
        std::fs::write(&big, [b'a', 0xff, b'b']).unwrap();
        let e = read_text_file(&big, 4096).unwrap_err();
        assert!(e.contains("not UTF-8") && e.contains("offset 1"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
