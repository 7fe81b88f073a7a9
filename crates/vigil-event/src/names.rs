//! Human names for numbers the kernel records: syscalls (as Falco's `evt.type`),
//! open flags, errno values, file types.

/// x86_64 syscall number to name, for the syscalls the kernel side decodes.
pub fn syscall_name(nr: u16) -> &'static str {
    match nr {
        2 => "open",
        32 => "dup",
        33 => "dup2",
        41 => "socket",
        42 => "connect",
        43 => "accept",
        44 => "sendto",
        46 => "sendmsg",
        49 => "bind",
        50 => "listen",
        72 => "fcntl",
        76 => "truncate",
        77 => "ftruncate",
        80 => "chdir",
        81 => "fchdir",
        82 => "rename",
        83 => "mkdir",
        84 => "rmdir",
        85 => "creat",
        86 => "link",
        87 => "unlink",
        88 => "symlink",
        90 => "chmod",
        91 => "fchmod",
        92 => "chown",
        93 => "fchown",
        94 => "lchown",
        257 => "openat",
        258 => "mkdirat",
        260 => "fchownat",
        263 => "unlinkat",
        264 => "renameat",
        265 => "linkat",
        266 => "symlinkat",
        268 => "fchmodat",
        288 => "accept4",
        292 => "dup3",
        307 => "sendmmsg",
        316 => "renameat2",
        319 => "memfd_create",
        437 => "openat2",
        452 => "fchmodat2",
        62 => "kill",
        101 => "ptrace",
        105 => "setuid",
        106 => "setgid",
        113 => "setreuid",
        114 => "setregid",
        117 => "setresuid",
        119 => "setresgid",
        126 => "capset",
        155 => "pivot_root",
        161 => "chroot",
        165 => "mount",
        166 => "umount2",
        175 => "init_module",
        176 => "delete_module",
        188 => "setxattr",
        189 => "lsetxattr",
        190 => "fsetxattr",
        200 => "tkill",
        234 => "tgkill",
        246 => "kexec_load",
        272 => "unshare",
        280 => "utimensat",
        308 => "setns",
        310 => "process_vm_readv",
        311 => "process_vm_writev",
        313 => "finit_module",
        320 => "kexec_file_load",
        321 => "bpf",
        424 => "pidfd_send_signal",
        _ => "unknown",
    }
}

/// The x86_64 numbers, for tables that go the other way.
pub const SYSCALLS: &[(&str, u16)] = &[
    ("open", 2),
    ("dup", 32),
    ("dup2", 33),
    ("socket", 41),
    ("connect", 42),
    ("accept", 43),
    ("sendto", 44),
    ("sendmsg", 46),
    ("bind", 49),
    ("listen", 50),
    ("fcntl", 72),
    ("truncate", 76),
    ("ftruncate", 77),
    ("chdir", 80),
    ("fchdir", 81),
    ("rename", 82),
    ("mkdir", 83),
    ("rmdir", 84),
    ("creat", 85),
    ("link", 86),
    ("unlink", 87),
    ("symlink", 88),
    ("chmod", 90),
    ("fchmod", 91),
    ("chown", 92),
    ("fchown", 93),
    ("lchown", 94),
    ("openat", 257),
    ("mkdirat", 258),
    ("fchownat", 260),
    ("unlinkat", 263),
    ("renameat", 264),
    ("linkat", 265),
    ("symlinkat", 266),
    ("fchmodat", 268),
    ("accept4", 288),
    ("dup3", 292),
    ("sendmmsg", 307),
    ("renameat2", 316),
    ("memfd_create", 319),
    ("openat2", 437),
    ("fchmodat2", 452),
    ("kill", 62),
    ("ptrace", 101),
    ("setuid", 105),
    ("setgid", 106),
    ("setreuid", 113),
    ("setregid", 114),
    ("setresuid", 117),
    ("setresgid", 119),
    ("capset", 126),
    ("pivot_root", 155),
    ("chroot", 161),
    ("mount", 165),
    ("umount2", 166),
    ("init_module", 175),
    ("delete_module", 176),
    ("setxattr", 188),
    ("lsetxattr", 189),
    ("fsetxattr", 190),
    ("tkill", 200),
    ("tgkill", 234),
    ("kexec_load", 246),
    ("unshare", 272),
    ("utimensat", 280),
    ("setns", 308),
    ("process_vm_readv", 310),
    ("process_vm_writev", 311),
    ("finit_module", 313),
    ("kexec_file_load", 320),
    ("bpf", 321),
    ("pidfd_send_signal", 424),
];

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

pub fn errno_name(errno: i64) -> &'static str {
    match errno {
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
    fn syscall_table_is_consistent() {
        for &(name, nr) in SYSCALLS {
            assert_eq!(syscall_name(nr), name);
        }
        assert_eq!(syscall_name(9999), "unknown");
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
