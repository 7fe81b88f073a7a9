//! Input that could hang or exhaust the agent: `vigil rules check` and the config loader
//! on files built to expand without end, on huge files, FIFOs, devices, symlink loops
//! and directories of thousands of files. Each gets a positioned error (or loads), and
//! the command always finishes: a run that outlives the hang guard fails the test. No
//! root needed.

mod common;

use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use common::{vigil_bin, TempDir};

/// Far above what any of these takes (well under a second each); only a hang reaches it.
const HANG_GUARD: Duration = Duration::from_secs(60);

/// Runs vigil with `args`; fails the test if it has not finished within the hang guard.
fn vigil(args: &[&str]) -> (Option<i32>, String) {
    let child = Command::new(vigil_bin())
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn vigil");
    let pid = child.id() as i32;
    // Output is drained while it runs (a full pipe would stall it).
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(child.wait_with_output());
    });
    let Output { status, stdout, stderr } = match rx.recv_timeout(HANG_GUARD) {
        Ok(out) => out.expect("wait for vigil"),
        Err(_) => {
            // SAFETY: killing our own child.
            unsafe { libc::kill(pid, libc::SIGKILL) };
            panic!("vigil {args:?} still running after {HANG_GUARD:?}: it hangs on this input");
        }
    };
    (
        status.code(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&stdout),
            String::from_utf8_lossy(&stderr)
        ),
    )
}

fn check(path: &Path) -> (Option<i32>, String) {
    vigil(&[
        "rules",
        "check",
        "--no-builtin-rules",
        path.to_str().expect("utf-8 path"),
    ])
}

fn mkfifo(path: &Path) -> std::path::PathBuf {
    let c = std::ffi::CString::new(path.to_str().expect("utf-8 path")).expect("no NUL");
    // SAFETY: a valid NUL-terminated path.
    assert_eq!(
        unsafe { libc::mkfifo(c.as_ptr(), 0o600) },
        0,
        "mkfifo {}",
        path.display()
    );
    path.to_path_buf()
}

fn rule(name: &str, cond: &str) -> String {
    format!("- rule: {name}\n  desc: d\n  condition: {cond}\n  output: o\n  priority: INFO\n")
}

#[test]
fn an_alias_bomb_gets_a_positioned_error() {
    let dir = TempDir::new("bomb");
    let f = dir.path().join("aliases.yaml");
    let mut y = String::from("- list: l0\n  items: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for i in 1..=11 {
        let items = vec![format!("*a{}", i - 1); 10].join(",");
        y.push_str(&format!("- list: l{i}\n  items: &a{i} [{items}]\n"));
    }
    std::fs::write(&f, y).unwrap();
    let (code, out) = check(&f);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with(&format!("{}:12:43:", f.display())) && out.contains("more than 1000000 YAML nodes"),
        "{out}"
    );
}

#[test]
fn an_exponential_macro_chain_gets_a_positioned_error() {
    let dir = TempDir::new("bomb");
    let f = dir.path().join("macros.yaml");
    let mut y = String::from("- macro: m0\n  condition: proc.name = x\n");
    for i in 1..=60 {
        y.push_str(&format!("- macro: m{i}\n  condition: (m{p} or m{p})\n", p = i - 1));
    }
    y += &rule("r", "evt.type = open and m60");
    std::fs::write(&f, y).unwrap();
    let (code, out) = check(&f);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.starts_with(&format!(
            "{}:36:22: the condition expands to more than 200000 nodes",
            f.display()
        )),
        "{out}"
    );
}

#[test]
fn files_that_are_not_regular_or_too_big_are_refused_by_name() {
    let dir = TempDir::new("inputs");
    // A FIFO with no writer: opening it for reading would wait forever.
    let fifo = mkfifo(&dir.path().join("fifo.yaml"));
    let (code, out) = check(&fifo);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("fifo.yaml:0:0: cannot read rules file: is a FIFO, not a regular file"),
        "{out}"
    );

    let (code, out) = check(Path::new("/dev/zero"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("/dev/zero:0:0: cannot read rules file: is a character device"),
        "{out}"
    );

    // 100 MB (sparse: refused by its size, never read).
    let big = dir.path().join("big.yaml");
    std::fs::File::create(&big).unwrap().set_len(100 << 20).unwrap();
    let (code, out) = check(&big);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("big.yaml:0:0: cannot read rules file: is 104857600 bytes, more than the 16777216"),
        "{out}"
    );

    // A symlink loop, given directly and inside a rules directory.
    let rules_dir = dir.path().join("rules.d");
    std::fs::create_dir(&rules_dir).unwrap();
    symlink("loop.yaml", rules_dir.join("loop.yaml")).unwrap();
    let (code, out) = check(&rules_dir.join("loop.yaml"));
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("loop.yaml:0:0: cannot read the rules path") && out.contains("symbolic links"),
        "{out}"
    );
    std::fs::write(rules_dir.join("good.yaml"), rule("good", "evt.type = open")).unwrap();
    let (code, out) = check(&rules_dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("loop.yaml:0:0: cannot read rules file: cannot open") && out.contains("symbolic links"),
        "{out}"
    );
    // A directory symlinked into itself is not followed (directories are not walked).
    std::fs::remove_file(rules_dir.join("loop.yaml")).unwrap();
    symlink(".", rules_dir.join("self")).unwrap();
    let (code, out) = check(&rules_dir);
    assert_eq!(code, Some(0), "{out}");
}

#[test]
fn a_directory_of_thousands_of_rule_files_loads_and_too_many_are_refused() {
    let dir = TempDir::new("many");
    for i in 0..3000 {
        std::fs::write(
            dir.path().join(format!("r{i:05}.yaml")),
            rule(&format!("rule {i}"), "evt.type = open"),
        )
        .unwrap();
    }
    let (code, out) = check(dir.path());
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("rules: 3000 loaded"), "{out}");
    for i in 3000..10_001 {
        std::fs::write(dir.path().join(format!("r{i:05}.yaml")), "").unwrap();
    }
    let (code, out) = check(dir.path());
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("more than 10000 rule files"), "{out}");
}

#[test]
fn config_files_are_bounded_too() {
    let dir = TempDir::new("config");
    let fifo = mkfifo(&dir.path().join("vigil.yaml"));
    let (code, out) = vigil(&["rules", "list", "--config", fifo.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("vigil.yaml:0:0: is a FIFO"), "{out}");

    // Aliases of aliases in the config: serde_yaml refuses the repetition, with a position.
    let bomb = dir.path().join("bomb.yaml");
    let mut y = String::from("a0: &a0 [x,x,x,x,x,x,x,x,x,x]\n");
    for i in 1..=11 {
        y.push_str(&format!(
            "a{i}: &a{i} [{}]\n",
            vec![format!("*a{}", i - 1); 10].join(",")
        ));
    }
    y.push_str("rules: *a11\n");
    std::fs::write(&bomb, y).unwrap();
    let (code, out) = vigil(&["rules", "list", "--config", bomb.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("bomb.yaml:"), "{out}");
}
