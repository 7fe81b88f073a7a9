//! The small commands around rules: `rules check`, `rules list`, `fields`, and the
//! configuration file.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use serde::Deserialize;
use vigil_rules::{parse_duration, RateLimit, Scope};

use crate::rules::{error_lines, RuleSources};

/// `--config FILE`: settings shared by `run`, `replay` and `rules list`.
/// (The same file as `vigil run --config`, which reads every key: see config_file.rs and
/// `vigil config check`; the rule commands read the rule keys and ignore the others.)
#[derive(Debug, Default, Deserialize)]
pub struct Config {
    /// Rule files and directories, loaded before those given with `--rules`.
    #[serde(default)]
    pub rules: Vec<PathBuf>,
    /// Load the built-in rules (default true).
    #[serde(alias = "builtin-rules")]
    pub builtin_rules: Option<bool>,
    /// Default rate limit, as `--rate-limit`.
    #[serde(alias = "rate-limit")]
    pub rate_limit: Option<String>,
}

/// Largest configuration file read.
const CONFIG_MAX_BYTES: u64 = 1 << 20;

impl Config {
    pub fn read(path: &Path) -> Result<Config> {
        // Bounded like a rule file: a FIFO, a device or a huge file is refused, not read.
        let text = vigil_rules::source::read_text_file(path, CONFIG_MAX_BYTES)
            .map_err(|e| anyhow::anyhow!("{}:0:0: {e}", path.display()))?;
        serde_yaml::from_str(&text).map_err(|e| match e.location() {
            Some(l) => anyhow::anyhow!("{}:{}:{}: {}", path.display(), l.line(), l.column(), e),
            None => anyhow::anyhow!("{}: {e}", path.display()),
        })
    }
}

/// `none` or `SCOPE:BURST/PERIOD` (`process:20/60s`).
pub fn parse_rate_limit(s: &str) -> Result<Option<RateLimit>> {
    if s == "none" {
        return Ok(None);
    }
    let (scope, rest) = s.split_once(':').context("expected SCOPE:BURST/PERIOD or none")?;
    let (burst, per) = rest.split_once('/').context("expected BURST/PERIOD after the scope")?;
    let scope = match scope {
        "process" => Scope::Process,
        "executable" => Scope::Executable,
        "parent" => Scope::Parent,
        "global" => Scope::Global,
        other => bail!("unknown scope `{other}` (process, executable, parent, global)"),
    };
    let burst: u32 = burst
        .parse()
        .with_context(|| format!("burst `{burst}` is not a number"))?;
    let per_ns = parse_duration(per).with_context(|| format!("period `{per}` is not a duration like 60s"))?;
    if burst == 0 || per_ns == 0 {
        bail!("burst and period must be positive");
    }
    Ok(Some(RateLimit { scope, burst, per_ns }))
}

/// `vigil rules check`: prints every error as `file:line:col: message`.
pub fn rules_check(sources: RuleSources) -> ExitCode {
    match sources.load() {
        Ok(set) => {
            print!("{}", set.report());
            println!("ok");
            ExitCode::SUCCESS
        }
        Err(e) => {
            for line in error_lines(&e) {
                println!("{line}");
            }
            ExitCode::FAILURE
        }
    }
}

/// `vigil rules list`.
pub fn rules_list(sources: RuleSources, json: bool) -> Result<()> {
    let set = sources
        .load()
        .map_err(|e| anyhow::anyhow!("rules did not load:\n{}", error_lines(&e).join("\n")))?;
    if json {
        println!("{}", serde_json::to_string_pretty(set.rules())?);
        return Ok(());
    }
    println!(
        "{:<60} {:<13} {:<8} {:<28} TAGS",
        "RULE", "PRIORITY", "ENABLED", "EVENT TYPES"
    );
    for r in set.rules() {
        let types = r.evt_types.to_string();
        let types = if types.len() > 27 {
            format!("{}...", &types[..24])
        } else {
            types
        };
        println!(
            "{:<60} {:<13} {:<8} {:<28} {}",
            r.name,
            r.priority.as_str(),
            r.enabled,
            types,
            r.tags.join(",")
        );
    }
    Ok(())
}

/// `vigil rules explain`.
pub fn rules_explain(sources: RuleSources, dedup_window_ns: u64, json: bool) -> Result<()> {
    let set = sources
        .load()
        .map_err(|e| anyhow::anyhow!("rules did not load:\n{}", error_lines(&e).join("\n")))?;
    let filter = crate::kernel_filter::for_rules(&set, dedup_window_ns);
    let policies = crate::enforcement::slots(&set);
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "filter": filter, "policies": policies }))?
        );
    } else {
        print!("{}", crate::enforcement::explain(&policies));
        println!();
        print!("{}", filter.explain());
        let failing = crate::kernel_filter::failure_interest(&set);
        if !failing.is_empty() {
            println!("\nFailed file calls are reported for these rules (they could match a failure):");
            for (ty, rules) in failing {
                println!("  {ty}\n      {}", rules.join("\n      "));
            }
        }
        let broad = crate::kernel_filter::broad_interest(&set);
        if !broad.is_empty() {
            println!("\nBroad interest (what keeps the most events) and the rules asking for it:");
            for (what, rules) in broad {
                println!("  {what}\n      {}", rules.join("\n      "));
            }
        }
    }
    Ok(())
}

/// `vigil stats`: the statistics a running agent keeps in its stats file.
pub fn stats(path: &Path, json: bool) -> Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| {
        format!(
            "reading {} (is `vigil run` running, with this --stats-file?)",
            path.display()
        )
    })?;
    let v: serde_json::Value = serde_json::from_str(&text).with_context(|| format!("parsing {}", path.display()))?;
    if json {
        println!("{}", serde_json::to_string_pretty(&v)?);
        return Ok(());
    }
    let pid = v["pid"].as_u64().unwrap_or(0);
    if pid == 0 || !Path::new(&format!("/proc/{pid}")).exists() {
        bail!("{} is stale: agent pid {pid} is not running", path.display());
    }
    let n = |x: &serde_json::Value| x.as_u64().unwrap_or(0);
    println!(
        "agent pid {pid}, up {:.0} s, kernel filter {}",
        v["uptime_secs"].as_f64().unwrap_or(0.0),
        if v["kernel_filter"].as_bool().unwrap_or(false) {
            "on"
        } else {
            "off"
        }
    );
    println!(
        "\n{:<12} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "HOOK", "SEEN", "FILTERED", "DEDUPED", "SENT", "LOST"
    );
    let empty = Vec::new();
    let mut total = [0u64; 5];
    for h in v["kernel"]["hooks"].as_array().unwrap_or(&empty) {
        let c = &h[1];
        let row = [
            n(&c["seen"]),
            n(&c["filtered"]),
            n(&c["deduped"]),
            n(&c["sent"]),
            n(&c["lost"]),
        ];
        if row.iter().all(|x| *x == 0) {
            continue;
        }
        for (t, x) in total.iter_mut().zip(row) {
            *t += x;
        }
        println!(
            "{:<12} {:>12} {:>12} {:>12} {:>12} {:>8}",
            h[0].as_str().unwrap_or("?"),
            row[0],
            row[1],
            row[2],
            row[3],
            row[4]
        );
    }
    println!(
        "{:<12} {:>12} {:>12} {:>12} {:>12} {:>8}",
        "total", total[0], total[1], total[2], total[3], total[4]
    );
    let lost_cpu: Vec<String> = v["kernel"]["lost_per_cpu"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .map(|x| n(x).to_string())
        .collect();
    println!("\nlost per CPU: [{}]", lost_cpu.join(", "));
    println!("hook runs skipped by the kernel (recursion): {}", n(&v["missed_total"]));
    let u = &v["userspace"];
    println!(
        "userspace: malformed records {}, alerts written {}, alerts held back by rate limits {}",
        n(&u["decode"]["malformed_total"]),
        n(&u["written"]["alerts"]),
        n(&u["alerts_suppressed"])
    );
    let c = &u["containers"];
    let failed: u64 = c["failed"].as_object().map_or(0, |m| m.values().map(n).sum());
    let sockets: Vec<&str> = c["sockets"]
        .as_array()
        .unwrap_or(&empty)
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    println!(
        "containers: {} cached, runtime lookups {} (found {}, unknown {}, failed {}, pending {}) via {}",
        n(&c["containers_cached"]),
        n(&c["lookups"]),
        n(&c["found"]),
        n(&c["not_found"]),
        failed,
        n(&c["lookups_pending"]),
        if sockets.is_empty() {
            "no runtime socket".to_string()
        } else {
            sockets.join(", ")
        }
    );
    if let Some(e) = c["last_error"].as_str() {
        println!("  last lookup error: {e}");
    }
    for o in v["outputs"].as_array().unwrap_or(&empty) {
        println!(
            "output {}: sent {}, dropped {}, failures {}, queued {}/{}{}",
            o["name"].as_str().unwrap_or("?"),
            n(&o["sent"]),
            n(&o["dropped"]),
            n(&o["failures"]),
            n(&o["queue_depth"]),
            n(&o["queue_capacity"]),
            o["last_error"]
                .as_str()
                .map(|e| format!(" (failing: {e})"))
                .unwrap_or_default()
        );
    }
    for p in v["policies"].as_array().unwrap_or(&empty) {
        println!(
            "policy [{}] {}: {} matches",
            n(&p["slot"]),
            p["rule"].as_str().unwrap_or("?"),
            n(&p["matches"])
        );
    }
    Ok(())
}

/// `vigil fields`.
pub fn fields(json: bool) -> Result<()> {
    let cat = vigil_rules::fields::catalogue();
    if json {
        println!("{}", serde_json::to_string_pretty(cat)?);
        return Ok(());
    }
    println!(
        "{:<42} {:<15} {:<18} {:<9} DESCRIPTION",
        "FIELD", "TYPE", "ARGUMENT", "POPULATED"
    );
    for f in cat {
        println!(
            "{:<42} {:<15} {:<18} {:<9} {}",
            f.name,
            f.ty.name(),
            f.arg.describe(),
            if f.available { "yes" } else { "no" },
            f.description
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limits() {
        let r = parse_rate_limit("executable:5/30s").unwrap().unwrap();
        assert_eq!((r.scope, r.burst, r.per_ns), (Scope::Executable, 5, 30_000_000_000));
        assert!(parse_rate_limit("none").unwrap().is_none());
        for bad in ["process", "process:x/1s", "user:1/1s", "process:1/soon", "process:0/1s"] {
            assert!(parse_rate_limit(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn config_errors_name_the_position() {
        let p = std::env::temp_dir().join(format!("vigil-config-{}.yaml", std::process::id()));
        std::fs::write(&p, "rules: [/etc/vigil]\nbuiltin_rules: maybe\n").unwrap();
        let e = Config::read(&p).unwrap_err().to_string();
        assert!(e.contains(":2:"), "{e}");
        std::fs::write(&p, "rules: [/etc/vigil]\nbuiltin_rules: false\n").unwrap();
        let c = Config::read(&p).unwrap();
        assert_eq!(c.builtin_rules, Some(false));
        std::fs::remove_file(&p).unwrap();
    }
}
