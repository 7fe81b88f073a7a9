//! The field catalogue: every field a condition or an output may name.
//!
//! Field names and meanings follow Falco (libsinsp and the container/k8s
//! plugins) so that upstream rules load unchanged, plus a few Vigil fields.
//! `available` says whether Vigil's sensor populates the field today; a
//! comparison on an unavailable field is always false (never a load error) and
//! the load report lists the unavailable fields each rule depends on.
//!
//! The host identifies fields by the [`Field`] enum, so `EventSource::field`
//! is a `match`, not a string comparison.

use std::collections::HashMap;
use std::fmt;
use std::sync::OnceLock;

use serde::Serialize;

/// Value type of a field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldType {
    /// Text.
    String,
    /// Raw bytes (I/O buffers); `bcontains`/`bstartswith` take hex.
    Bytes,
    /// Signed integer.
    Int,
    /// Unsigned integer.
    Uint,
    Bool,
    /// An IPv4 or IPv6 address.
    IpAddr,
    /// Matches an IP address against a network (`"10.0.0.0/8"`).
    IpNet,
    /// TCP/UDP port.
    Port,
    /// Nanoseconds (a duration).
    Duration,
    /// Nanoseconds since the epoch.
    Timestamp,
    /// Type depends on the argument (`evt.rawarg.*`); compared as number or text.
    Dynamic,
}

impl FieldType {
    pub fn name(self) -> &'static str {
        match self {
            FieldType::String => "string",
            FieldType::Bytes => "bytes",
            FieldType::Int => "int",
            FieldType::Uint => "uint",
            FieldType::Bool => "bool",
            FieldType::IpAddr => "ip address",
            FieldType::IpNet => "ip network",
            FieldType::Port => "port",
            FieldType::Duration => "duration (ns)",
            FieldType::Timestamp => "timestamp (ns)",
            FieldType::Dynamic => "dynamic",
        }
    }

    pub fn is_numeric(self) -> bool {
        matches!(
            self,
            FieldType::Int | FieldType::Uint | FieldType::Port | FieldType::Duration | FieldType::Timestamp
        )
    }

    pub fn is_textual(self) -> bool {
        matches!(self, FieldType::String | FieldType::Bytes | FieldType::Dynamic)
    }

    /// How an error message names the kind of the type.
    pub(crate) fn kind_phrase(self) -> &'static str {
        match self {
            FieldType::String | FieldType::Bytes => "a string",
            FieldType::Int | FieldType::Uint | FieldType::Duration | FieldType::Timestamp => "a number",
            FieldType::Port => "a port number",
            FieldType::Bool => "a boolean",
            FieldType::IpAddr => "an IP address",
            FieldType::IpNet => "an IP network",
            FieldType::Dynamic => "a dynamically typed value",
        }
    }
}

/// Whether and how a field takes an argument.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ArgSpec {
    /// No argument.
    None,
    /// `field[N]`, optional: without it the field covers all elements (e.g. all ancestors).
    OptionalIndex,
    /// `field[NAME]`, required.
    Name,
    /// `field[NAME]`, optional.
    OptionalName,
    /// `field.NAME`, `field[NAME]` or `field[N]`, required (`evt.arg.flags`, `evt.arg[0]`).
    NameOrIndex,
}

impl ArgSpec {
    pub fn describe(self) -> &'static str {
        match self {
            ArgSpec::None => "",
            ArgSpec::OptionalIndex => "[N] optional",
            ArgSpec::Name => "[NAME] required",
            ArgSpec::OptionalName => "[NAME] optional",
            ArgSpec::NameOrIndex => ".NAME or [N] required",
        }
    }
}

/// How a field with several values (ancestors, both ends of a socket, a list)
/// is compared. The host may return [`crate::Value::List`] for any of them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Multi {
    /// A single value.
    One,
    /// Several values (e.g. `proc.aname` without index: every ancestor); a
    /// comparison holds if it holds for any of them, as in Falco.
    Any,
    /// Either end of a connection (`fd.ip`, `fd.port`, `fd.net`): `=`/`in` hold
    /// if one end matches, `!=` holds if no end matches.
    Either,
    /// A real list (`fd.types`): `in` holds if every element is in the set,
    /// `intersects` if any is.
    List,
}

/// One catalogue entry.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct FieldDef {
    #[serde(skip)]
    pub field: Field,
    pub name: &'static str,
    #[serde(rename = "type")]
    pub ty: FieldType,
    pub arg: ArgSpec,
    pub multi: Multi,
    /// Whether Vigil's sensor populates this field.
    pub available: bool,
    pub description: &'static str,
}

macro_rules! catalogue {
    ($( $variant:ident = $name:literal, $ty:ident, $arg:ident, $multi:ident, $avail:literal, $desc:literal; )*) => {
        /// Identifies a catalogue field. The host's `EventSource::field`
        /// matches on this. Order and numbering are not stable across versions.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u16)]
        #[non_exhaustive]
        pub enum Field { $( $variant, )* }

        static FIELDS: &[FieldDef] = &[
            $( FieldDef {
                field: Field::$variant,
                name: $name,
                ty: FieldType::$ty,
                arg: ArgSpec::$arg,
                multi: Multi::$multi,
                available: $avail,
                description: $desc,
            }, )*
        ];
    };
}

catalogue! {
    // ---- event ----------------------------------------------------------
    EvtType = "evt.type", String, None, One, true, "Name of the event (system call), e.g. `open`, `execve`, `connect`. Rules are indexed by the values they compare it with.";
    EvtDir = "evt.dir", String, None, One, true, "Event direction: `>` for enter, `<` for exit. Vigil reports completed calls only, so this is always `<` (deprecated in Falco).";
    EvtNum = "evt.num", Uint, None, One, true, "Sequence number of the event, incremented for every event the agent sees.";
    EvtTime = "evt.time", String, None, One, true, "Event time as a time of day with nanoseconds (`12:34:56.123456789`).";
    EvtTimeS = "evt.time.s", String, None, One, true, "Event time as a time of day without the fractional part.";
    EvtTimeIso8601 = "evt.time.iso8601", String, None, One, true, "Event time in ISO 8601 format, UTC, with nanoseconds.";
    EvtDatetime = "evt.datetime", String, None, One, true, "Event date and time with nanoseconds.";
    EvtDatetimeS = "evt.datetime.s", String, None, One, true, "Event date and time without the fractional part.";
    EvtRawtime = "evt.rawtime", Timestamp, None, One, true, "Event time in nanoseconds since the epoch.";
    EvtRawtimeS = "evt.rawtime.s", Timestamp, None, One, true, "Whole seconds part of the event time since the epoch.";
    EvtRawtimeNs = "evt.rawtime.ns", Timestamp, None, One, true, "Nanoseconds part of the event time.";
    EvtReltime = "evt.reltime", Duration, None, One, true, "Nanoseconds since the agent (or the replayed capture) started.";
    EvtRes = "evt.res", String, None, One, true, "Result of the call as text: `SUCCESS`, or the errno name such as `ENOENT` or `EACCES`.";
    EvtRawres = "evt.rawres", Int, None, One, true, "Result of the call as a number (negative errno on failure, e.g. -2); use it for range comparisons.";
    EvtFailed = "evt.failed", Bool, None, One, true, "True if the call returned an error.";
    EvtIsOpenRead = "evt.is_open_read", Bool, None, One, true, "True for open/openat/openat2 calls that opened the path for reading.";
    EvtIsOpenWrite = "evt.is_open_write", Bool, None, One, true, "True for open/openat/openat2 calls that opened the path for writing.";
    EvtIsOpenExec = "evt.is_open_exec", Bool, None, One, true, "True for open/openat/openat2/creat calls that created a file with an execute permission bit set.";
    EvtIsOpenCreate = "evt.is_open_create", Bool, None, One, true, "True for open/openat/openat2 calls that created the file (the kernel's FMODE_CREATED: opening an existing file with O_CREAT is false).";
    EvtIsIoUring = "evt.is_io_uring", Bool, None, One, true, "True when the operation was submitted through an io_uring (IORING_OP_OPENAT, IORING_OP_CONNECT) rather than made as a syscall; `evt.type` names the syscall it stands for.";
    EvtArg = "evt.arg", String, NameOrIndex, One, true, "One argument of the call by name (`evt.arg.flags`, `evt.arg[path]`) or position (`evt.arg[0]`), as text; flags and modes are symbolic (`O_WRONLY|O_CREAT`, `S_IXUSR`).";
    EvtRawarg = "evt.rawarg", Dynamic, NameOrIndex, One, true, "One argument of the call by name or position, as its raw value (numbers stay numbers).";
    EvtArgs = "evt.args", String, None, One, true, "All arguments of the call in one string (`name=value name=value`).";
    EvtInfo = "evt.info", String, None, One, true, "Same as `evt.args`.";
    EvtBuffer = "evt.buffer", Bytes, None, One, false, "Data buffer of I/O calls (read, recvfrom, ...); match it with `bcontains`/`bstartswith` and hex. Not captured by Vigil.";
    EvtBuflen = "evt.buflen", Uint, None, One, false, "Length of the I/O data buffer. Not captured by Vigil.";
    EvtCategory = "evt.category", String, None, One, true, "Event category: `file`, `process`, `net`, ...";
    EvtCpu = "evt.cpu", Int, None, One, false, "CPU the event happened on.";
    EvtHostname = "evt.hostname", String, None, One, true, "Host name of the machine the agent runs on.";
    EvtSource = "evt.source", String, None, One, true, "Source of the event; `syscall` for everything Vigil reports.";
    EvtIsAsync = "evt.is_async", Bool, None, One, true, "True for events not caused by a system call of the process (e.g. process exit notices).";
    EvtAbspath = "evt.abspath", String, NameOrIndex, One, true, "Absolute path computed from the directory fd and the path argument (`evt.abspath`, `evt.abspath.src`, `evt.abspath.dst`).";
    SyscallType = "syscall.type", String, None, One, true, "Name of the system call, unset for non-syscall events.";

    // ---- file system paths ---------------------------------------------------
    FsPathName = "fs.path.name", String, None, One, true, "For any call that operates on a path: the resolved absolute path.";
    FsPathNameraw = "fs.path.nameraw", String, None, One, true, "For any call that operates on a path: the path exactly as passed to the call.";
    FsPathSource = "fs.path.source", String, None, One, true, "For calls with a source and a target (rename, link, ...): the resolved source path.";
    FsPathSourceraw = "fs.path.sourceraw", String, None, One, true, "For calls with a source and a target: the source path as passed to the call.";
    FsPathTarget = "fs.path.target", String, None, One, true, "For calls with a source and a target: the resolved target path.";
    FsPathTargetraw = "fs.path.targetraw", String, None, One, true, "For calls with a source and a target: the target path as passed to the call.";

    // ---- process -------------------------------------------------------------
    ProcPid = "proc.pid", Int, None, One, true, "Process id (thread group id) of the process that caused the event.";
    ProcPpid = "proc.ppid", Int, None, One, true, "Process id of the parent process.";
    ProcVpid = "proc.vpid", Int, None, One, true, "Process id as seen inside its own PID namespace (1 for a container's init).";
    ProcPvpid = "proc.pvpid", Int, None, One, true, "Parent's process id as seen inside its PID namespace.";
    ProcApid = "proc.apid", Int, OptionalIndex, Any, true, "Process id of an ancestor: `proc.apid[1]` is the parent, `[2]` the grandparent; without index, any ancestor.";
    ProcSid = "proc.sid", Int, None, One, true, "Session id of the process.";
    ProcSname = "proc.sname", String, None, One, true, "Name of the session leader (the process whose pid is `proc.sid`, or the eldest ancestor in the same session).";
    ProcSidExe = "proc.sid.exe", String, None, One, true, "argv[0] of the session leader.";
    ProcSidExepath = "proc.sid.exepath", String, None, One, true, "Full executable path of the session leader.";
    ProcIsSidLeader = "proc.is_sid_leader", Bool, None, One, true, "True if the process is its session's leader.";
    ProcVpgid = "proc.vpgid", Int, None, One, false, "Process group id as seen inside the PID namespace. Not collected by Vigil.";
    ProcVpgidName = "proc.vpgid.name", String, None, One, false, "Name of the process group leader. Not collected by Vigil.";
    ProcVpgidExe = "proc.vpgid.exe", String, None, One, false, "argv[0] of the process group leader. Not collected by Vigil.";
    ProcVpgidExepath = "proc.vpgid.exepath", String, None, One, false, "Executable path of the process group leader. Not collected by Vigil.";
    ProcIsVpgidLeader = "proc.is_vpgid_leader", Bool, None, One, false, "True if the process leads its process group (was started directly from a shell prompt rather than by a script). Not collected by Vigil.";
    ProcPgid = "proc.pgid", Int, None, One, false, "Process group id in the host PID namespace. Not collected by Vigil.";
    ProcIsPgidLeader = "proc.is_pgid_leader", Bool, None, One, false, "True if the process leads its process group. Not collected by Vigil.";
    ProcName = "proc.name", String, None, One, true, "Process name (the kernel's `comm`, at most 15 characters), e.g. `bash`.";
    ProcPname = "proc.pname", String, None, One, true, "Name (`comm`) of the parent process.";
    ProcAname = "proc.aname", String, OptionalIndex, Any, true, "Name of an ancestor: `proc.aname[0]` is the process itself, `[1]` the parent, `[2]` the grandparent; without index, matches if any ancestor matches.";
    ProcExe = "proc.exe", String, None, One, true, "argv[0] of the process as it was executed (may be relative or chosen by the caller).";
    ProcPexe = "proc.pexe", String, None, One, true, "argv[0] of the parent process.";
    ProcAexe = "proc.aexe", String, OptionalIndex, Any, true, "argv[0] of an ancestor (`[1]` parent, ...); without index, any ancestor.";
    ProcExepath = "proc.exepath", String, None, One, true, "Full path of the executable file, symlinks resolved, as the kernel saw it at exec time.";
    ProcPexepath = "proc.pexepath", String, None, One, true, "Full executable path of the parent process.";
    ProcAexepath = "proc.aexepath", String, OptionalIndex, Any, true, "Full executable path of an ancestor (`[1]` parent, ...); without index, any ancestor.";
    ProcCmdline = "proc.cmdline", String, None, One, true, "Process name followed by its arguments (`proc.name proc.args`), truncated at 4096 bytes.";
    ProcPcmdline = "proc.pcmdline", String, None, One, true, "Command line (`name args`) of the parent process.";
    ProcAcmdline = "proc.acmdline", String, OptionalIndex, Any, true, "Command line of an ancestor (`[1]` parent, ...); without index, any ancestor.";
    ProcArgs = "proc.args", String, OptionalIndex, One, true, "Command-line arguments without argv[0], joined by spaces; `proc.args[N]` is the N-th argument.";
    ProcCmdnargs = "proc.cmdnargs", Uint, None, One, true, "Number of command-line arguments (without argv[0]).";
    ProcCmdlenargs = "proc.cmdlenargs", Uint, None, One, true, "Total length of the command-line arguments, without separators.";
    ProcExeline = "proc.exeline", String, None, One, true, "argv[0] followed by the arguments (`proc.exe proc.args`).";
    ProcEnv = "proc.env", String, OptionalName, Any, true, "Environment of the process; without argument matches if any `NAME=value` entry matches, `proc.env[NAME]` is the value of one variable.";
    ProcCwd = "proc.cwd", String, None, One, true, "Current working directory of the process.";
    ProcTty = "proc.tty", Uint, None, One, true, "Controlling terminal device number; 0 when the process has no terminal.";
    ProcLoginshellid = "proc.loginshellid", Int, None, One, false, "Pid of the eldest shell among the ancestors. Not collected by Vigil.";
    ProcDuration = "proc.duration", Duration, None, One, true, "Nanoseconds since the process started.";
    ProcPpidDuration = "proc.ppid.duration", Duration, None, One, true, "Nanoseconds since the parent process started.";
    ProcPidTs = "proc.pid.ts", Timestamp, None, One, true, "Start time of the process, nanoseconds since the epoch.";
    ProcPpidTs = "proc.ppid.ts", Timestamp, None, One, true, "Start time of the parent process, nanoseconds since the epoch.";
    ProcIsExeWritable = "proc.is_exe_writable", Bool, None, One, false, "True if the executable is writable by the user that started the process. Not collected by Vigil.";
    ProcIsExeUpperLayer = "proc.is_exe_upper_layer", Bool, None, One, true, "True if the executable lives in the writable upper layer of an overlayfs, i.e. it was not part of the container image.";
    ProcIsExeLowerLayer = "proc.is_exe_lower_layer", Bool, None, One, false, "True if the executable lives in a lower (image) layer of an overlayfs. Not collected by Vigil.";
    ProcIsExeFromMemfd = "proc.is_exe_from_memfd", Bool, None, One, true, "True if the executable is an anonymous memfd_create() file (fileless execution).";
    ProcExeIno = "proc.exe_ino", Uint, None, One, true, "Inode number of the executable file.";
    ProcExeInoCtime = "proc.exe_ino.ctime", Timestamp, None, One, false, "Last status change time of the executable's inode. Not collected by Vigil.";
    ProcExeInoMtime = "proc.exe_ino.mtime", Timestamp, None, One, false, "Last modification time of the executable's inode. Not collected by Vigil.";
    ProcExeInoCtimeDurationProcStart = "proc.exe_ino.ctime_duration_proc_start", Duration, None, One, false, "Nanoseconds between the executable's last status change and the process start. Not collected by Vigil.";
    ProcExeInoCtimeDurationPidnsStart = "proc.exe_ino.ctime_duration_pidns_start", Duration, None, One, false, "Nanoseconds between the PID namespace start and the executable's last status change. Not collected by Vigil.";
    ProcPidnsInitStartTs = "proc.pidns_init_start_ts", Timestamp, None, One, false, "Start time of the process's PID namespace. Not collected by Vigil.";
    ProcStdinType = "proc.stdin.type", String, None, One, false, "fd type of stdin (`file`, `ipv4`, `pipe`, ...). Not collected by Vigil; see `proc.stdio_is_socket`.";
    ProcStdoutType = "proc.stdout.type", String, None, One, false, "fd type of stdout. Not collected by Vigil; see `proc.stdio_is_socket`.";
    ProcStderrType = "proc.stderr.type", String, None, One, false, "fd type of stderr. Not collected by Vigil; see `proc.stdio_is_socket`.";
    ProcStdinName = "proc.stdin.name", String, None, One, false, "Name of stdin. Not collected by Vigil.";
    ProcStdoutName = "proc.stdout.name", String, None, One, false, "Name of stdout. Not collected by Vigil.";
    ProcStderrName = "proc.stderr.name", String, None, One, false, "Name of stderr. Not collected by Vigil.";
    ProcStdioIsSocket = "proc.stdio_is_socket", Bool, None, One, true, "Vigil: true if stdin, stdout or stderr of the process is a network socket (checked at exec, updated when a socket is duplicated onto them): the reverse-shell shape.";
    ProcExeWrittenBy = "proc.exe_written_by", String, None, One, true, "Vigil: the name of the process that wrote or created the executable shortly before it ran (drop and execute, decided in the kernel); no value if it was not written recently.";
    ProcExeWriterPid = "proc.exe_writer_pid", Int, None, One, true, "Vigil: pid of the process that wrote the executable shortly before it ran.";
    ProcExeWriterUid = "proc.exe_writer_uid", Uint, None, One, true, "Vigil: uid of the process that wrote the executable shortly before it ran.";
    ProcExeWrittenAgo = "proc.exe_written_ago", Duration, None, One, true, "Vigil: nanoseconds between the write of the executable and its execution.";
    ProcExeDeleted = "proc.exe_deleted", Bool, None, One, true, "Vigil: true if the executable file was deleted after the process started (or was already unlinked).";
    ProcExeSameAsParent = "proc.exe_same_as_parent", Bool, None, One, true, "Vigil: true if the executable is the very file (device and inode) the parent runs: a program re-executing itself, as runc does through a sealed copy of its own binary.";
    ProcInterpreter = "proc.interpreter", String, None, One, true, "Vigil: for scripts run through a `#!` line, the interpreter path; empty otherwise.";
    ProcIsSecureexec = "proc.is_secureexec", Bool, None, One, true, "Vigil: true if the exec changed privileges (setuid/setgid/file capabilities), i.e. AT_SECURE was set.";

    // ---- thread --------------------------------------------------------------
    ThreadTid = "thread.tid", Int, None, One, true, "Id of the thread that caused the event.";
    ThreadVtid = "thread.vtid", Int, None, One, false, "Thread id as seen inside its PID namespace. Not collected by Vigil.";
    ThreadIsmain = "thread.ismain", Bool, None, One, true, "True if the thread is the process's main thread.";
    ThreadCapPermitted = "thread.cap_permitted", String, None, One, true, "Permitted capability set as names separated by spaces (`CAP_CHOWN CAP_SYS_ADMIN ...`).";
    ThreadCapEffective = "thread.cap_effective", String, None, One, true, "Effective capability set as names separated by spaces.";
    ThreadCapInheritable = "thread.cap_inheritable", String, None, One, false, "Inheritable capability set. Not collected by Vigil.";
    ThreadCgroups = "thread.cgroups", String, None, One, false, "All cgroups of the thread in one string. Not collected by Vigil.";
    ThreadCgroup = "thread.cgroup", String, NameOrIndex, One, false, "cgroup of the thread for one subsystem (`thread.cgroup.cpuacct`). Not collected by Vigil.";

    // ---- user and group ---------------------------------------------------
    UserUid = "user.uid", Uint, None, One, true, "User id of the process.";
    UserName = "user.name", String, None, One, true, "User name of the process (from the host's user database).";
    UserHomedir = "user.homedir", String, None, One, true, "Home directory of the user.";
    UserShell = "user.shell", String, None, One, true, "Login shell of the user.";
    UserLoginuid = "user.loginuid", Int, None, One, true, "Audit login user id (who logged in, kept across sudo/su); -1 when unset.";
    UserLoginname = "user.loginname", String, None, One, true, "User name of the audit login user id.";
    GroupGid = "group.gid", Uint, None, One, true, "Group id of the process.";
    GroupName = "group.name", String, None, One, true, "Group name of the process.";

    // ---- file descriptors ------------------------------------------------
    FdNum = "fd.num", Int, None, One, true, "File descriptor number the call used or returned; -1 if the call failed.";
    FdType = "fd.type", String, None, One, true, "Kind of file descriptor: `file`, `directory`, `ipv4`, `ipv6`, `unix`, `pipe`, `event`, `signalfd`, `eventpoll`, `inotify`, `memfd`.";
    FdTypechar = "fd.typechar", String, None, One, true, "Kind of file descriptor as one character: `f` file, `d` directory, `4` IPv4, `6` IPv6, `u` unix socket, `p` pipe, ...";
    FdName = "fd.name", String, None, One, true, "Full name of the file descriptor: the absolute path for files, the connection tuple for sockets.";
    FdNameraw = "fd.nameraw", String, None, One, true, "Path as passed to the call, without resolving it to an absolute path.";
    FdDirectory = "fd.directory", String, None, One, true, "Directory part of `fd.name` for files (no trailing slash).";
    FdFilename = "fd.filename", String, None, One, true, "File name part of `fd.name` for files (no directory).";
    FdIno = "fd.ino", Uint, None, One, true, "Inode number of the file.";
    FdDev = "fd.dev", Uint, None, One, true, "Device number of the file system holding the file.";
    FdIsUpperLayer = "fd.is_upper_layer", Bool, None, One, false, "True if the file is in the upper (writable) layer of an overlayfs. Not collected by Vigil for files yet (`proc.is_exe_upper_layer` is, for executables).";
    FdTypes = "fd.types", String, OptionalIndex, List, false, "Types of all open file descriptors of the process (`fd.types[0]` for one fd). Not collected by Vigil.";
    FdIp = "fd.ip", IpAddr, None, Either, true, "Matches the client or the server IP address of the socket (filter only).";
    FdCip = "fd.cip", IpAddr, None, One, true, "Client IP address of the socket.";
    FdSip = "fd.sip", IpAddr, None, One, true, "Server IP address of the socket.";
    FdLip = "fd.lip", IpAddr, None, One, true, "Local IP address of the socket.";
    FdRip = "fd.rip", IpAddr, None, One, true, "Remote IP address of the socket.";
    FdPort = "fd.port", Port, None, Either, true, "Matches the client or the server port of the socket (filter only).";
    FdCport = "fd.cport", Port, None, One, true, "Client port of a TCP/UDP socket.";
    FdSport = "fd.sport", Port, None, One, true, "Server port of a TCP/UDP socket.";
    FdLport = "fd.lport", Port, None, One, true, "Local port of a TCP/UDP socket.";
    FdRport = "fd.rport", Port, None, One, true, "Remote port of a TCP/UDP socket.";
    FdNet = "fd.net", IpNet, None, Either, true, "Matches if the client or the server IP is in the given network (`fd.net = \"10.0.0.0/8\"`).";
    FdCnet = "fd.cnet", IpNet, None, One, true, "Matches if the client IP is in the given network.";
    FdSnet = "fd.snet", IpNet, None, One, true, "Matches if the server IP is in the given network.";
    FdLnet = "fd.lnet", IpNet, None, One, true, "Matches if the local IP is in the given network.";
    FdRnet = "fd.rnet", IpNet, None, One, true, "Matches if the remote IP is in the given network.";
    FdL4proto = "fd.l4proto", String, None, One, true, "Transport protocol of the socket: `tcp`, `udp`, `icmp` or `raw`.";
    FdSockfamily = "fd.sockfamily", String, None, One, true, "Socket family: `ip` or `unix`.";
    FdIsServer = "fd.is_server", Bool, None, One, true, "True if the process is the server end of the connection.";
    FdConnected = "fd.connected", Bool, None, One, true, "True if the TCP/UDP socket is connected.";
    FdNameChanged = "fd.name_changed", Bool, None, One, true, "True when the event changed the fd's name (e.g. the tuple of an unconnected UDP socket).";
    FdCipName = "fd.cip.name", String, None, One, false, "Domain name the client IP was resolved from.";
    FdSipName = "fd.sip.name", String, None, One, true, "Domain name the server IP was resolved from.";
    FdLipName = "fd.lip.name", String, None, One, false, "Domain name the local IP was resolved from.";
    FdRipName = "fd.rip.name", String, None, One, true, "Domain name the remote IP was resolved from.";
    FdDnsNames = "fd.dns_names", String, None, Any, true, "Vigil: every domain name that resolved to the remote IP of the socket, as seen in the host's DNS traffic; matches if any matches.";
    DnsQname = "dns.qname", String, None, One, true, "Vigil: the name asked in a DNS query or answer seen on the wire (evt.type dns_query / dns_response).";
    DnsQtype = "dns.qtype", String, None, One, true, "Vigil: the DNS record type asked: A, AAAA, CNAME, TXT, MX, ... or TYPEnnn.";
    DnsRcode = "dns.rcode", String, None, One, true, "Vigil: the response code of a DNS answer: NOERROR, NXDOMAIN, SERVFAIL, ...";
    DnsMalformed = "dns.malformed", Bool, None, One, true, "Vigil: true if the DNS message could not be parsed completely (truncated, pointer loop, bad label, name too long).";
    DnsQnameSuffixes = "dns.qname_suffixes", String, None, Any, true, "Vigil: the asked name and every parent domain of it (`a.b.example.com`, `b.example.com`, `example.com`, `com`): `intersects (list_of_domains)` matches a name under any listed domain.";
    DnsLongestLabelLen = "dns.longest_label_len", Uint, None, One, true, "Vigil: length of the longest label of the asked name (DNS tunnels pack data into long labels).";
    DnsEntropy = "dns.entropy", Uint, None, One, true, "Vigil: Shannon entropy of the longest label, in thousandths of a bit per character (random-looking labels score above ~3800).";
    DnsProcTxtQueries = "dns.proc_txt_queries_60s", Uint, None, One, true, "Vigil: TXT queries sent by this process in the last 60 s of event time, this one included (TXT floods carry tunnels).";
    FdDnsSuffixes = "fd.dns_suffixes", String, None, Any, true, "Vigil: every DNS name the remote address was resolved from, and every parent domain of each: `intersects (list)` matches a connection to any listed domain.";
    FdIsRunningExe = "fd.is_running_exe", Bool, None, One, true, "Vigil: true if the file removed or renamed is the executable of the acting process or one of its ancestors (a self-deleting binary), decided in the kernel.";
    TargetPid = "target.pid", Int, None, One, true, "Vigil: the process a syscall acts on (ptrace, kill, tkill, tgkill, process_vm_readv/writev).";
    TargetName = "target.name", String, None, One, true, "Vigil: the name of the process a syscall acts on, when the kernel knows it.";
    TargetIsVigil = "target.is_vigil", Bool, None, One, true, "Vigil: true if a syscall (a signal, ptrace) targets the Vigil agent itself.";
    DetectionKind = "detection.kind", String, None, One, true, "Vigil: which in-kernel burst detector fired: port_scan, file_storm, discovery_burst, fingerprint_burst, copy_delete_burst, syn_scan (XDP, no process) (also the event type).";
    DetectionCount = "detection.count", Uint, None, One, true, "Vigil: distinct items (targets, files, commands) counted in the window when the threshold was crossed.";
    DetectionThreshold = "detection.threshold", Uint, None, One, true, "Vigil: the detector's threshold of distinct items.";
    DetectionWindow = "detection.window", Duration, None, One, true, "Vigil: the detector's window, nanoseconds.";
    DetectionSample = "detection.sample", String, None, One, true, "Vigil: the item that crossed the threshold: `addr:port` for scans, a path, or a command.";

    // ---- containers (Falco container plugin) -------------------------------
    ContainerId = "container.id", String, None, One, true, "Short (12 character) container id, or `host` for processes outside containers. From the cgroup the kernel reports with every event.";
    ContainerFullId = "container.full_id", String, None, One, true, "Full (64 character) container id, or `host`.";
    ContainerName = "container.name", String, None, One, true, "Container name, from the runtime (docker, podman).";
    ContainerImage = "container.image", String, None, One, true, "Container image as the container was created from (`nginx:1.25`), from the runtime.";
    ContainerImageId = "container.image.id", String, None, One, true, "Container image id (`sha256:...`), from the runtime.";
    ContainerImageRepository = "container.image.repository", String, None, One, true, "Container image repository (`docker.io/library/nginx`), from the runtime.";
    ContainerImageTag = "container.image.tag", String, None, One, true, "Container image tag (empty when the image was named without one).";
    ContainerImageDigest = "container.image.digest", String, None, One, true, "Container image digest, when the runtime knows it.";
    ContainerType = "container.type", String, None, One, true, "Container runtime (`docker`, `podman`, `containerd`, `cri-o`, or `cri` for a pod's container whose runtime the cgroup does not tell).";
    ContainerPrivileged = "container.privileged", Bool, None, One, true, "True if the container runs privileged.";
    ContainerMounts = "container.mounts", String, None, List, true, "All mounts of the container (`source:dest:mode:rdwr:propagation`).";
    ContainerMount = "container.mount", String, Name, One, false, "One mount, by index or destination glob (`container.mount[/etc*]`). Not collected by Vigil.";
    ContainerMountSource = "container.mount.source", String, Name, One, true, "Source of the mount whose destination matches the argument (exact, or a prefix ending in `*`).";
    ContainerMountDest = "container.mount.dest", String, Name, One, true, "Destination of the mount whose source matches the argument (`container.mount.dest[/var/run/docker.sock]`).";
    ContainerMountMode = "container.mount.mode", String, Name, One, false, "Mode of a mount. Not collected by Vigil.";
    ContainerMountRdwr = "container.mount.rdwr", String, Name, One, false, "Whether a mount is read-write. Not collected by Vigil.";
    ContainerMountPropagation = "container.mount.propagation", String, Name, One, false, "Propagation of a mount. Not collected by Vigil.";
    ContainerStartTs = "container.start_ts", Timestamp, None, One, true, "Container start time, nanoseconds since the epoch.";
    ContainerDuration = "container.duration", Duration, None, One, true, "Nanoseconds since the container started.";
    ContainerIp = "container.ip", IpAddr, None, One, true, "Container's main IP address (bridge networks).";
    ContainerCniJson = "container.cni.json", String, None, One, false, "Container CNI result as JSON. Not collected by Vigil.";
    ContainerHostPid = "container.host_pid", Bool, None, One, true, "True if the container shares the host PID namespace.";
    ContainerHostNetwork = "container.host_network", Bool, None, One, true, "True if the container shares the host network namespace.";
    ContainerHostIpc = "container.host_ipc", Bool, None, One, true, "True if the container shares the host IPC namespace.";
    ContainerUser = "container.user", String, None, One, true, "User the container was started as (empty: the image's default).";
    ContainerLabel = "container.label", String, Name, One, true, "One container label (`container.label[app]`).";
    ContainerLabels = "container.labels", String, None, One, true, "All container labels (`k:v, k:v`).";

    // ---- Kubernetes (container / k8smeta plugins) ----------------------------
    K8sNsName = "k8s.ns.name", String, None, One, true, "Kubernetes namespace of the pod (from the kubelet's `io.kubernetes.pod.namespace` label).";
    K8sPodName = "k8s.pod.name", String, None, One, true, "Kubernetes pod name (from the kubelet's `io.kubernetes.pod.name` label).";
    K8sPodId = "k8s.pod.id", String, None, One, true, "Kubernetes pod UID (legacy name).";
    K8sPodUid = "k8s.pod.uid", String, None, One, true, "Kubernetes pod UID (the kubelet's label, or the pod's cgroup).";
    K8sPodLabel = "k8s.pod.label", String, Name, One, true, "One pod label (`k8s.pod.label[app]`).";
    K8sPodLabels = "k8s.pod.labels", String, None, One, true, "All pod labels (`k:v, k:v`).";
    K8sPodIp = "k8s.pod.ip", IpAddr, None, One, false, "Pod IP address. Not collected by Vigil.";
    K8sPodCniJson = "k8s.pod.cni.json", String, None, One, false, "Pod CNI result as JSON. Not collected by Vigil.";
    K8sPodSandboxId = "k8s.pod.sandbox_id", String, None, One, true, "Short id of the pod sandbox.";
    K8sPodFullSandboxId = "k8s.pod.full_sandbox_id", String, None, One, true, "Full id of the pod sandbox.";
}

impl Field {
    /// The catalogue entry of this field.
    pub fn def(self) -> &'static FieldDef {
        &FIELDS[self as usize]
    }

    pub fn name(self) -> &'static str {
        self.def().name
    }

    /// Looks a field up by its exact catalogue name.
    pub fn from_name(name: &str) -> Option<Field> {
        index().get(name).copied()
    }
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

fn index() -> &'static HashMap<&'static str, Field> {
    static INDEX: OnceLock<HashMap<&'static str, Field>> = OnceLock::new();
    INDEX.get_or_init(|| FIELDS.iter().map(|d| (d.name, d.field)).collect())
}

/// The whole catalogue, in display order.
pub fn catalogue() -> &'static [FieldDef] {
    FIELDS
}

/// Argument of a field reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(untagged)]
pub enum FieldArg {
    None,
    /// `[N]`: an index (ancestor level, argument position, ...).
    Index(u32),
    /// `.NAME` or `[NAME]`.
    Name(Box<str>),
}

/// A resolved field reference: which field, with which argument. This is what
/// the host receives in `EventSource::field`.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct FieldRef {
    pub field: Field,
    pub arg: FieldArg,
}

impl FieldRef {
    pub fn new(field: Field) -> Self {
        FieldRef {
            field,
            arg: FieldArg::None,
        }
    }

    pub fn with_index(field: Field, i: u32) -> Self {
        FieldRef {
            field,
            arg: FieldArg::Index(i),
        }
    }

    pub fn with_name(field: Field, name: &str) -> Self {
        FieldRef {
            field,
            arg: FieldArg::Name(name.into()),
        }
    }

    pub fn def(&self) -> &'static FieldDef {
        self.field.def()
    }

    /// Whether this reference yields several values (ancestors without index,
    /// either socket end, a list field without index).
    pub fn multi(&self) -> Multi {
        match (&self.arg, self.def().multi) {
            (FieldArg::None, m) => m,
            (_, Multi::Either) => Multi::Either,
            _ => Multi::One,
        }
    }
}

impl fmt::Display for FieldRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = self.field.name();
        match &self.arg {
            FieldArg::None => f.write_str(name),
            FieldArg::Index(i) => write!(f, "{name}[{i}]"),
            FieldArg::Name(n) if self.def().arg == ArgSpec::NameOrIndex && is_simple_name(n) => {
                write!(f, "{name}.{n}")
            }
            FieldArg::Name(n) => write!(f, "{name}[{n}]"),
        }
    }
}

fn is_simple_name(s: &str) -> bool {
    !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Serialize for FieldRef {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// Why a field name did not resolve.
#[derive(Debug)]
pub(crate) enum ResolveError {
    Unknown { suggestion: Option<&'static str> },
    NoArgAllowed(Field),
    ArgRequired(Field),
    BadIndex(Field),
}

/// Resolves a dotted name plus optional `[arg]` as written in a condition or
/// output (`evt.arg.flags`, `proc.aname` + `2`).
pub(crate) fn resolve(name: &str, bracket: Option<&str>) -> Result<FieldRef, ResolveError> {
    let (field, dotted) = match Field::from_name(name) {
        Some(f) => (f, None),
        None => match dotted_prefix(name) {
            Some((f, rest)) => (f, Some(rest)),
            None => {
                return Err(ResolveError::Unknown {
                    suggestion: crate::error::suggest(name, FIELDS.iter().map(|d| d.name)),
                })
            }
        },
    };
    let spec = field.def().arg;
    let arg = match (dotted, bracket) {
        (Some(_), Some(_)) => return Err(ResolveError::NoArgAllowed(field)),
        (Some(d), None) => FieldArg::Name(d.into()),
        (None, Some(b)) => match spec {
            ArgSpec::None => return Err(ResolveError::NoArgAllowed(field)),
            ArgSpec::OptionalIndex => match b.trim().parse::<u32>() {
                Ok(i) => FieldArg::Index(i),
                Err(_) => return Err(ResolveError::BadIndex(field)),
            },
            ArgSpec::NameOrIndex => match b.trim().parse::<u32>() {
                Ok(i) => FieldArg::Index(i),
                Err(_) => FieldArg::Name(b.into()),
            },
            ArgSpec::Name | ArgSpec::OptionalName => FieldArg::Name(b.into()),
        },
        (None, None) => match spec {
            ArgSpec::Name | ArgSpec::NameOrIndex => return Err(ResolveError::ArgRequired(field)),
            _ => FieldArg::None,
        },
    };
    Ok(FieldRef { field, arg })
}

/// For fields whose argument may follow a dot (`evt.arg.flags`), splits the
/// name into the field and the argument.
fn dotted_prefix(name: &str) -> Option<(Field, &str)> {
    let mut end = name.len();
    while let Some(dot) = name[..end].rfind('.') {
        if let Some(f) = Field::from_name(&name[..dot]) {
            if f.def().arg == ArgSpec::NameOrIndex {
                return Some((f, &name[dot + 1..]));
            }
            return None;
        }
        end = dot;
    }
    None
}

/// Longest catalogue field that prefixes `name` at a segment boundary, with
/// the length consumed. Output strings use this: `%proc.name.` stops at
/// `proc.name`, as Falco's formatter does.
pub(crate) fn longest_prefix(name: &str) -> Option<(Field, usize)> {
    let mut end = name.len();
    loop {
        if let Some(f) = Field::from_name(&name[..end]) {
            return Some((f, end));
        }
        match name[..end].rfind('.') {
            Some(dot) => end = dot,
            None => return None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_consistent() {
        for (i, d) in FIELDS.iter().enumerate() {
            assert_eq!(d.field as usize, i);
            assert!(!d.description.is_empty());
            assert_eq!(Field::from_name(d.name), Some(d.field), "duplicate {}", d.name);
        }
    }

    #[test]
    fn resolves_arguments() {
        let r = resolve("evt.arg.flags", None).ok().unwrap();
        assert_eq!(r.arg, FieldArg::Name("flags".into()));
        assert_eq!(r.to_string(), "evt.arg.flags");
        let r = resolve("evt.arg", Some("0")).ok().unwrap();
        assert_eq!(r.arg, FieldArg::Index(0));
        let r = resolve("proc.aname", Some("2")).ok().unwrap();
        assert_eq!(r.to_string(), "proc.aname[2]");
        assert!(matches!(
            resolve("proc.name", Some("1")),
            Err(ResolveError::NoArgAllowed(_))
        ));
        assert!(matches!(resolve("evt.arg", None), Err(ResolveError::ArgRequired(_))));
        assert!(matches!(
            resolve("proc.aname", Some("x")),
            Err(ResolveError::BadIndex(_))
        ));
        match resolve("proc.nmae", None) {
            Err(ResolveError::Unknown { suggestion }) => assert_eq!(suggestion, Some("proc.name")),
            _ => panic!(),
        }
        assert!(resolve("proc.name.x", None).is_err());
    }
}
