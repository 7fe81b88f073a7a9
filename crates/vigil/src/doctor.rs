//! `vigil doctor`: what this kernel supports, and which of Vigil's hooks attach here.

use serde::Serialize;
use vigil_sensor::mounts::{self, Mount};
use vigil_sensor::probe::{self, Check};
use vigil_sensor::{HookReport, HookStatus, Sensor, SensorConfig};

#[derive(Serialize)]
struct DoctorReport {
    environment: Vec<Check>,
    program_types: Vec<Check>,
    containers: Vec<Check>,
    enforcement: Vec<Check>,
    hooks: Vec<HookReport>,
    sensor_error: Option<String>,
    notes: Vec<String>,
}

/// Every required hook attaches; each optional hook attaches, is refused by this kernel
/// (listed with what is lost) or was disabled on purpose.
pub const EXIT_READY: i32 = 0;
/// Vigil cannot run here: not root, no BTF, the object does not load, or a required hook
/// does not attach.
pub const EXIT_CANNOT_RUN: i32 = 1;
/// Vigil runs, but an optional hook that this kernel offers failed (the verifier rejected
/// it or attaching failed): it sees less than it could here. The FAIL lines say why.
pub const EXIT_DEGRADED: i32 = 2;

/// Prints the report; returns the exit code ([`EXIT_READY`], [`EXIT_DEGRADED`] or
/// [`EXIT_CANNOT_RUN`]). `disabled` programs are left out as `vigil run
/// --disable-program` would.
pub fn doctor(json: bool, disabled: &std::collections::BTreeSet<String>) -> i32 {
    let mut notes = Vec::new();
    // LSM and lockdown state live in securityfs; mount it if it is missing, and say so.
    match mounts::ensure_securityfs() {
        Ok(Mount::Mounted(p)) => notes.push(format!("mounted securityfs at {} to read the LSM list", p.display())),
        Ok(Mount::Present(_)) => {}
        Err(e) => notes.push(format!("securityfs unavailable: {e}")),
    }
    let environment = probe::environment();
    let program_types = probe::program_types();
    let containers = container_checks();
    let cfg = SensorConfig {
        disabled_programs: disabled.clone(),
        ..SensorConfig::default()
    };
    let (hooks, sensor_error) = match Sensor::start(&cfg) {
        Ok(s) => (s.report.hooks.clone(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let required_ok = environment.iter().chain(&program_types).all(|c| c.ok || !c.required);
    let attached = hooks.iter().filter(|h| h.status == HookStatus::Attached).count();
    let code = if !required_ok
        || sensor_error.is_some()
        || hooks.iter().any(|h| h.required && h.status != HookStatus::Attached)
    {
        EXIT_CANNOT_RUN
    } else if hooks.iter().any(|h| h.status.is_failure()) {
        EXIT_DEGRADED
    } else {
        EXIT_READY
    };

    let enforcement = enforcement_checks(&program_types, &hooks);
    let report = DoctorReport {
        environment,
        program_types,
        containers,
        enforcement,
        hooks,
        sensor_error,
        notes,
    };
    if json {
        println!("{}", serde_json::to_string_pretty(&report).unwrap_or_default());
        return code;
    }
    let mark = |c: &Check| {
        if c.ok {
            "ok  "
        } else if c.required {
            "FAIL"
        } else {
            "no  "
        }
    };
    println!("Environment");
    for c in &report.environment {
        println!("  {} {:<26} {}", mark(c), c.name, c.detail);
    }
    println!("\nProgram types (each probed by loading a minimal program)");
    for c in &report.program_types {
        let note = if c.required { "" } else { "  (optional)" };
        println!("  {} {:<26} {}{note}", mark(c), c.name, c.detail);
    }
    println!("\nContainers (ids from cgroup v2; names, images and pods from the runtimes' sockets)");
    for c in &report.containers {
        println!("  {} {:<26} {}", mark(c), c.name, c.detail);
    }
    println!("\nEnforcement (rules with `action: kill` or `action: deny`; docs/enforcement.md)");
    for c in &report.enforcement {
        println!("  {} {:<26} {}", mark(c), c.name, c.detail);
    }
    println!("\nVigil hooks (required: the agent cannot run without them; optional: it runs on without them)");
    if let Some(e) = &report.sensor_error {
        println!("  FAIL cannot load the sensor: {e}");
    }
    for h in &report.hooks {
        let m = match (&h.status, h.required) {
            (HookStatus::Attached, _) => "ok  ",
            (HookStatus::Disabled | HookStatus::Unused, false) => "off ",
            (HookStatus::Refused(_) | HookStatus::Absent(_), false) => "no  ",
            _ => "FAIL",
        };
        println!(
            "  {m} {:<20} {:<9} {:<44} {}",
            h.program,
            if h.required { "required" } else { "optional" },
            h.attach,
            h.what
        );
        match &h.status {
            HookStatus::Attached => {}
            HookStatus::LoadFailed(r) => println!("       load failed: {r}"),
            HookStatus::AttachFailed(r) => println!("       attach failed: {r}"),
            other => println!("       {}: {}", other.word(), other.reason()),
        }
        if h.status != HookStatus::Attached {
            if h.required {
                println!("       without it the agent cannot run");
            } else {
                println!("       without it the agent does not see: {}", h.what);
            }
        }
    }
    for n in &report.notes {
        println!("\nnote: {n}");
    }
    let missing: Vec<&str> = report
        .hooks
        .iter()
        .filter(|h| h.status != HookStatus::Attached)
        .map(|h| h.program)
        .collect();
    println!(
        "\n{} (exit {code})",
        match code {
            EXIT_READY if missing.is_empty() =>
                "Ready: every one of Vigil's hooks attaches on this kernel.".to_string(),
            EXIT_READY => format!(
                "Ready: every required hook attaches ({attached} of {} in all); Vigil runs without {}.",
                report.hooks.len(),
                missing.join(", ")
            ),
            EXIT_DEGRADED => format!(
                "Degraded: Vigil runs, but {} failed although this kernel offers them (see FAIL above).",
                report
                    .hooks
                    .iter()
                    .filter(|h| h.status.is_failure())
                    .map(|h| h.program)
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ => "Vigil cannot run here (see FAIL above).".to_string(),
        }
    );
    code
}

/// How policies can act on this kernel: what each action becomes, and what is missing.
fn enforcement_checks(types: &[Check], hooks: &[vigil_sensor::HookReport]) -> Vec<Check> {
    let attached = |p: &str| hooks.iter().any(|h| h.program == p && h.status == HookStatus::Attached);
    let type_ok = |name: &str| types.iter().any(|c| c.name == name && c.ok);
    let lsm = type_ok("BPF LSM");
    let check = |name: &'static str, ok: bool, yes: &str, no: &str| Check {
        name,
        ok,
        detail: if ok { yes.to_string() } else { no.to_string() },
        required: false,
    };
    vec![
        check(
            "kill at exec",
            attached("handle_exec"),
            "SIGKILL queued at sched_process_exec (bpf_send_signal): the new image never runs",
            "handle_exec is not attached: no policy can act at exec",
        ),
        check(
            "deny through BPF LSM",
            lsm,
            "LSM programs load: deny could fail the call with EPERM (not used yet)",
            "LSM programs are refused here: `deny` at exec is a kill, at connect the cgroup hook",
        ),
        check(
            "deny connect",
            attached("policy_connect4") && attached("policy_connect6"),
            "cgroup/connect4 and connect6 on the root cgroup: denied connects fail with EPERM",
            "policy_connect4/6 are not attached: network policies cannot deny",
        ),
        check(
            "XDP",
            type_ok("xdp"),
            "XDP programs load: --xdp IFACE drops deny-listed sources and SYN scanners",
            "XDP programs are refused: no packet policies",
        ),
    ]
}

/// The cgroup v2 hierarchy (container ids) and the default runtime sockets (metadata).
fn container_checks() -> Vec<Check> {
    let mut out = vec![match vigil_container::cgroup_v2_root(std::path::Path::new("/")) {
        Some(p) => Check {
            name: "cgroup v2 hierarchy",
            ok: true,
            detail: format!("{} (container ids)", p.display()),
            required: false,
        },
        None => Check {
            name: "cgroup v2 hierarchy",
            ok: false,
            detail: "none mounted: every process reads as host (v1-only hosts are not supported)".into(),
            required: false,
        },
    }];
    for ep in vigil_container::Endpoint::defaults() {
        let name = match ep.runtime {
            vigil_container::Runtime::Docker => "docker API",
            _ => "podman API",
        };
        let (ok, detail) = if !ep.socket.exists() {
            (
                false,
                format!("{}: absent (not installed or not running)", ep.socket.display()),
            )
        } else {
            match ep.list(std::time::Duration::from_secs(2)) {
                Ok(ids) => (
                    true,
                    format!("{}: {} running containers", ep.socket.display(), ids.len()),
                ),
                Err(e) => (false, e.to_string()),
            }
        };
        out.push(Check {
            name,
            ok,
            detail,
            required: false,
        });
    }
    out
}
