//! What this kernel supports, found by trying: each program type is probed by loading
//! a two-instruction program of that type (attached to a real kernel function where
//! the type needs one). This is how we learn, for instance, that fentry and LSM
//! programs are refused on a kernel whose headers say they exist.

use std::ffi::CString;
use std::path::Path;

use libbpf_rs::libbpf_sys as sys;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    /// Vigil needs it (a failure is an error), rather than using it when present.
    pub required: bool,
}

fn check(name: &'static str, required: bool, result: Result<String, String>) -> Check {
    match result {
        Ok(detail) => Check {
            name,
            ok: true,
            detail,
            required,
        },
        Err(detail) => Check {
            name,
            ok: false,
            detail,
            required,
        },
    }
}

/// The environment: privileges, BTF, pseudo-filesystems, LSMs.
pub fn environment() -> Vec<Check> {
    let mut out = Vec::new();
    let release = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    out.push(check("kernel", false, Ok(release.trim().to_string())));
    // SAFETY: geteuid has no preconditions.
    let root = unsafe { libc::geteuid() } == 0;
    out.push(check(
        "root",
        true,
        if root {
            Ok("running as uid 0".into())
        } else {
            Err("not root: loading eBPF needs CAP_BPF, CAP_PERFMON, CAP_SYS_ADMIN".into())
        },
    ));
    out.push(check(
        "BTF",
        true,
        if Path::new("/sys/kernel/btf/vmlinux").exists() {
            Ok("/sys/kernel/btf/vmlinux".into())
        } else {
            Err("no /sys/kernel/btf/vmlinux: CO-RE programs cannot load".into())
        },
    ));
    let lockdown = std::fs::read_to_string("/sys/kernel/security/lockdown").ok();
    out.push(check(
        "lockdown",
        false,
        Ok(lockdown
            .map(|l| l.trim().to_string())
            .unwrap_or_else(|| "unknown (securityfs not mounted)".into())),
    ));
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mounted = |fstype: &str| -> Option<String> {
        mounts.lines().find_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            (f.get(2) == Some(&fstype)).then(|| f.get(1).map(|s| s.to_string()).unwrap_or_default())
        })
    };
    for (name, fstype, why) in [
        (
            "tracefs",
            "tracefs",
            "only tp/ and kprobe hooks need it; vigil's tp_btf hooks do not",
        ),
        ("bpffs", "bpf", "only pinning needs it"),
        (
            "cgroup2",
            "cgroup2",
            "cgroup socket and skb hooks attach to a cgroup v2 directory",
        ),
    ] {
        out.push(check(
            name,
            false,
            mounted(fstype)
                .map(|m| format!("mounted at {m}"))
                .ok_or_else(|| format!("not mounted ({why})")),
        ));
    }
    let lsms = std::fs::read_to_string("/sys/kernel/security/lsm").ok();
    out.push(check(
        "bpf LSM active",
        false,
        match lsms {
            Some(l) if l.split(',').any(|x| x.trim() == "bpf") => Ok(l.trim().to_string()),
            Some(l) => Err(format!("not in the active LSM list ({})", l.trim())),
            None => Err("unknown (securityfs not mounted)".into()),
        },
    ));
    out
}

const EXIT_0: [sys::bpf_insn; 2] = [
    // r0 = 0
    sys::bpf_insn {
        code: 0xb7,
        _bitfield_align_1: [],
        _bitfield_1: sys::__BindgenBitfieldUnit::new([0]),
        off: 0,
        imm: 0,
    },
    // exit
    sys::bpf_insn {
        code: 0x95,
        _bitfield_align_1: [],
        _bitfield_1: sys::__BindgenBitfieldUnit::new([0]),
        off: 0,
        imm: 0,
    },
];

/// Loads a trivial program of a type, attached (for BTF-based types) to `btf_target`.
fn try_load(prog_type: sys::bpf_prog_type, attach: Option<(sys::bpf_attach_type, &str)>) -> Result<String, String> {
    // SAFETY: zeroed is a valid initial state for this plain C options struct.
    let mut opts: sys::bpf_prog_load_opts = unsafe { std::mem::zeroed() };
    opts.sz = std::mem::size_of::<sys::bpf_prog_load_opts>() as _;
    if let Some((attach_type, target)) = attach {
        let c = CString::new(target).map_err(|e| e.to_string())?;
        // SAFETY: c is a valid NUL-terminated string.
        let id = unsafe { sys::libbpf_find_vmlinux_btf_id(c.as_ptr(), attach_type) };
        if id < 0 {
            return Err(format!("{target} not found in kernel BTF"));
        }
        opts.expected_attach_type = attach_type;
        opts.attach_btf_id = id as u32;
    }
    let license = CString::new("GPL").map_err(|e| e.to_string())?;
    let name = CString::new("vigil_probe").map_err(|e| e.to_string())?;
    // SAFETY: all pointers are valid for the duration of the call; the fd is closed below.
    let fd = unsafe {
        sys::bpf_prog_load(
            prog_type,
            name.as_ptr(),
            license.as_ptr(),
            EXIT_0.as_ptr(),
            EXIT_0.len() as _,
            &mut opts,
        )
    };
    if fd < 0 {
        let err = std::io::Error::from_raw_os_error(-fd);
        return Err(format!("load refused: {err}"));
    }
    // SAFETY: fd was just returned by the kernel and is ours.
    unsafe { libc::close(fd) };
    Ok("loads".into())
}

fn probe_type(prog_type: sys::bpf_prog_type) -> Result<String, String> {
    // SAFETY: a NULL opts pointer is allowed.
    match unsafe { sys::libbpf_probe_bpf_prog_type(prog_type, std::ptr::null()) } {
        1 => Ok("supported".into()),
        0 => Err("not supported".into()),
        e => Err(format!("probe failed: {}", std::io::Error::from_raw_os_error(-e))),
    }
}

/// Does this kernel load BPF LSM programs (`deny` as -EPERM from a security hook)? Tried
/// for real: on kernels like ours the LSM is listed but programs are refused (EPERM).
pub fn lsm_programs_load() -> bool {
    try_load(sys::BPF_PROG_TYPE_LSM, Some((sys::BPF_LSM_MAC, "file_open"))).is_ok()
}

/// Program and map types Vigil uses or could use, each tried for real.
pub fn program_types() -> Vec<Check> {
    let kprobe_pmu = Path::new("/sys/bus/event_source/devices/kprobe/type").exists();
    vec![
        check(
            "tp_btf (BTF tracepoints)",
            true,
            try_load(
                sys::BPF_PROG_TYPE_TRACING,
                Some((sys::BPF_TRACE_RAW_TP, "sched_process_exec")),
            ),
        ),
        check("raw_tp", false, probe_type(sys::BPF_PROG_TYPE_RAW_TRACEPOINT)),
        check("tracepoint (tp/)", false, probe_type(sys::BPF_PROG_TYPE_TRACEPOINT)),
        check(
            "iter/task",
            false,
            try_load(sys::BPF_PROG_TYPE_TRACING, Some((sys::BPF_TRACE_ITER, "task"))),
        ),
        check("ring buffer", true, {
            // SAFETY: a NULL opts pointer is allowed.
            match unsafe { sys::libbpf_probe_bpf_map_type(sys::BPF_MAP_TYPE_RINGBUF, std::ptr::null()) } {
                1 => Ok("supported".into()),
                _ => Err("not supported (kernel < 5.8)".into()),
            }
        }),
        check("cgroup_skb", false, probe_type(sys::BPF_PROG_TYPE_CGROUP_SKB)),
        check(
            "cgroup sock_addr",
            false,
            probe_type(sys::BPF_PROG_TYPE_CGROUP_SOCK_ADDR),
        ),
        check("sockops", false, probe_type(sys::BPF_PROG_TYPE_SOCK_OPS)),
        check("tc (sched_cls)", false, probe_type(sys::BPF_PROG_TYPE_SCHED_CLS)),
        check("xdp", false, probe_type(sys::BPF_PROG_TYPE_XDP)),
        check(
            "fentry/fexit",
            false,
            try_load(sys::BPF_PROG_TYPE_TRACING, Some((sys::BPF_TRACE_FENTRY, "do_unlinkat"))),
        ),
        check(
            "BPF LSM",
            false,
            try_load(sys::BPF_PROG_TYPE_LSM, Some((sys::BPF_LSM_MAC, "file_open"))),
        ),
        check(
            "kprobe",
            false,
            if kprobe_pmu {
                probe_type(sys::BPF_PROG_TYPE_KPROBE)
            } else {
                Err("no kprobe PMU (kernel built without CONFIG_KPROBES)".into())
            },
        ),
    ]
}
