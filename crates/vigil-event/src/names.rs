//! Human names for numbers the kernel records: syscalls (as Falco's `evt.type`, from
//! the table generated out of `bpf/syscalls_x86_64.tbl`), open flags, errno values,
//! file types.

include!(concat!(env!("OUT_DIR"), "/syscalls.rs"));

/// x86_64 syscall number to name (`"unknown"` for a number no kernel has used).
pub fn syscall_name(nr: u16) -> &'static str {
    SYSCALLS
        .binary_search_by_key(&nr, |&(_, n)| n)
        .map(|i| SYSCALLS[i].0)
        .unwrap_or("unknown")
}

/// Syscall name to x86_64 number.
pub fn syscall_number(name: &str) -> Option<u16> {
    SYSCALLS.iter().find(|(n, _)| *n == name).map(|&(_, nr)| nr)
}

pub const O_ACCMODE: u32 = 0o3;
pub const O_RDONLY: u32 = 0;
pub const O_WRONLY: u32 = 0o1;
pub const O_RDWR: u32 = 0o2;
pub const O_CREAT: u32 = 0o100;
pub const O_EXCL: u32 = 0o200;
pub const O_TRUNC: u32 = 0o1000;
pub const O_APPEND: u32 = 0o2000;
pub const O_NONBLOCK: u32 = 0o4000;
pub const O_DIRECTORY: u32 = 0o200000;
pub const O_NOFOLLOW: u32 = 0o400000;
pub const O_CLOEXEC: u32 = 0o2000000;
pub const O_PATH: u32 = 0o10000000;
pub const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;

/// Open flags as names ("O_WRONLY", "O_CREAT", ...).
pub fn open_flag_names(flags: u32) -> Vec<&'static str> {
    let mut out = vec![match flags & O_ACCMODE {
        O_RDONLY => "O_RDONLY",
        O_WRONLY => "O_WRONLY",
        O_RDWR => "O_RDWR",
        _ => "O_ACCMODE",
    }];
    for (bit, name) in [
        (O_CREAT, "O_CREAT"),
        (O_EXCL, "O_EXCL"),
        (O_TRUNC, "O_TRUNC"),
        (O_APPEND, "O_APPEND"),
        (O_NONBLOCK, "O_NONBLOCK"),
        (O_NOFOLLOW, "O_NOFOLLOW"),
        (O_CLOEXEC, "O_CLOEXEC"),
        (O_PATH, "O_PATH"),
    ] {
        if flags & bit != 0 {
            out.push(name);
        }
    }
    if flags & O_TMPFILE == O_TMPFILE {
        out.push("O_TMPFILE");
    } else if flags & O_DIRECTORY != 0 {
        out.push("O_DIRECTORY");
    }
    out
}

/// The name of an errno, given a failed call's result (`-errno`, as the kernel returns it).
/// Any i64 is accepted: the result comes from a record, and `i64::MIN` has no negation.
pub fn errno_name(result: i64) -> &'static str {
    match result.unsigned_abs() {
        1 => "EPERM",
        2 => "ENOENT",
        3 => "ESRCH",
        4 => "EINTR",
        5 => "EIO",
        9 => "EBADF",
        11 => "EAGAIN",
        12 => "ENOMEM",
        13 => "EACCES",
        14 => "EFAULT",
        16 => "EBUSY",
        17 => "EEXIST",
        18 => "EXDEV",
        20 => "ENOTDIR",
        21 => "EISDIR",
        22 => "EINVAL",
        23 => "ENFILE",
        24 => "EMFILE",
        26 => "ETXTBSY",
        28 => "ENOSPC",
        30 => "EROFS",
        31 => "EMLINK",
        36 => "ENAMETOOLONG",
        39 => "ENOTEMPTY",
        40 => "ELOOP",
        95 => "EOPNOTSUPP",
        110 => "ETIMEDOUT",
        111 => "ECONNREFUSED",
        115 => "EINPROGRESS",
        _ => "E?",
    }
}

/// File type from an inode mode, as Falco's `fd.typechar`/`fd.type` spell it.
pub fn file_type(i_mode: u32) -> (&'static str, char) {
    match i_mode & 0o170000 {
        0o100000 => ("file", 'f'),
        0o040000 => ("directory", 'd'),
        0o120000 => ("symlink", 'l'),
        0o020000 => ("chardev", 'c'),
        0o060000 => ("blockdev", 'b'),
        0o010000 => ("pipe", 'p'),
        0o140000 => ("unix", 'u'),
        _ => ("unknown", '?'),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errno_names_come_from_results_of_any_value() {
        assert_eq!(errno_name(-2), "ENOENT");
        assert_eq!(errno_name(-13), "EACCES");
        // A record may carry any result; the fuzzer found i64::MIN, which has no negation.
        assert_eq!(errno_name(i64::MIN), "E?");
        assert_eq!(errno_name(-4096), "E?");
    }

    #[test]
    fn syscall_table_is_consistent() {
        for &(name, nr) in SYSCALLS {
            assert_eq!(syscall_name(nr), name);
        }
        assert_eq!(syscall_name(9999), "unknown");
        assert_eq!(syscall_name(nr::OPENAT), "openat");
        assert_eq!(syscall_number("fchmodat2"), Some(452));
        assert_eq!(syscall_number("no_such_call"), None);
    }

    #[test]
    fn open_flags() {
        assert_eq!(
            open_flag_names(O_WRONLY | O_CREAT | O_TRUNC),
            ["O_WRONLY", "O_CREAT", "O_TRUNC"]
        );
        assert_eq!(
            open_flag_names(O_RDONLY | O_CLOEXEC | O_DIRECTORY),
            ["O_RDONLY", "O_CLOEXEC", "O_DIRECTORY"]
        );
        assert!(open_flag_names(O_RDWR | O_TMPFILE).contains(&"O_TMPFILE"));
    }
}
