//! Named arguments of the sensitive syscalls, as Falco's `evt.arg.*` names them:
//! `evt.arg.request = PTRACE_ATTACH`, `evt.arg.sig = SIGKILL`, `evt.arg.cmd = BPF_PROG_LOAD`,
//! `evt.arg.flags = CLONE_NEWNS|CLONE_NEWPID`, ... The JSON output shows the same names.

use vigil_event::model::Syscall;
use vigil_event::names::{nr, syscall_name};

fn named(table: &[(u64, &str)], v: u64) -> String {
    table
        .iter()
        .find(|(n, _)| *n == v)
        .map(|(_, s)| s.to_string())
        .unwrap_or_else(|| v.to_string())
}

fn bits(table: &[(u64, &str)], v: u64) -> String {
    let names: Vec<&str> = table.iter().filter(|(b, _)| v & b != 0).map(|(_, s)| *s).collect();
    if names.is_empty() {
        "0".into()
    } else {
        names.join("|")
    }
}

const PTRACE: &[(u64, &str)] = &[
    (0, "PTRACE_TRACEME"),
    (1, "PTRACE_PEEKTEXT"),
    (2, "PTRACE_PEEKDATA"),
    (3, "PTRACE_PEEKUSR"),
    (4, "PTRACE_POKETEXT"),
    (5, "PTRACE_POKEDATA"),
    (6, "PTRACE_POKEUSR"),
    (7, "PTRACE_CONT"),
    (8, "PTRACE_KILL"),
    (9, "PTRACE_SINGLESTEP"),
    (12, "PTRACE_GETREGS"),
    (13, "PTRACE_SETREGS"),
    (14, "PTRACE_GETFPREGS"),
    (15, "PTRACE_SETFPREGS"),
    (16, "PTRACE_ATTACH"),
    (17, "PTRACE_DETACH"),
    (24, "PTRACE_SYSCALL"),
    (0x4200, "PTRACE_SETOPTIONS"),
    (0x4201, "PTRACE_GETEVENTMSG"),
    (0x4202, "PTRACE_GETSIGINFO"),
    (0x4203, "PTRACE_SETSIGINFO"),
    (0x4204, "PTRACE_GETREGSET"),
    (0x4205, "PTRACE_SETREGSET"),
    (0x4206, "PTRACE_SEIZE"),
    (0x4207, "PTRACE_INTERRUPT"),
    (0x4208, "PTRACE_LISTEN"),
];

const SIGNALS: &[(u64, &str)] = &[
    (1, "SIGHUP"),
    (2, "SIGINT"),
    (3, "SIGQUIT"),
    (4, "SIGILL"),
    (5, "SIGTRAP"),
    (6, "SIGABRT"),
    (7, "SIGBUS"),
    (8, "SIGFPE"),
    (9, "SIGKILL"),
    (10, "SIGUSR1"),
    (11, "SIGSEGV"),
    (12, "SIGUSR2"),
    (13, "SIGPIPE"),
    (14, "SIGALRM"),
    (15, "SIGTERM"),
    (17, "SIGCHLD"),
    (18, "SIGCONT"),
    (19, "SIGSTOP"),
    (20, "SIGTSTP"),
];

const BPF_CMDS: &[(u64, &str)] = &[
    (0, "BPF_MAP_CREATE"),
    (5, "BPF_PROG_LOAD"),
    (8, "BPF_PROG_ATTACH"),
    (13, "BPF_PROG_GET_FD_BY_ID"),
    (14, "BPF_MAP_GET_FD_BY_ID"),
    (17, "BPF_RAW_TRACEPOINT_OPEN"),
    (28, "BPF_LINK_CREATE"),
    (30, "BPF_LINK_GET_FD_BY_ID"),
];

const CLONE_NS: &[(u64, &str)] = &[
    (0x00020000, "CLONE_NEWNS"),
    (0x02000000, "CLONE_NEWCGROUP"),
    (0x04000000, "CLONE_NEWUTS"),
    (0x08000000, "CLONE_NEWIPC"),
    (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"),
    (0x40000000, "CLONE_NEWNET"),
    (0x00000080, "CLONE_NEWTIME"),
    (0x00000200, "CLONE_FS"),
    (0x00000400, "CLONE_FILES"),
];

/// `MOUNT_ATTR_*` (mount_setattr, fsmount).
const MOUNT_ATTRS: &[(u64, &str)] = &[
    (0x1, "MOUNT_ATTR_RDONLY"),
    (0x2, "MOUNT_ATTR_NOSUID"),
    (0x4, "MOUNT_ATTR_NODEV"),
    (0x8, "MOUNT_ATTR_NOEXEC"),
    (0x10, "MOUNT_ATTR_NOATIME"),
    (0x20, "MOUNT_ATTR_STRICTATIME"),
    (0x80, "MOUNT_ATTR_NODIRATIME"),
    (0x100000, "MOUNT_ATTR_IDMAP"),
    (0x200000, "MOUNT_ATTR_NOSYMFOLLOW"),
];

/// fsconfig commands.
const FSCONFIG_CMDS: &[(u64, &str)] = &[
    (0, "FSCONFIG_SET_FLAG"),
    (1, "FSCONFIG_SET_STRING"),
    (2, "FSCONFIG_SET_BINARY"),
    (3, "FSCONFIG_SET_PATH"),
    (4, "FSCONFIG_SET_PATH_EMPTY"),
    (5, "FSCONFIG_SET_FD"),
    (6, "FSCONFIG_CMD_CREATE"),
    (7, "FSCONFIG_CMD_RECONFIGURE"),
    (8, "FSCONFIG_CMD_CREATE_EXCL"),
];

/// open_tree flags.
const OPEN_TREE_FLAGS: &[(u64, &str)] = &[
    (0x1, "OPEN_TREE_CLONE"),
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x8000, "AT_RECURSIVE"),
    (0x80000, "OPEN_TREE_CLOEXEC"),
];

/// move_mount flags.
const MOVE_MOUNT_FLAGS: &[(u64, &str)] = &[
    (0x1, "MOVE_MOUNT_F_SYMLINKS"),
    (0x2, "MOVE_MOUNT_F_AUTOMOUNTS"),
    (0x4, "MOVE_MOUNT_F_EMPTY_PATH"),
    (0x10, "MOVE_MOUNT_T_SYMLINKS"),
    (0x20, "MOVE_MOUNT_T_AUTOMOUNTS"),
    (0x40, "MOVE_MOUNT_T_EMPTY_PATH"),
    (0x100, "MOVE_MOUNT_SET_GROUP"),
    (0x200, "MOVE_MOUNT_BENEATH"),
];

const UTIME_NOW: u64 = (1 << 30) - 1;
const UTIME_OMIT: u64 = (1 << 30) - 2;

/// `(argument name, rendered value)` pairs of a sensitive syscall, Falco's names.
/// `init_namespaces`: the host's (pid 1's) namespace inodes, for `ns_is_init`.
pub fn named_args(s: &Syscall, init_namespaces: &[u64]) -> Vec<(&'static str, String)> {
    let a = s.args;
    let str1 = s.str1.as_ref().map(|t| t.to_string()).unwrap_or_default();
    let str2 = s.str2.as_ref().map(|t| t.to_string()).unwrap_or_default();
    let mut v: Vec<(&'static str, String)> = vec![("res", s.ret.to_string())];
    match syscall_name(s.syscall) {
        "ptrace" => {
            v.push(("request", named(PTRACE, a[0])));
            v.push(("pid", a[1].to_string()));
            v.push(("addr", format!("{:#x}", a[2])));
        }
        "kill" | "tkill" => {
            v.push(("pid", (a[0] as i32).to_string()));
            v.push(("sig", named(SIGNALS, a[1])));
        }
        "tgkill" => {
            v.push(("pid", (a[0] as i32).to_string()));
            v.push(("tid", (a[1] as i32).to_string()));
            v.push(("sig", named(SIGNALS, a[2])));
        }
        "pidfd_send_signal" => {
            v.push(("pidfd", (a[0] as i32).to_string()));
            v.push(("sig", named(SIGNALS, a[1])));
        }
        "process_vm_readv" | "process_vm_writev" => v.push(("pid", (a[0] as i32).to_string())),
        "init_module" => {
            v.push(("len", a[1].to_string()));
            v.push(("uargs", str1));
        }
        "finit_module" => {
            v.push(("fd", (a[0] as i32).to_string()));
            v.push(("path", str1));
            v.push(("uargs", str2));
            v.push(("flags", a[2].to_string()));
        }
        "delete_module" => v.push(("name", str1)),
        "kexec_file_load" => v.push(("path", str1)),
        "bpf" => {
            v.push(("cmd", named(BPF_CMDS, a[0])));
            v.push(("type", a[3].to_string()));
            if !str1.is_empty() {
                v.push(("name", str1));
            }
        }
        "capset" => {
            v.push(("cap_effective", super::names::cap_names(a[2])));
            v.push(("cap_permitted", super::names::cap_names(a[3])));
        }
        "setns" => {
            v.push(("fd", (a[0] as i32).to_string()));
            v.push(("nstype", bits(CLONE_NS, a[1])));
            v.push(("ns_inum", a[2].to_string()));
            v.push(("ns_is_init", (a[2] != 0 && init_namespaces.contains(&a[2])).to_string()));
        }
        "unshare" => v.push(("flags", bits(CLONE_NS, a[0]))),
        "mount" => {
            let fstype: String = a[2]
                .to_le_bytes()
                .iter()
                .take_while(|&&b| b != 0)
                .map(|&b| b as char)
                .collect();
            v.push(("dev", str1));
            v.push(("dir", str2));
            v.push(("type", fstype));
            v.push(("flags", a[3].to_string()));
        }
        "umount2" => {
            v.push(("name", str1));
            v.push(("flags", a[1].to_string()));
        }
        "fsopen" => {
            v.push(("fsname", str1));
            v.push(("flags", a[1].to_string()));
        }
        "fsconfig" => {
            v.push(("fd", (a[0] as i32).to_string()));
            v.push(("cmd", named(FSCONFIG_CMDS, a[1])));
            v.push(("key", str1));
            v.push(("value", str2));
        }
        "fsmount" => {
            v.push(("fs_fd", (a[0] as i32).to_string()));
            v.push(("attr_flags", bits(MOUNT_ATTRS, a[2])));
        }
        "fspick" => v.push(("path", str1)),
        "open_tree" => {
            v.push(("path", str1));
            v.push(("flags", bits(OPEN_TREE_FLAGS, a[2])));
        }
        "move_mount" => {
            v.push(("from", str1));
            v.push(("to", str2));
            v.push(("flags", bits(MOVE_MOUNT_FLAGS, a[4])));
        }
        "mount_setattr" => {
            v.push(("path", str1));
            v.push(("attr_set", bits(MOUNT_ATTRS, a[3])));
            v.push(("attr_clr", bits(MOUNT_ATTRS, a[4])));
        }
        "chroot" => v.push(("path", str1)),
        "pivot_root" => {
            v.push(("new_root", str1));
            v.push(("put_old", str2));
        }
        "setuid" | "setgid" => v.push((
            if s.syscall == nr::SETUID { "uid" } else { "gid" },
            (a[0] as i32).to_string(),
        )),
        "setreuid" | "setregid" => {
            v.push(("ruid", (a[0] as i32).to_string()));
            v.push(("euid", (a[1] as i32).to_string()));
        }
        "setresuid" | "setresgid" => {
            v.push(("ruid", (a[0] as i32).to_string()));
            v.push(("euid", (a[1] as i32).to_string()));
            v.push(("suid", (a[2] as i32).to_string()));
        }
        "utimensat" => {
            v.push(("path", str1));
            let times = if a[2] == 0 || a[5] == UTIME_NOW {
                "now"
            } else if a[5] == UTIME_OMIT {
                "omit"
            } else {
                "explicit" // a chosen timestamp: what timestomping sets
            };
            v.push(("times", times.into()));
            v.push(("mtime", a[4].to_string()));
        }
        "setxattr" | "lsetxattr" | "fsetxattr" => {
            v.push(("path", str1));
            v.push(("name", str2));
        }
        _ => {}
    }
    v
}

/// The path a sensitive syscall acts on, for `fd.name`.
pub fn path_of(s: &Syscall) -> Option<String> {
    let str1 = s.str1.as_ref().map(|t| t.to_string());
    match syscall_name(s.syscall) {
        "finit_module" | "kexec_file_load" | "chroot" | "umount2" | "utimensat" | "setxattr" | "lsetxattr"
        | "fsetxattr" | "setns" | "pivot_root" | "open_tree" | "fspick" | "mount_setattr" => str1,
        // the mount point
        "mount" | "move_mount" => s.str2.as_ref().map(|t| t.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vigil_event::Text;

    fn sys(nr: u16, args: [u64; 6], s1: Option<&str>, s2: Option<&str>) -> Syscall {
        Syscall {
            syscall: nr,
            flags: 0,
            ret: 0,
            args,
            target_pid: 0,
            target_comm: None,
            str1: s1.map(Text::from),
            str2: s2.map(Text::from),
        }
    }

    fn named_args_of(s: &Syscall) -> Vec<(&'static str, String)> {
        named_args(s, &[4026531840])
    }

    fn get(v: &[(&str, String)], k: &str) -> String {
        v.iter()
            .find(|(n, _)| *n == k)
            .map(|(_, s)| s.clone())
            .unwrap_or_default()
    }

    #[test]
    fn names_like_falco() {
        let v = named_args_of(&sys(101, [16, 42, 0, 0, 0, 0], None, None));
        assert_eq!(get(&v, "request"), "PTRACE_ATTACH");
        assert_eq!(get(&v, "pid"), "42");
        assert_eq!(
            get(&named_args_of(&sys(62, [7, 9, 0, 0, 0, 0], None, None)), "sig"),
            "SIGKILL"
        );
        assert_eq!(
            get(
                &named_args_of(&sys(321, [5, 0, 0, 1, 0, 0], Some("xdp_prog"), None)),
                "cmd"
            ),
            "BPF_PROG_LOAD"
        );
        assert_eq!(
            get(
                &named_args_of(&sys(272, [0x20020000, 0, 0, 0, 0, 0], None, None)),
                "flags"
            ),
            "CLONE_NEWNS|CLONE_NEWPID"
        );
        let m = named_args_of(&sys(
            165,
            [0, 0, u64::from_le_bytes(*b"ext4\0\0\0\0"), 0, 0, 0],
            Some("/dev/sda1"),
            Some("/mnt"),
        ));
        assert_eq!(
            (get(&m, "dev"), get(&m, "dir"), get(&m, "type")),
            ("/dev/sda1".into(), "/mnt".into(), "ext4".into())
        );
        let t = named_args_of(&sys(
            280,
            [0, 0, 0x1000, 0, 1_600_000_000, 0],
            Some("/usr/bin/ls"),
            None,
        ));
        assert_eq!(get(&t, "times"), "explicit");
        let t = named_args_of(&sys(280, [0, 0, 0x1000, 0, 0, UTIME_NOW], Some("/tmp/x"), None));
        assert_eq!(get(&t, "times"), "now");
        // setns into the host's namespace, as the recording host knew it
        let s = named_args_of(&sys(
            nr::SETNS,
            [3, 0x20000, 4026531840, 0, 0, 0],
            Some("/proc/1/ns/mnt"),
            None,
        ));
        assert_eq!(get(&s, "ns_is_init"), "true");
        assert_eq!(
            get(
                &named_args(&sys(nr::SETNS, [3, 0, 4026531840, 0, 0, 0], None, None), &[]),
                "ns_is_init"
            ),
            "false"
        );
        // the new mount API
        let m = sys(nr::MOVE_MOUNT, [3, 0, 0, 0, 0x4, 0], Some("/"), Some("/proc/1234"));
        assert_eq!(get(&named_args_of(&m), "flags"), "MOVE_MOUNT_F_EMPTY_PATH");
        assert_eq!(path_of(&m).as_deref(), Some("/proc/1234"));
        let t = sys(nr::OPEN_TREE, [0, 0, 0x80001, 0, 0, 0], Some("/tmp/empty"), None);
        assert_eq!(get(&named_args_of(&t), "flags"), "OPEN_TREE_CLONE|OPEN_TREE_CLOEXEC");
        let c = sys(nr::FSCONFIG, [3, 1, 0, 0, 0, 0], Some("source"), Some("/dev/sda1"));
        assert_eq!(
            (get(&named_args_of(&c), "cmd"), get(&named_args_of(&c), "value")),
            ("FSCONFIG_SET_STRING".into(), "/dev/sda1".into())
        );
    }
}
