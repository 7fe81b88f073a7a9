//! `vigil doctor`: what this kernel supports, and which of Vigil's hooks attach here.

use serde::Serialize;
use vigil_sensor::mounts::{self, Mount};
use vigil_sensor::probe::{self, Check};
use vigil_sensor::{HookReport, HookStatus, Sensor, SensorConfig};

#[derive(Serialize)]
struct DoctorReport {
    environment: Vec<Check>,
    program_types: Vec<Check>,
    hooks: Vec<HookReport>,
    sensor_error: Option<String>,
    notes: Vec<String>,
}

/// Prints the report; returns the exit code: 0 all hooks attach, 1 some do not, 2 none can.
pub fn doctor(json: bool) -> i32 {
    let mut notes = Vec::new();
    // LSM and lockdown state live in securityfs; mount it if it is missing, and say so.
    match mounts::ensure_securityfs() {
        Ok(Mount::Mounted(p)) => notes.push(format!("mounted securityfs at {} to read the LSM list", p.display())),
        Ok(Mount::Present(_)) => {}
        Err(e) => notes.push(format!("securityfs unavailable: {e}")),
    }
    let environment = probe::environment();
    let program_types = probe::program_types();
    let (hooks, sensor_error) = match Sensor::start(&SensorConfig::default()) {
        Ok(s) => (s.report.hooks.clone(), None),
        Err(e) => (Vec::new(), Some(e.to_string())),
    };
    let required_ok = environment.iter().chain(&program_types).all(|c| c.ok || !c.required);
    let attached = hooks.iter().filter(|h| h.status == HookStatus::Attached).count();
    let code = if !required_ok || sensor_error.is_some() || attached == 0 {
        2
    } else if attached < hooks.len() {
        1
    } else {
        0
    };

    let report = DoctorReport {
        environment,
        program_types,
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
    println!("\nVigil hooks");
    if let Some(e) = &report.sensor_error {
        println!("  FAIL cannot load the sensor: {e}");
    }
    for h in &report.hooks {
        let (m, why) = match &h.status {
            HookStatus::Attached => ("ok  ", String::new()),
            HookStatus::Disabled => ("off ", "disabled".to_string()),
            HookStatus::LoadFailed(r) => ("FAIL", format!("load: {r}")),
            HookStatus::AttachFailed(r) => ("FAIL", format!("attach: {r}")),
        };
        println!(
            "  {m} {:<20} {:<44} {}{}",
            h.program,
            h.attach,
            h.what,
            if why.is_empty() {
                String::new()
            } else {
                format!(" -- {why}")
            }
        );
    }
    for n in &report.notes {
        println!("\nnote: {n}");
    }
    println!(
        "\n{}",
        match code {
            0 => "All of Vigil's hooks attach on this kernel.".to_string(),
            1 => format!(
                "{attached} of {} hooks attach; Vigil runs without the others.",
                report.hooks.len()
            ),
            _ => "Vigil cannot run here (see FAIL above).".to_string(),
        }
    );
    code
}
