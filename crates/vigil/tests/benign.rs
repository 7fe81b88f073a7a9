//! Normal developer and server work must not raise medium-or-higher alerts with the
//! built-in rules. Each test runs real tools under the real agent. Needs root and
//! eBPF; fails (never skips) when the agent cannot load.

mod common;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use common::*;
use serde_json::Value;

/// WARNING and above: what a user would be paged for.
const MEDIUM_OR_HIGHER: &[&str] = &["EMERGENCY", "ALERT", "CRITICAL", "ERROR", "WARNING"];

fn run(dir: &Path, cmd: &str, args: &[&str]) {
    let out = Command::new(cmd)
        .args(args)
        .current_dir(dir)
        .env("HOME", dir)
        .env("GIT_AUTHOR_NAME", "t")
        .env("GIT_AUTHOR_EMAIL", "t@example.com")
        .env("GIT_COMMITTER_NAME", "t")
        .env("GIT_COMMITTER_EMAIL", "t@example.com")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .unwrap_or_else(|e| panic!("{cmd}: {e}"));
    assert!(
        out.status.success(),
        "{cmd} {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Runs `work` under the agent with the built-in rules; fails on any medium-or-higher
/// alert from a process whose ancestry includes this test.
fn assert_quiet(what: &str, work: impl FnOnce(&Path)) {
    let dir = TempDir::new(what);
    let agent = Agent::start(&[]);
    work(dir.path());
    std::thread::sleep(Duration::from_millis(800));
    let (lines, summary) = agent.stop();
    let me = std::process::id() as u64;
    let ours = |v: &Value| {
        v["proc"]["pid"] == me
            || v["ancestors"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x["pid"] == me))
    };
    let loud: Vec<String> = alerts(&lines)
        .into_iter()
        .filter(|v| ours(v) && MEDIUM_OR_HIGHER.contains(&str_of(&v["alert"]["priority"])))
        .map(alert_line)
        .collect();
    assert!(
        loud.is_empty(),
        "{what} raised medium-or-higher alerts:\n{}",
        loud.join("\n")
    );
    // and the agent was really watching: it decoded events from the workload
    assert!(summary["userspace"]["decode"]["decoded"]["exec"].as_u64().unwrap_or(0) > 0);
}

#[test]
fn building_and_running_a_c_project_is_quiet() {
    assert_quiet("c-project", |d| {
        std::fs::write(d.join("util.c"), "int twice(int x) { return 2 * x; }\n").unwrap();
        std::fs::write(d.join("util.h"), "int twice(int x);\n").unwrap();
        std::fs::write(
            d.join("main.c"),
            "#include <stdio.h>\n#include \"util.h\"\nint main(void) { printf(\"%d\\n\", twice(21)); return 0; }\n",
        )
        .unwrap();
        std::fs::write(
            d.join("Makefile"),
            "prog: main.o util.o\n\tcc -o prog main.o util.o\n%.o: %.c util.h\n\tcc -O2 -c $<\n",
        )
        .unwrap();
        run(d, "make", &["-j2"]);
        run(d, "./prog", &[]);
        run(d, "make", &["-B", "-j2"]);
    });
}

#[test]
fn building_a_rust_project_is_quiet() {
    assert_quiet("rust-project", |d| {
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        run(d, &cargo, &["new", "--quiet", "--vcs", "none", "hello"]);
        // a build script: cargo compiles it, then runs what it just wrote
        std::fs::write(
            d.join("hello/build.rs"),
            "fn main() { println!(\"cargo:rerun-if-changed=build.rs\"); }\n",
        )
        .unwrap();
        let proj = d.join("hello");
        let target = d.join("target");
        let out = Command::new(&cargo)
            .args(["build", "--quiet", "--offline", "--target-dir"])
            .arg(&target)
            .current_dir(&proj)
            .env("HOME", d)
            .env(
                "CARGO_HOME",
                std::env::var("CARGO_HOME")
                    .unwrap_or_else(|_| format!("{}/.cargo", std::env::var("HOME").unwrap_or_default())),
            )
            .output()
            .expect("cargo build");
        assert!(
            out.status.success(),
            "cargo build failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        run(&proj, target.join("debug/hello").to_str().unwrap(), &[]);
    });
}

#[test]
fn git_init_commit_and_clone_are_quiet() {
    assert_quiet("git", |d| {
        let repo = d.join("repo");
        std::fs::create_dir_all(&repo).unwrap();
        run(&repo, "git", &["init", "-q"]);
        std::fs::write(repo.join("README"), "hello\n").unwrap();
        run(&repo, "git", &["add", "README"]);
        run(&repo, "git", &["commit", "-q", "-m", "first"]);
        run(d, "git", &["clone", "-q", repo.to_str().unwrap(), "copy"]);
        run(&d.join("copy"), "git", &["log", "--oneline"]);
    });
}

#[test]
fn ssh_keygen_in_a_temp_dir_is_quiet() {
    assert_quiet("ssh-keygen", |d| {
        run(
            d,
            "ssh-keygen",
            &[
                "-q",
                "-t",
                "ed25519",
                "-N",
                "",
                "-f",
                d.join("id_ed25519").to_str().unwrap(),
            ],
        );
        run(
            d,
            "ssh-keygen",
            &["-l", "-f", d.join("id_ed25519.pub").to_str().unwrap()],
        );
    });
}

#[test]
fn python_running_a_script_file_is_quiet() {
    assert_quiet("python-script", |d| {
        std::fs::write(
            d.join("job.py"),
            "import json, os\nprint(json.dumps({'cwd': os.getcwd(), 'n': sum(range(10))}))\n",
        )
        .unwrap();
        run(d, python(), &["job.py"]);
    });
}

#[test]
fn a_cron_like_parent_running_a_shell_script_is_quiet() {
    assert_quiet("cron-like", |d| {
        // what cron does: a daemon forks, the child runs `sh -c` with the job, the job runs tools
        std::fs::write(
            d.join("backup.sh"),
            "#!/bin/sh\nset -e\ncd \"$(dirname \"$0\")\"\nmkdir -p out\ntar czf out/etc-hosts.tgz -C /etc hosts\nls -l out > out/listing.txt\ndate >> out/listing.txt\n",
        )
        .unwrap();
        let script = d.join("backup.sh");
        std::fs::set_permissions(&script, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
        run(d, "/bin/sh", &["-c", &format!("{} >/dev/null 2>&1", script.display())]);
    });
}

/// A day of routine work from a detached shell (no `cargo test` in the ancestry, so no
/// build or package-manager lineage excuses anything): what administrators, package
/// installs, CI jobs, backup and log-rotation jobs and monitoring agents do. Not one
/// WARNING-or-higher alert.
const ROUTINE_WORK: &str = r#"
set -e
cd "$WORK"
# -- a package built and installed, with a conffile directly below /etc, then purged
mkdir -p pkg/DEBIAN pkg/usr/share/vigil-benign pkg/etc
printf 'Package: vigil-benign\nVersion: 1.0\nArchitecture: all\nMaintainer: t <t@example.com>\nDescription: benign test package\n' > pkg/DEBIAN/control
echo /etc/vigil-benign.conf > pkg/DEBIAN/conffiles
echo 'setting=1' > pkg/etc/vigil-benign.conf
echo 'data' > pkg/usr/share/vigil-benign/data.txt
dpkg-deb --build pkg vigil-benign.deb >/dev/null
dpkg -i vigil-benign.deb >/dev/null
dpkg -P vigil-benign >/dev/null
# -- administration: a config backed up and edited, services and jobs looked at
# (account changes with useradd/usermod are reported at WARNING by design: a new or
# changed account is what a backdoor is, and a human should see it)
cp /etc/hosts /etc/hosts.vigil-benign.bak
sed -i 's/^#vigil-benign.*//' /etc/hosts.vigil-benign.bak
rm -f /etc/hosts.vigil-benign.bak
systemctl --no-pager status >/dev/null 2>&1 || true
crontab -l >/dev/null 2>&1 || true
# -- monitoring: what an agent's collectors run every minute
ps aux >/dev/null; ss -tan >/dev/null; df -h >/dev/null; uptime >/dev/null; free -m >/dev/null
cat /proc/loadavg /proc/meminfo >/dev/null
# -- a CI job: clone, build with make -j, test, archive the artefacts
mkdir -p src && cd src
git init -q . && git config user.email ci@example.com && git config user.name ci && for i in 1 2 3 4 5 6; do printf 'int f%s(void) { return %s; }\n' $i $i > f$i.c; done
printf 'int main(void) { return 0; }\n' > main.c
printf 'OBJS=main.o f1.o f2.o f3.o f4.o f5.o f6.o\nprog: $(OBJS)\n\tcc -o $@ $(OBJS)\n%%.o: %%.c\n\tcc -O2 -c $<\n' > Makefile
git add -A && git commit -qm init
cd .. && git clone -q src build && make -s -j2 -C build >/dev/null && ./build/prog
tar czf artefacts.tgz build/prog build/*.o
# -- a backup job: user data archived, compressed file by file, old archives pruned
mkdir -p data/docs && for i in $(seq 1 30); do echo "record $i" > data/docs/r$i.txt; done
tar cf backup.tar data && xz -T1 backup.tar
cp -r data data-gz && gzip -r data-gz
find . -name '*.xz' -mmin +600 -delete
# -- log rotation with compression, as logrotate runs daily
mkdir -p logs && for i in 1 2 3; do seq 1 1000 > logs/app$i.log; done
printf '%s/logs/*.log {\n  rotate 3\n  compress\n  nodelaycompress\n  missingok\n}\n' "$WORK" > logrotate.conf
logrotate -f -s logrotate.state logrotate.conf
logrotate -f -s logrotate.state logrotate.conf
"#;

#[test]
fn a_day_of_admin_ci_backup_and_monitoring_work_is_quiet() {
    need("dpkg-deb");
    need("logrotate");
    need("make");
    let runner = Runner::start("benign-day");
    let agent = Agent::start(&[]);
    let work = runner.path().to_string_lossy().into_owned();
    let r = runner.run_env(&["/bin/sh", "-c", ROUTINE_WORK], &[("WORK", &work)]);
    assert_eq!(r.rc, 0, "the routine work itself failed: {}{}", r.out, r.err);
    std::thread::sleep(Duration::from_millis(800));
    let (lines, summary) = agent.stop();
    let loud: Vec<String> = alerts(&lines)
        .into_iter()
        .filter(|v| in_tree(v, runner.pid) && MEDIUM_OR_HIGHER.contains(&str_of(&v["alert"]["priority"])))
        .map(alert_line)
        .collect();
    assert!(
        loud.is_empty(),
        "routine work raised medium-or-higher alerts:\n{}",
        loud.join("\n")
    );
    // the agent saw the work: the package install, the builds and the rotations ran under it
    let execs = summary["userspace"]["decode"]["decoded"]["exec"].as_u64().unwrap_or(0);
    assert!(execs > 60, "the agent decoded {execs} execs");
}
