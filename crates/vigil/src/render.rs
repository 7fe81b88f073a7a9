//! The JSON form of events (and, with a rule match, of alerts).
//!
//! Names follow Falco's field classes (`evt.*`, `proc.*`, `fd.*`) so that what a rule
//! author reads in the output is what they write in a condition: `.proc.exe` in the
//! JSON is `proc.exe` in a rule. The schema is documented in docs/events.md; a test
//! keeps the two in step.

use std::sync::Arc;

use serde::Serialize;
use vigil_event::abi::{exec_flag, file_flag};
use vigil_event::names::{errno_name, file_type, open_flag_names, syscall_name};
use vigil_event::{Body, Event, FileOp, Text};
use vigil_proctree::Process;

/// Falco's `evt.type` for an event.
pub fn evt_type(ev: &Event) -> &'static str {
    match &ev.body {
        Body::Snapshot(_) => "snapshot",
        Body::Exec(x) if x.flags & exec_flag::BY_FD != 0 => "execveat",
        Body::Exec(_) => "execve",
        Body::Fork(_) => "clone",
        Body::Exit(_) => "procexit",
        Body::Cwd(c) => syscall_name(c.syscall),
        Body::File(f) => syscall_name(f.syscall),
    }
}

#[derive(Serialize)]
pub struct EventJson<'a> {
    pub evt: Evt,
    pub proc: ProcJson<'a>,
    pub ancestors: Vec<AncestorJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fd: Option<FdJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<FileJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecJson<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fork: Option<ForkJson>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exit: Option<ExitJson>,
}

#[derive(Serialize)]
pub struct Evt {
    pub kind: &'static str,
    #[serde(rename = "type")]
    pub ty: &'static str,
    pub time: String,
    pub ktime: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub res: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub errno: Option<&'static str>,
}

#[derive(Serialize)]
pub struct ProcJson<'a> {
    pub pid: u32,
    pub tid: u32,
    pub ppid: u32,
    pub vpid: u32,
    pub name: &'a Text,
    pub exe: &'a Text,
    pub args: &'a [Text],
    pub cmdline: String,
    pub cwd: &'a Text,
    pub uid: u32,
    pub gid: u32,
    pub euid: u32,
    pub egid: u32,
    pub loginuid: u32,
    pub sid: u32,
    pub tty: u32,
    pub start_ktime: u64,
    pub cgroup_id: u64,
    pub mntns: u32,
    pub pidns: u32,
    pub netns: u32,
    pub cap_effective: String,
    pub cap_permitted: String,
    pub exe_flags: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct AncestorJson<'a> {
    pub pid: u32,
    pub name: &'a Text,
    pub exe: &'a Text,
    pub args: &'a [Text],
}

#[derive(Serialize)]
pub struct FdJson<'a> {
    pub name: &'a Text,
    pub directory: Text,
    pub filename: Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num: Option<i32>,
    #[serde(rename = "type", skip_serializing_if = "Option::is_none")]
    pub ty: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub typechar: Option<char>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ino: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dev: Option<u32>,
}

#[derive(Serialize)]
pub struct FileJson<'a> {
    pub op: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub flags: Vec<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub raw_flags: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mode: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub uid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gid: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<&'a Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub length: Option<u64>,
    pub path_source: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub path_flags: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct ExecJson<'a> {
    pub filename: &'a Text,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interp: Option<&'a Text>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prev_exe: Option<&'a Text>,
    pub prev_name: &'a Text,
    pub argc: u32,
    pub exe_mode: String,
    pub flags: Vec<&'static str>,
}

#[derive(Serialize)]
pub struct ForkJson {
    pub child_pid: u32,
}

#[derive(Serialize)]
pub struct ExitJson {
    pub status: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signal: Option<u32>,
    pub core_dumped: bool,
}

const EXEC_FLAG_NAMES: &[(u32, &str)] = &[
    (exec_flag::ARGV_TRUNC, "argv_truncated"),
    (exec_flag::ENV_TRUNC, "env_truncated"),
    (exec_flag::EXE_TRUNC, "exe_truncated"),
    (exec_flag::EXE_DELETED, "exe_deleted"),
    (exec_flag::EXE_MEMFD, "exe_memfd"),
    (exec_flag::EXE_UPPER, "exe_upper_layer"),
    (exec_flag::SCRIPT, "script"),
    (exec_flag::BY_FD, "exec_by_fd"),
    (exec_flag::PREV_UNKNOWN, "prev_unknown"),
    (exec_flag::CWD_TRUNC, "cwd_truncated"),
    (exec_flag::SECUREEXEC, "secureexec"),
];

const FILE_FLAG_NAMES: &[(u32, &str)] = &[
    (file_flag::PATH_TRUNC, "truncated"),
    (file_flag::PATH_DELETED, "deleted"),
    (file_flag::PATH2_TRUNC, "target_truncated"),
];

fn flag_names(bits: u32, table: &[(u32, &'static str)]) -> Vec<&'static str> {
    table.iter().filter(|(b, _)| bits & b != 0).map(|&(_, n)| n).collect()
}

pub fn exec_flag_names(bits: u32) -> Vec<&'static str> {
    flag_names(bits, EXEC_FLAG_NAMES)
}

/// Converts boot-time nanoseconds to an RFC 3339 UTC timestamp with nanoseconds.
pub fn rfc3339(boot_ns: u64, boot_to_realtime_ns: i64) -> String {
    let epoch = (boot_ns as i128 + boot_to_realtime_ns as i128).max(0) as u128;
    let secs = (epoch / 1_000_000_000) as i64;
    let nanos = (epoch % 1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
}

fn split_path(path: &Text) -> (Text, Text) {
    let b = path.as_bytes();
    match b.iter().rposition(|&c| c == b'/') {
        Some(0) => (Text::from("/"), Text::new(&b[1..])),
        Some(i) => (Text::new(&b[..i]), Text::new(&b[i + 1..])),
        None => (Text::default(), path.clone()),
    }
}

/// Renders an event with the acting process (as the tree holds it after the event)
/// and its ancestors.
pub fn event_json<'a>(
    ev: &'a Event,
    proc: Option<&'a Arc<Process>>,
    ancestors: &'a [Arc<Process>],
    boot_to_realtime_ns: i64,
    fallback: &'a Process,
) -> EventJson<'a> {
    let p: &Process = proc.map(|p| p.as_ref()).unwrap_or(fallback);
    let mut out = EventJson {
        evt: Evt {
            kind: ev.body.kind_name(),
            ty: evt_type(ev),
            time: rfc3339(ev.ktime, boot_to_realtime_ns),
            ktime: ev.ktime,
            res: None,
            errno: None,
        },
        proc: ProcJson {
            pid: ev.pid,
            tid: ev.tid,
            ppid: p.ppid,
            vpid: p.vpid,
            name: if proc.is_some() { &p.name } else { &ev.comm },
            exe: &p.exe,
            args: &p.args,
            cmdline: p.cmdline(),
            cwd: &p.cwd,
            uid: ev.uid,
            gid: ev.gid,
            euid: p.euid,
            egid: p.egid,
            loginuid: p.loginuid,
            sid: p.sid,
            tty: p.tty,
            start_ktime: p.start_ktime,
            cgroup_id: ev.cgroup_id,
            mntns: p.mnt_ns,
            pidns: p.pid_ns,
            netns: p.net_ns,
            cap_effective: format!("{:#x}", p.cap_effective),
            cap_permitted: format!("{:#x}", p.cap_permitted),
            exe_flags: exec_flag_names(p.exe_flags & !exec_flag::PREV_UNKNOWN),
        },
        ancestors: ancestors
            .iter()
            .map(|a| AncestorJson {
                pid: a.pid,
                name: &a.name,
                exe: &a.exe,
                args: &a.args,
            })
            .collect(),
        fd: None,
        file: None,
        exec: None,
        fork: None,
        exit: None,
    };
    match &ev.body {
        Body::Exec(x) | Body::Snapshot(x) => {
            out.exec = Some(ExecJson {
                filename: &x.filename,
                interp: x.interp.as_ref(),
                prev_exe: x.prev_exe.as_ref(),
                prev_name: &x.prev_comm,
                argc: x.argc,
                exe_mode: format!("{:o}", x.exe_mode & 0o7777),
                flags: exec_flag_names(x.flags),
            })
        }
        Body::Fork(f) => out.fork = Some(ForkJson { child_pid: f.child_pid }),
        Body::Exit(x) => {
            out.exit = Some(ExitJson {
                status: x.status,
                code: x.code(),
                signal: x.signal(),
                core_dumped: x.core_dumped(),
            })
        }
        Body::Cwd(_) => {}
        Body::File(f) => {
            out.evt.res = Some(f.ret);
            if f.ret < 0 {
                out.evt.errno = Some(errno_name(-f.ret));
            }
            let (directory, filename) = split_path(&f.path);
            let inode = f.has(file_flag::INODE_VALID);
            let (ty, typechar) = if inode { file_type(f.i_mode) } else { ("unknown", '?') };
            let fd_num = match f.op {
                FileOp::Open | FileOp::MemfdCreate if f.ret >= 0 => Some(f.ret as i32),
                _ if f.fd >= 0 => Some(f.fd),
                _ => None,
            };
            out.fd = Some(FdJson {
                name: &f.path,
                directory,
                filename,
                num: fd_num,
                ty: inode.then_some(ty),
                typechar: inode.then_some(typechar),
                ino: inode.then_some(f.ino),
                dev: inode.then_some(f.dev),
            });
            let opens = matches!(f.op, FileOp::Open);
            let has_mode =
                matches!(f.op, FileOp::Chmod | FileOp::Mkdir) || (opens && f.flags & vigil_event::names::O_CREAT != 0);
            out.file = Some(FileJson {
                op: f.op.name().into_owned(),
                flags: if opens { open_flag_names(f.flags) } else { Vec::new() },
                raw_flags: (!opens && f.flags != 0).then_some(f.flags),
                mode: has_mode.then(|| format!("{:o}", f.mode & 0o7777)),
                uid: matches!(f.op, FileOp::Chown).then_some(f.uid),
                gid: matches!(f.op, FileOp::Chown).then_some(f.gid),
                target: f.path2.as_ref(),
                length: matches!(f.op, FileOp::Truncate).then_some(f.aux),
                path_source: if f.has(file_flag::FROM_INODE) {
                    "inode"
                } else if f.has(file_flag::JOINED) {
                    "joined"
                } else {
                    "argument"
                },
                path_flags: flag_names(f.vflags, FILE_FLAG_NAMES),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1, 1_795_533_654_000_000_000), "2026-11-24T15:20:54.000000001Z");
        assert_eq!(rfc3339(0, 951_782_400_000_000_000), "2000-02-29T00:00:00.000000000Z");
    }

    #[test]
    fn split_paths() {
        assert_eq!(split_path(&"/etc/hostname".into()), ("/etc".into(), "hostname".into()));
        assert_eq!(split_path(&"/x".into()), ("/".into(), "x".into()));
    }
}
