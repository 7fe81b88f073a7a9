//! Loading the BPF object, attaching every hook the kernel allows, and reporting
//! what could not be attached instead of giving up.

use std::collections::{BTreeMap, BTreeSet};
use std::io::Read;
use std::mem::MaybeUninit;
use std::sync::Mutex;

use libbpf_rs::skel::{OpenSkel, Skel, SkelBuilder};
use libbpf_rs::{Link, MapCore, MapFlags, OpenObject, PrintLevel};
use serde::Serialize;
use tracing::debug;
use vigil_event::abi::Hook;
use vigil_event::names::syscall_number;

use crate::error::SensorError;
use crate::filter::{CompiledMaps, KernelFilter};
use crate::hooks::{self, Attach, Group, Need, HOOKS};
use crate::skel::types::vigil_filter_cfg;
use crate::skel::{VigilSkel, VigilSkelBuilder};

/// How the sensor is set up. Defaults suit a typical host.
#[derive(Debug, Clone)]
pub struct SensorConfig {
    /// Ring buffer for process lifecycle records, bytes (rounded up to a power of two).
    pub ringbuf_proc_bytes: u32,
    /// Ring buffer for file and other records, bytes (rounded up to a power of two).
    pub ringbuf_events_bytes: u32,
    /// Entries of the in-kernel process table.
    pub proc_table_entries: u32,
    /// Our own tgid: the kernel side never reports it (its output would feed back).
    pub agent_tgid: u32,
    /// Programs not to load (by name), e.g. to run without file events.
    pub disabled_programs: BTreeSet<String>,
    /// UDP ports whose traffic is parsed as DNS (up to four).
    pub dns_ports: Vec<u16>,
    /// A long flow gets a FLOW_UPDATE this often.
    pub flow_update_ns: u64,
    /// A datagram flow idle this long is ended.
    pub udp_idle_ns: u64,
    /// Benchmark floor: every program attached but returning at once (no events at all).
    pub floor: bool,
    /// XDP: the interfaces to guard and the SYN-scan detector's settings.
    pub xdp: crate::policy::XdpConfig,
}

impl Default for SensorConfig {
    fn default() -> Self {
        Self {
            ringbuf_proc_bytes: 4 << 20,
            ringbuf_events_bytes: 16 << 20,
            proc_table_entries: 16384,
            agent_tgid: std::process::id(),
            disabled_programs: BTreeSet::new(),
            floor: false,
            dns_ports: vec![53],
            flow_update_ns: 30_000_000_000,
            udp_idle_ns: 60_000_000_000,
            xdp: crate::policy::XdpConfig::default(),
        }
    }
}

/// What happened to one program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "status", content = "reason", rename_all = "snake_case")]
pub enum HookStatus {
    Attached,
    /// Turned off on purpose (`--disable-program`).
    Disabled,
    /// Loaded, but nothing asked for it to be attached (XDP without `--xdp IFACE`).
    Unused,
    /// This kernel does not offer it: the program type or attach point is refused
    /// before any verification (EPERM, EOPNOTSUPP, or a missing attach target).
    Refused(String),
    /// What it probes is not installed on this host (a uprobe's binary).
    Absent(String),
    /// The kernel offers it but it failed: the verifier rejected it, or attaching did.
    LoadFailed(String),
    AttachFailed(String),
}

impl HookStatus {
    /// Missing for a reason that needs looking at (not off on purpose, not absent here).
    pub fn is_failure(&self) -> bool {
        matches!(self, HookStatus::LoadFailed(_) | HookStatus::AttachFailed(_))
    }

    /// Why it is not attached, for messages ("" when it is).
    pub fn reason(&self) -> &str {
        match self {
            HookStatus::Attached => "",
            HookStatus::Disabled => "disabled with --disable-program",
            HookStatus::Unused => "not asked for (XDP attaches to the interfaces --xdp names)",
            HookStatus::Refused(r)
            | HookStatus::Absent(r)
            | HookStatus::LoadFailed(r)
            | HookStatus::AttachFailed(r) => r,
        }
    }

    /// One word for the ready line and doctor: attached, disabled, refused, failed.
    pub fn word(&self) -> &'static str {
        match self {
            HookStatus::Attached => "attached",
            HookStatus::Disabled => "disabled",
            HookStatus::Unused => "unused",
            HookStatus::Refused(_) => "refused by this kernel",
            HookStatus::Absent(_) => "not installed here",
            HookStatus::LoadFailed(_) | HookStatus::AttachFailed(_) => "failed",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct HookReport {
    pub program: &'static str,
    pub group: &'static str,
    /// The agent cannot run without it.
    pub required: bool,
    pub attach: String,
    pub what: &'static str,
    #[serde(flatten)]
    pub status: HookStatus,
}

/// Everything the sensor knows about what it attached.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AttachReport {
    pub hooks: Vec<HookReport>,
    /// Processes the iterator added to the kernel table at start.
    pub seeded_processes: usize,
}

impl AttachReport {
    pub fn attached(&self) -> usize {
        self.hooks.iter().filter(|h| h.status == HookStatus::Attached).count()
    }

    /// Hooks that are not attached, for whatever reason (unused ones aside).
    pub fn missing(&self) -> impl Iterator<Item = &HookReport> {
        self.hooks.iter().filter(|h| {
            !matches!(
                h.status,
                HookStatus::Attached | HookStatus::Unused | HookStatus::Absent(_)
            )
        })
    }

    /// Required hooks that are not attached: the agent cannot run.
    pub fn missing_required(&self) -> impl Iterator<Item = &HookReport> {
        self.missing().filter(|h| h.required)
    }

    pub fn is_attached(&self, program: &str) -> bool {
        self.hooks
            .iter()
            .any(|h| h.program == program && h.status == HookStatus::Attached)
    }
}

/// The loaded, attached kernel side.
pub struct Sensor {
    pub(crate) skel: VigilSkel<'static>,
    /// The attached hooks; taken by [`Sensor::detach`].
    links: Mutex<Vec<Link>>,
    /// The idle-flow sweeper loaded, run by [`Sensor::sweep_flows`].
    sweeper: bool,
    pub report: AttachReport,
    /// Where the cgroup programs are attached, and whether we mounted it.
    pub cgroup2: Option<crate::mounts::Mount>,
    /// Tail handler of every syscall that has one (program fd), to switch them on and off.
    tail_fds: BTreeMap<&'static str, u32>,
    /// The syscalls whose handler is in the dispatcher's table, one bit each: the
    /// `watched_syscalls` map, which the dispatcher tests first.
    watched: Mutex<[u64; 8]>,
    /// The kernel filter in force and its generation.
    filter: Mutex<(KernelFilter, u32)>,
    /// The generation of the policies in force (bpf/include/policy.h).
    pub(crate) policy_gen: Mutex<u32>,
    /// Interfaces XDP is attached to.
    pub xdp_interfaces: Vec<String>,
    /// The uprobes, with what is needed to probe a replaced binary again.
    uprobes: Mutex<Vec<crate::uprobes::UprobeLink>>,
}

/// Where [`Sensor::run_dns_parser`]'s answers come from (TEST-NET-1, never on a real network).
pub const DNS_TEST_SERVER: std::net::Ipv4Addr = std::net::Ipv4Addr::new(192, 0, 2, 53);

/// libbpf's log, captured while loading so a failure can name the program and the reason.
static LIBBPF_LOG: Mutex<Vec<String>> = Mutex::new(Vec::new());

fn capture_libbpf_log(level: PrintLevel, msg: String) {
    if level == PrintLevel::Debug {
        return;
    }
    if let Ok(mut log) = LIBBPF_LOG.lock() {
        if log.len() < 20_000 {
            log.push(msg);
        }
    }
}

fn take_libbpf_log() -> Vec<String> {
    LIBBPF_LOG
        .lock()
        .map(|mut l| std::mem::take(&mut *l))
        .unwrap_or_default()
}

/// The program libbpf names in a failed load, and why: the verifier's last complaint
/// (the line before "processed N insns") when there is one, else libbpf's own line;
/// `Refused` when the kernel turned the program down before verifying it.
fn failing_program(log: &[String]) -> Option<(String, HookStatus)> {
    let text = log.concat();
    let lines: Vec<&str> = text.lines().collect();
    let name = lines.iter().find_map(|l| {
        let rest = l.strip_prefix("libbpf: prog '")?;
        let end = rest.find('\'')?;
        rest[end..].contains("fail").then(|| rest[..end].to_string())
    })?;
    let verifier = lines
        .iter()
        .position(|l| l.starts_with("processed ") && l.contains(" insns"))
        .and_then(|i| {
            lines[..i]
                .iter()
                .rev()
                .find(|l| !l.trim().is_empty() && !l.contains("max value is outside"))
        })
        .map(|l| l.trim().to_string());
    let libbpf = lines
        .iter()
        .rev()
        .find(|l| l.contains(&format!("prog '{name}'")) && l.contains("fail"))
        .map(|l| l.trim().trim_start_matches("libbpf: ").to_string())
        .unwrap_or_default();
    // EPERM and EOPNOTSUPP come before the verifier (a program type this kernel does
    // not allow); EINVAL without a verifier log is an unknown program type.
    let refused = ["-EPERM", "-EOPNOTSUPP", "-ENOTSUPP", "-524"]
        .iter()
        .any(|e| libbpf.contains(e))
        || (verifier.is_none() && libbpf.contains("-EINVAL"));
    let status = match verifier {
        Some(v) if !refused => HookStatus::LoadFailed(format!("{libbpf} (verifier: {v})")),
        _ if refused => HookStatus::Refused(libbpf),
        _ => HookStatus::LoadFailed(libbpf),
    };
    Some((name, status))
}

/// An attach error: a missing target or an unsupported attach type means this kernel
/// does not offer the hook.
fn attach_status(e: &libbpf_rs::Error) -> HookStatus {
    match e.kind() {
        libbpf_rs::ErrorKind::NotFound | libbpf_rs::ErrorKind::Unsupported | libbpf_rs::ErrorKind::PermissionDenied => {
            HookStatus::Refused(e.to_string())
        }
        _ => HookStatus::AttachFailed(e.to_string()),
    }
}

/// 64-bit FNV-1a, as bpf/include/detect.h computes path hashes.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = 0xcbf29ce484222325u64;
    for &b in bytes {
        h ^= b as u64;
        h = h.wrapping_mul(0x100000001b3);
    }
    h
}

fn pow2_at_least(bytes: u32, min: u32) -> u32 {
    bytes.max(min).checked_next_power_of_two().unwrap_or(1 << 31)
}

fn possible_cpus() -> u32 {
    libbpf_rs::num_possible_cpus().map(|n| n as u32).unwrap_or(1).max(1)
}

impl Sensor {
    /// Loads and attaches everything this kernel allows.
    ///
    /// A program the verifier or kernel rejects is disabled and the load retried, so one
    /// missing feature costs that hook only. The result says, per program, what happened.
    pub fn start(cfg: &SensorConfig) -> Result<Sensor, SensorError> {
        // SAFETY of the leak: the object storage must outlive the skeleton, which lives as
        // long as the Sensor; a Sensor is made a handful of times per process at most.
        check_privileges()?;
        let previous_print = libbpf_rs::set_print(Some((PrintLevel::Warn, capture_libbpf_log)));
        let mut disabled: BTreeMap<String, HookStatus> = cfg
            .disabled_programs
            .iter()
            .map(|p| (p.clone(), HookStatus::Disabled))
            .collect();

        let result = loop {
            take_libbpf_log();
            let storage: &'static mut MaybeUninit<OpenObject> = Box::leak(Box::new(MaybeUninit::uninit()));
            let mut open = VigilSkelBuilder::default()
                .open(storage)
                .map_err(|e| SensorError::Open(e.to_string()))?;

            if let Some(ro) = open.maps.rodata_data.as_deref_mut() {
                ro.cfg_agent_tgid = cfg.agent_tgid;
                ro.cfg_floor = u32::from(cfg.floor);
                ro.cfg_flow_update_ns = cfg.flow_update_ns;
                ro.cfg_udp_idle_ns = cfg.udp_idle_ns;
                ro.cfg_xdp_scan_ports = cfg.xdp.scan_ports;
                ro.cfg_xdp_scan_window_ns = cfg.xdp.scan_window_ns;
                ro.cfg_xdp_ban_ns = cfg.xdp.ban_ns;
                ro.cfg_xdp_scan_drop = u32::from(cfg.xdp.scan_drop);
                for (slot, port) in ro
                    .cfg_dns_ports
                    .iter_mut()
                    .zip(cfg.dns_ports.iter().chain(std::iter::repeat(&0)))
                {
                    *slot = *port;
                }
            }
            let m = &mut open.maps;
            m.rb_proc
                .set_max_entries(pow2_at_least(cfg.ringbuf_proc_bytes, 1 << 16))
                .map_err(open_err)?;
            m.rb_events
                .set_max_entries(pow2_at_least(cfg.ringbuf_events_bytes, 1 << 16))
                .map_err(open_err)?;
            m.proc_table
                .set_max_entries(cfg.proc_table_entries.max(1024))
                .map_err(open_err)?;
            m.record_scratch.set_max_entries(possible_cpus()).map_err(open_err)?;
            m.net_scratch.set_max_entries(possible_cpus() * 2).map_err(open_err)?;

            let off_groups: BTreeSet<Group> = disabled
                .keys()
                .filter_map(|n| hooks::spec(n))
                .filter(|s| s.need == Need::GroupGateway)
                .map(|s| s.group)
                .collect();
            for mut prog in open.open_object_mut().progs_mut() {
                let name = prog.name().to_string_lossy().into_owned();
                let spec = hooks::spec(&name);
                let off = disabled.contains_key(&name) || spec.is_some_and(|s| off_groups.contains(&s.group));
                prog.set_autoload(!off);
                // We attach each program ourselves, to report per hook.
                prog.set_autoattach(false);
            }

            match open.load() {
                Ok(skel) => break Ok(skel),
                Err(e) => {
                    let log = take_libbpf_log();
                    if std::env::var_os("VIGIL_BPF_LOG").is_some() {
                        eprintln!("{}", log.join(""));
                    }
                    match failing_program(&log) {
                        Some((name, status)) if !disabled.contains_key(&name) => {
                            debug!(program = %name, "kernel refused program, continuing without it: {}", status.reason());
                            disabled.insert(name, status);
                        }
                        _ => {
                            let tail = log.iter().rev().take(8).rev().cloned().collect::<Vec<_>>().join("\n");
                            break Err(SensorError::Load(format!("{e}\n{tail}")));
                        }
                    }
                }
            }
        };
        libbpf_rs::set_print(previous_print);
        let skel = result?;
        let mut sensor = Sensor {
            skel,
            links: Mutex::new(Vec::new()),
            sweeper: false,
            report: AttachReport::default(),
            cgroup2: None,
            tail_fds: BTreeMap::new(),
            watched: Mutex::new([0; 8]),
            filter: Mutex::new((KernelFilter::everything(), 0)),
            policy_gen: Mutex::new(0),
            xdp_interfaces: Vec::new(),
            uprobes: Mutex::new(Vec::new()),
        };
        sensor.attach_all(&disabled, cfg)?;
        Ok(sensor)
    }

    fn attach_all(&mut self, disabled: &BTreeMap<String, HookStatus>, cfg: &SensorConfig) -> Result<(), SensorError> {
        // Report everything until the rules narrow it down.
        self.write_filter_cfg(&KernelFilter::everything().maps(), 0, 0)?;
        let mut links = Vec::new();
        let mut hooks = Vec::new();
        let mut seeded = 0;
        let mut dispatcher_ok = false;
        let mut xdp_interfaces = Vec::new();
        let mut uprobes = Vec::new();
        // cgroup skb programs attach to the root of the cgroup v2 hierarchy (mounted if missing).
        let cgroup = if HOOKS.iter().any(|p| {
            matches!(p.attach, Attach::CgroupSkb(_) | Attach::CgroupSockAddr(_)) && !disabled.contains_key(p.program)
        }) {
            match crate::mounts::ensure("cgroup2", "/run/vigil/cgroup2") {
                Ok(m) => {
                    if let crate::mounts::Mount::Mounted(p) = &m {
                        eprintln!("vigil: mounted cgroup2 at {} for the network hooks", p.display());
                    }
                    let file = std::fs::File::open(m.path()).map_err(|e| e.to_string());
                    self.cgroup2 = Some(m);
                    file
                }
                Err(e) => Err(e),
            }
        } else {
            Err("not needed".to_string())
        };

        // Tail-call handlers first, so the dispatcher never runs with a half-filled table.
        let order = HOOKS
            .iter()
            .filter(|p| p.attach == Attach::SysExit)
            .chain(HOOKS.iter().filter(|p| p.attach != Attach::SysExit));
        for spec in order {
            let status = if let Some(s) = disabled.get(spec.program) {
                s.clone()
            } else if let Some(prog) = self.skel.object().progs_mut().find(|p| p.name() == spec.program) {
                match spec.attach {
                    Attach::TpBtf(_) => match prog.attach() {
                        Ok(link) => {
                            links.push(link);
                            if spec.need == Need::GroupGateway {
                                dispatcher_ok = true;
                            }
                            HookStatus::Attached
                        }
                        Err(e) => attach_status(&e),
                    },
                    Attach::SysExit => {
                        use std::os::fd::{AsFd, AsRawFd};
                        let fd = prog.as_fd().as_raw_fd() as u32;
                        let mut result = HookStatus::Attached;
                        for name in spec.syscalls() {
                            // Every name is checked against the table by a unit test.
                            let Some(nr) = syscall_number(name) else {
                                result = HookStatus::AttachFailed(format!("{name}: not an x86_64 syscall"));
                                continue;
                            };
                            self.tail_fds.insert(name, fd);
                            if let Err(e) = self.skel.maps.sys_exit_tails.update(
                                &(nr as u32).to_ne_bytes(),
                                &fd.to_ne_bytes(),
                                MapFlags::ANY,
                            ) {
                                result = HookStatus::AttachFailed(format!("{name}: {e}"));
                            } else {
                                self.watch(nr, true);
                            }
                        }
                        result
                    }
                    Attach::Xdp => crate::policy::attach_xdp(&prog, &cfg.xdp, &mut links, &mut xdp_interfaces),
                    Attach::Uprobe(targets) => match crate::uprobes::attach(spec.program, &prog, targets) {
                        crate::uprobes::Attached::Some(l) => {
                            uprobes.extend(l);
                            HookStatus::Attached
                        }
                        crate::uprobes::Attached::Absent(why) => HookStatus::Absent(why),
                        crate::uprobes::Attached::Failed(e) => attach_status(&e),
                    },
                    Attach::CgroupSkb(_) | Attach::CgroupSockAddr(_) => match &cgroup {
                        Ok(dir) => {
                            use std::os::fd::AsRawFd;
                            match prog.attach_cgroup(dir.as_raw_fd()) {
                                Ok(link) => {
                                    links.push(link);
                                    HookStatus::Attached
                                }
                                Err(e) => attach_status(&e),
                            }
                        }
                        Err(e) => HookStatus::AttachFailed(format!("no cgroup v2 hierarchy: {e}")),
                    },
                    // Loaded is all it takes; one run now proves the kernel lets us run it.
                    Attach::Periodic => match run_syscall_prog(&prog) {
                        Ok(_) => {
                            self.sweeper = true;
                            HookStatus::Attached
                        }
                        Err(e) => HookStatus::AttachFailed(e),
                    },
                    Attach::Iter(_) => match prog.attach_iter_with_opts(libbpf_rs::IterOpts::None) {
                        Ok(link) => match run_iterator(&link) {
                            Ok(n) => {
                                seeded = n;
                                HookStatus::Attached
                            }
                            Err(e) => HookStatus::AttachFailed(e),
                        },
                        Err(e) => attach_status(&e),
                    },
                }
            } else {
                HookStatus::LoadFailed("not in the BPF object".into())
            };
            hooks.push((spec, status));
        }

        // Tail handlers only run through the dispatcher: without it they are not attached.
        let reports = hooks
            .into_iter()
            .map(|(spec, status)| {
                let status = match (&status, &spec.attach) {
                    (HookStatus::Attached, Attach::SysExit) if !dispatcher_ok => {
                        HookStatus::AttachFailed("sys_exit_dispatch is not attached".into())
                    }
                    _ => status,
                };
                HookReport {
                    program: spec.program,
                    group: spec.group.name(),
                    required: spec.required(),
                    attach: describe(spec),
                    what: spec.what,
                    status,
                }
            })
            .collect();
        self.write_watched()?;
        self.xdp_interfaces = xdp_interfaces;
        self.links = Mutex::new(links);
        self.uprobes = Mutex::new(uprobes);
        self.report = AttachReport {
            hooks: reports,
            seeded_processes: seeded,
        };
        debug!(attached = self.report.attached(), "sensor attached");
        Ok(())
    }

    /// Probes again the binaries replaced since they were probed (a package upgrade
    /// writes a new file); returns a line per binary for the log. The agent calls it every
    /// few seconds.
    pub fn refresh_uprobes(&self) -> Vec<String> {
        let mut uprobes = self.uprobes.lock().unwrap_or_else(|p| p.into_inner());
        let mut notes = Vec::new();
        for u in uprobes.iter_mut() {
            if let Some(prog) = self.skel.object().progs_mut().find(|p| p.name() == u.program) {
                notes.extend(u.refresh(&prog));
            }
        }
        notes
    }

    /// Ends idle datagram flows (the kernel sends their FLOW_END records); returns how
    /// many ended. Cheap (one walk of the flow table in the kernel); the agent calls it
    /// every few seconds. Without the sweeper (refused by this kernel) it does nothing.
    pub fn sweep_flows(&self) -> Result<u32, SensorError> {
        if !self.sweeper {
            return Ok(0);
        }
        let started = std::time::Instant::now();
        let ended = run_syscall_prog(&self.skel.progs.sweep_flows).map_err(SensorError::Stats)?;
        debug!(ended, micros = started.elapsed().as_micros() as u64, "idle-flow sweep");
        Ok(ended)
    }

    /// Sets the process-name and path sets the kernel's detectors read: discovery
    /// commands and host fingerprint files (burst detectors), and DNS resolvers (whose
    /// answers are attributed to no process). Replaces the previous sets.
    pub fn set_detector_lists(
        &self,
        discovery: &[String],
        fingerprint_paths: &[String],
        resolvers: &[String],
    ) -> Result<(), SensorError> {
        let err = |e: libbpf_rs::Error| SensorError::Filter(e.to_string());
        let m = &self.skel.maps;
        let comm = |name: &String| {
            let mut key = [0u8; 16];
            let b = name.as_bytes();
            let n = b.len().min(15);
            key[..n].copy_from_slice(&b[..n]);
            key
        };
        for k in m.discovery_cmds.keys().collect::<Vec<_>>() {
            m.discovery_cmds.delete(&k).map_err(err)?;
        }
        for name in discovery.iter().take(256) {
            m.discovery_cmds.update(&comm(name), &[1], MapFlags::ANY).map_err(err)?;
        }
        for k in m.dns_resolvers.keys().collect::<Vec<_>>() {
            m.dns_resolvers.delete(&k).map_err(err)?;
        }
        for name in resolvers.iter().take(64) {
            m.dns_resolvers.update(&comm(name), &[1], MapFlags::ANY).map_err(err)?;
        }
        for k in m.fingerprint_paths.keys().collect::<Vec<_>>() {
            m.fingerprint_paths.delete(&k).map_err(err)?;
        }
        for path in fingerprint_paths.iter().take(256) {
            m.fingerprint_paths
                .update(&fnv1a(path.as_bytes()).to_ne_bytes(), &[1], MapFlags::ANY)
                .map_err(err)?;
        }
        Ok(())
    }

    /// Replaces the kernel filter (on start and on every rule reload). Never drops an
    /// event the old or the new filter wants while it changes: everything is widened
    /// first, the maps are rewritten, then the new switches take effect.
    pub fn set_filter(&self, new: &KernelFilter) -> Result<(), SensorError> {
        let err = |e: libbpf_rs::Error| SensorError::Filter(e.to_string());
        let mut cur = self.filter.lock().unwrap_or_else(|p| p.into_inner());
        let (old, generation) = (&cur.0, cur.1.wrapping_add(1));
        let (om, nm) = (old.maps(), new.maps());
        let wide = CompiledMaps {
            file_op_mask: om.file_op_mask | nm.file_op_mask,
            net_emit_mask: om.net_emit_mask | nm.net_emit_mask,
            file_fail_mask: om.file_fail_mask | nm.file_fail_mask,
            ..CompiledMaps::default()
        };
        self.write_filter_cfg(&wide, generation, new.dedup_window_ns)?;
        let tails = &self.skel.maps.sys_exit_tails;
        for sc in &new.syscalls {
            if let (Some(fd), Some(nr)) = (self.tail_fds.get(sc), syscall_number(sc)) {
                tails
                    .update(&(nr as u32).to_ne_bytes(), &fd.to_ne_bytes(), MapFlags::ANY)
                    .map_err(err)?;
                self.watch(nr, true);
            }
        }
        self.write_watched()?;

        let m = &self.skel.maps;
        for k in m.file_interest.keys().collect::<Vec<_>>() {
            m.file_interest.delete(&k).map_err(err)?;
        }
        for ((bits, bytes), mask) in &nm.lpm {
            let mut key = [0u8; 4 + 256];
            key[..4].copy_from_slice(&bits.to_ne_bytes());
            key[4..4 + bytes.len()].copy_from_slice(bytes);
            m.file_interest
                .update(&key, &mask.to_ne_bytes(), MapFlags::ANY)
                .map_err(err)?;
        }
        for k in m.file_suffixes.keys().collect::<Vec<_>>() {
            m.file_suffixes.delete(&k).map_err(err)?;
        }
        for (h, mask) in &nm.suffixes {
            m.file_suffixes
                .update(&h.to_ne_bytes(), &mask.to_ne_bytes(), MapFlags::ANY)
                .map_err(err)?;
        }

        self.write_filter_cfg(&nm, generation, new.dedup_window_ns)?;
        // The dispatcher stops calling them first, then their table entries go.
        for sc in &new.syscalls_off {
            if let Some(nr) = syscall_number(sc) {
                self.watch(nr, false);
            }
        }
        self.write_watched()?;
        for sc in &new.syscalls_off {
            if let Some(nr) = syscall_number(sc) {
                // absent already is fine
                let _ = tails.delete(&(nr as u32).to_ne_bytes());
            }
        }
        *cur = (new.clone(), generation);
        Ok(())
    }

    /// Detaches every hook; the maps and ring buffers stay readable. Once this returns
    /// nothing new is seen, counted or sent, so the counters and the rings can be read
    /// for a final, consistent account (shutdown).
    pub fn detach(&self) {
        drop(std::mem::take(
            &mut *self.links.lock().unwrap_or_else(|p| p.into_inner()),
        ));
        for u in self.uprobes.lock().unwrap_or_else(|p| p.into_inner()).iter_mut() {
            u.detach();
        }
        // A program that entered just before its hook went away runs on for microseconds
        // (its counters say seen, not yet sent); give it far more than that.
        std::thread::sleep(std::time::Duration::from_millis(20));
    }

    /// The kernel filter in force.
    pub fn filter(&self) -> KernelFilter {
        self.filter.lock().unwrap_or_else(|p| p.into_inner()).0.clone()
    }

    /// The one entry of the filter_cfg map (`struct vigil_filter_cfg`, bpf/vigil_abi.h).
    fn write_filter_cfg(&self, m: &CompiledMaps, generation: u32, dedup_window_ns: u64) -> Result<(), SensorError> {
        let cfg = vigil_filter_cfg {
            file_op_mask: m.file_op_mask,
            file_path_mask: m.file_path_mask,
            suffix_lens: m.suffix_lens,
            net_emit_mask: m.net_emit_mask,
            generation,
            dedup_window_ns,
            file_dedup_mask: m.file_dedup_mask,
            net_dedup_mask: m.net_dedup_mask,
            suffix_first: m.suffix_first,
            file_fail_mask: m.file_fail_mask,
            file_fail_path_mask: m.file_fail_path_mask,
            suffix_bits: m.suffix_bits,
        };
        self.skel
            .maps
            .filter_cfg
            .update(&0u32.to_ne_bytes(), crate::maps::as_bytes(&cfg), MapFlags::ANY)
            .map_err(|e| SensorError::Filter(e.to_string()))
    }

    /// Marks a syscall as having (or not) a handler, in our copy of the bitmap.
    fn watch(&self, nr: u16, on: bool) {
        let mut w = self.watched.lock().unwrap_or_else(|p| p.into_inner());
        let (word, bit) = (usize::from(nr / 64) % w.len(), 1u64 << (nr % 64));
        if on {
            w[word] |= bit;
        } else {
            w[word] &= !bit;
        }
    }

    /// Writes the bitmap to the `watched_syscalls` map the dispatcher tests.
    fn write_watched(&self) -> Result<(), SensorError> {
        let w = *self.watched.lock().unwrap_or_else(|p| p.into_inner());
        let value = crate::skel::types::watched_syscalls { bits: w };
        self.skel
            .maps
            .watched_syscalls
            .update(&0u32.to_ne_bytes(), crate::maps::as_bytes(&value), MapFlags::ANY)
            .map_err(|e| SensorError::Filter(e.to_string()))
    }

    /// Tells the kernel whether the reader is about to sleep for longer than its busy poll
    /// interval: then the next record wakes it (bpf/include/common.h, reader_state).
    pub fn set_reader_sleeping(&self, sleeping: bool) -> Result<(), SensorError> {
        let value = crate::skel::types::reader_state {
            sleeping: u32::from(sleeping),
            pad: 0,
        };
        self.skel
            .maps
            .reader_state
            .update(&0u32.to_ne_bytes(), crate::maps::as_bytes(&value), MapFlags::ANY)
            .map_err(|e| SensorError::RingBuffer(e.to_string()))
    }

    /// Entries in the kernel flow table now (for the summary: it must not grow without bound).
    pub fn flows_tracked(&self) -> usize {
        self.skel.maps.flow_table.keys().count()
    }

    /// Runs the DNS parser of `skb_ingress` on one answer, without a network: `message`
    /// (the DNS payload) goes out as a UDP datagram from [`DNS_TEST_SERVER`]:53 to
    /// `client_port`, through BPF_PROG_TEST_RUN. The record arrives on the events ring like
    /// any answer's. For the differential fuzzer (crates/vigil-fuzz/src/dns.rs). The
    /// program must be loaded; it need not see traffic.
    pub fn run_dns_parser(&self, message: &[u8], client_port: u16) -> Result<(), SensorError> {
        let mut frame = Vec::with_capacity(42 + message.len());
        // Ethernet (BPF_PROG_TEST_RUN takes a frame and strips it for cgroup_skb programs)
        frame.extend_from_slice(&[0u8; 12]);
        frame.extend_from_slice(&0x0800u16.to_be_bytes());
        // IPv4, no options; the parser reads addresses, protocol and header length
        let total = (20 + 8 + message.len()).min(u16::MAX as usize) as u16;
        frame.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0]);
        frame[16..18].copy_from_slice(&total.to_be_bytes());
        frame.extend_from_slice(&DNS_TEST_SERVER.octets());
        frame.extend_from_slice(&[192, 0, 2, 1]);
        // UDP
        frame.extend_from_slice(&53u16.to_be_bytes());
        frame.extend_from_slice(&client_port.to_be_bytes());
        frame.extend_from_slice(&(total - 20).to_be_bytes());
        frame.extend_from_slice(&[0, 0]);
        frame.extend_from_slice(message);
        let input = libbpf_rs::ProgramInput {
            data_in: Some(&frame),
            ..Default::default()
        };
        self.skel
            .progs
            .skb_ingress
            .test_run(input)
            .map(drop)
            .map_err(|e| SensorError::TestRun(format!("skb_ingress on a DNS answer: {e}")))
    }

    /// Hooks whose events can appear, for stats display.
    pub fn attached_hooks(&self) -> Vec<Hook> {
        self.report
            .hooks
            .iter()
            .filter(|h| h.status == HookStatus::Attached)
            .filter_map(|h| hooks::spec(h.program).and_then(|s| s.stats))
            .collect()
    }
}

pub(crate) fn describe(h: &hooks::HookSpec) -> String {
    match h.attach {
        Attach::TpBtf(tp) => format!("tp_btf/{tp}"),
        Attach::SysExit => format!("sys_exit[{}]", h.syscalls().collect::<Vec<_>>().join(",")),
        Attach::Iter(what) => format!("iter/{what}"),
        Attach::Periodic => "syscall (run by the agent)".to_string(),
        Attach::CgroupSkb(dir) => format!("cgroup_skb/{dir}"),
        Attach::CgroupSockAddr(what) => format!("cgroup/{what}"),
        Attach::Xdp => "xdp".to_string(),
        Attach::Uprobe(targets) => hooks::describe_uprobes(targets),
    }
}

fn open_err(e: libbpf_rs::Error) -> SensorError {
    SensorError::Open(e.to_string())
}

/// Runs a `syscall` program once; returns what it returned.
fn run_syscall_prog(prog: &libbpf_rs::ProgramMut) -> Result<u32, String> {
    prog.test_run(libbpf_rs::ProgramInput::default())
        .map(|out| out.return_value)
        .map_err(|e| e.to_string())
}

/// Runs a BPF iterator to its end; returns how many lines it printed.
fn run_iterator(link: &Link) -> Result<usize, String> {
    let mut it = libbpf_rs::Iter::new(link).map_err(|e| e.to_string())?;
    let mut out = String::new();
    it.read_to_string(&mut out).map_err(|e| e.to_string())?;
    Ok(out.lines().count())
}

fn check_privileges() -> Result<(), SensorError> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(SensorError::NotRoot);
    }
    if !std::path::Path::new("/sys/kernel/btf/vmlinux").exists() {
        return Err(SensorError::NoBtf);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn failing_program_is_found_in_the_libbpf_log() {
        let log = vec![
            "libbpf: prog 'exit_open': BPF program load failed: Permission denied\n".to_string(),
            "libbpf: prog 'exit_open': -- BEGIN PROG LOAD LOG --\n".to_string(),
            "libbpf: failed to load object 'vigil_bpf'\n".to_string(),
        ];
        let (name, status) = failing_program(&log).unwrap();
        assert_eq!(name, "exit_open");
        assert!(
            matches!(&status, HookStatus::LoadFailed(r) if r.contains("Permission denied")),
            "{status:?}"
        );
        let verifier_log = vec![
            "libbpf: prog 'skb_egress': BPF program load failed: -E2BIG\n".to_string(),
            "libbpf: prog 'skb_egress': -- BEGIN PROG LOAD LOG --\n0: R1=ctx()\nBPF program is too large. Processed 1000001 insn\nprocessed 1000001 insns (limit 1000000)\n-- END PROG LOAD LOG --\n".to_string(),
            "libbpf: prog 'skb_egress': failed to load: -E2BIG\n".to_string(),
        ];
        let (name, status) = failing_program(&verifier_log).unwrap();
        assert_eq!(name, "skb_egress");
        assert!(
            matches!(&status, HookStatus::LoadFailed(r) if r.contains("too large")),
            "{status:?}"
        );
        // Refused before the verifier ran: this kernel does not offer the program type.
        let eperm = vec![
            "libbpf: prog 'sweep_flows': BPF program load failed: -EPERM\n".to_string(),
            "libbpf: prog 'sweep_flows': -- BEGIN PROG LOAD LOG --\n-- END PROG LOAD LOG --\n".to_string(),
            "libbpf: prog 'sweep_flows': failed to load: -EPERM\n".to_string(),
        ];
        let (name, status) = failing_program(&eperm).unwrap();
        assert_eq!(name, "sweep_flows");
        assert!(
            matches!(&status, HookStatus::Refused(r) if r.contains("EPERM")),
            "{status:?}"
        );
        assert!(failing_program(&["libbpf: map 'x': failed".to_string()]).is_none());
    }

    #[test]
    fn ring_sizes_are_powers_of_two() {
        assert_eq!(pow2_at_least(5 << 20, 1 << 16), 8 << 20);
        assert_eq!(pow2_at_least(0, 1 << 16), 1 << 16);
    }
}
