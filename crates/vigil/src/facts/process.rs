//! Facts about a process: its command line and working directory as Falco shows them.

use vigil_event::Text;
use vigil_proctree::Process;

/// argv[0] (Falco's `proc.exe`), or the executable's path when argv is empty.
pub fn argv0(p: &Process) -> &Text {
    p.args.first().unwrap_or(&p.exe)
}

/// Falco's `proc.cmdline`: the command name, then the arguments after argv[0].
pub fn cmdline(p: &Process) -> String {
    let mut s = p.name.to_string();
    for a in p.args.iter().skip(1) {
        s.push(' ');
        s.push_str(&a.as_str());
    }
    s
}

/// Falco's `proc.args`: the arguments after argv[0], space-separated.
pub fn args(p: &Process) -> String {
    p.args
        .iter()
        .skip(1)
        .map(|a| a.to_string())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Falco's `proc.cwd` ends with a slash.
pub fn cwd_with_slash(cwd: &Text) -> String {
    let s = cwd.as_str();
    if s.ends_with('/') {
        s.into_owned()
    } else {
        format!("{s}/")
    }
}
