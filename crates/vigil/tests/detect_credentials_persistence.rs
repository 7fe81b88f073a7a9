//! Credential access and persistence detections (rules/credential_access.yaml,
//! rules/persistence.yaml) against real behaviour under the real agent with the built-in
//! rules. Every test does the thing for real (a HOME in a temp dir where the rule matches any
//! home; a uniquely named file in the system directory where the rule is about a fixed place,
//! removed afterwards by a drop guard, even on panic) and asserts the exact rule, its
//! priority, a meaningful part of its output and its ATT&CK technique. Near misses (benign
//! actions close to a detection) are done first and checked after a positive control has
//! been seen, so the agent has certainly processed them.
//!
//! Needs root and eBPF; fails (never skips) when the agent cannot load or a tool is missing.

mod common;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use common::*;

// ------------------------------------------------------------------------------------------
// helpers
// ------------------------------------------------------------------------------------------

/// The tests of this file run one at a time, setup included: several of them create and
/// remove the same shared directories (/var/spool/cron/crontabs, ...).
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// Undo steps for changes to the machine, run in reverse order on drop (also on panic).
#[derive(Default)]
struct Undo {
    steps: Vec<Box<dyn FnOnce()>>,
}

impl Undo {
    fn push(&mut self, f: impl FnOnce() + 'static) {
        self.steps.push(Box::new(f));
    }

    /// Removes this file afterwards.
    fn file(&mut self, p: impl Into<PathBuf>) -> PathBuf {
        let p = p.into();
        let q = p.clone();
        self.push(move || {
            let _ = fs::remove_file(&q);
        });
        p
    }

    /// Removes this directory and everything in it afterwards (for uniquely named directories).
    fn tree(&mut self, p: impl Into<PathBuf>) -> PathBuf {
        let p = p.into();
        let q = p.clone();
        self.push(move || {
            let _ = fs::remove_dir_all(&q);
        });
        p
    }

    /// Creates the directory and its missing parents; those created are removed afterwards
    /// if they are empty again (a shared system directory is never removed with others' files).
    fn ensure_dir(&mut self, dir: &Path) {
        let mut missing = Vec::new();
        let mut d = Some(dir);
        while let Some(x) = d {
            if x.exists() {
                break;
            }
            missing.push(x.to_path_buf());
            d = x.parent();
        }
        for m in missing.into_iter().rev() {
            fs::create_dir(&m).unwrap_or_else(|e| panic!("create {}: {e}", m.display()));
            let q = m.clone();
            self.push(move || {
                let _ = fs::remove_dir(&q);
            });
        }
    }
}

impl Drop for Undo {
    fn drop(&mut self) {
        while let Some(f) = self.steps.pop() {
            f();
        }
    }
}

/// A child process killed when dropped.
struct Reaped(Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Runs a program to completion (stdin from /dev/null, output captured) with extra
/// environment; panics with a clear message when the program is missing or fails.
fn run_env(prog: &str, args: &[&str], env: &[(&str, &str)]) -> (u32, String) {
    let child = Command::new(prog)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run `{prog}` ({e}): this test needs it installed"));
    let pid = child.id();
    let out = child.wait_with_output().unwrap_or_else(|e| panic!("{prog}: {e}"));
    assert!(
        out.status.success(),
        "`{prog} {args:?}` failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    (pid, String::from_utf8_lossy(&out.stdout).into_owned())
}

fn run(prog: &str, args: &[&str]) -> u32 {
    run_env(prog, args, &[]).0
}

/// `sh -c SCRIPT` with HOME set: what an intruder's shell one-liner does.
fn sh(script: &str, home: &Path) -> u32 {
    run_env("/bin/sh", &["-c", script], &[("HOME", home.to_str().unwrap())]).0
}

fn write(p: &Path, text: &str) {
    if let Some(d) = p.parent() {
        fs::create_dir_all(d).unwrap_or_else(|e| panic!("create {}: {e}", d.display()));
    }
    fs::write(p, text).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// A long-running child with a secret in its environment (the victim of /proc reads).
fn victim() -> Reaped {
    Reaped(
        Command::new("sleep")
            .arg("60")
            .env("VIGIL_TEST_DB_PASSWORD", "hunter2")
            .stdin(Stdio::null())
            .spawn()
            .expect("sleep"),
    )
}

fn dash_path() -> PathBuf {
    fs::canonicalize("/bin/dash").expect("dash is needed by these tests")
}

// ------------------------------------------------------------------------------------------
// credential access
// ------------------------------------------------------------------------------------------

#[test]
fn shadow_read_by_a_program_named_like_a_trusted_reader_is_detected() {
    let _serial = serial();
    let home = TempDir::new("cred-shadow");
    // a symlink named like PAM's helper: comm says unix_chkpwd, the executable is cat
    let fake = home.path().join("unix_chkpwd");
    std::os::unix::fs::symlink("/bin/cat", &fake).unwrap();
    let agent = Agent::start(&[]);
    // near miss: a genuine shadow-utils tool reads /etc/shadow
    run("chage", &["-l", "root"]);
    run(s(&fake), &["/etc/shadow"]);
    run("cat", &["/etc/gshadow"]);
    expect_alert(
        &agent,
        "Password hash database read",
        "ERROR",
        "T1003.008",
        &[
            "/etc/shadow opened by unix_chkpwd",
            &format!("exe={}", fs::canonicalize("/bin/cat").unwrap().display()),
        ],
    );
    let (_, lines) = expect_alert(
        &agent,
        "Password hash database read",
        "ERROR",
        "T1003.008",
        &["/etc/gshadow opened by cat"],
    );
    assert_no_alert(&lines, "Password hash database read", output_has("opened by chage"));
}

#[test]
fn hard_link_to_shadow_is_detected() {
    let _serial = serial();
    let dir = TempDir::new("cred-link");
    let link = dir.path().join("hashes");
    let agent = Agent::start(&[]);
    // a link on another file system fails (EXDEV): the attempt is reported all the same
    let _ = Command::new("ln")
        .arg("/etc/shadow")
        .arg(&link)
        .stderr(Stdio::null())
        .status()
        .expect("ln");
    expect_alert(
        &agent,
        "Password hash database linked",
        "ERROR",
        "T1003.008",
        &[&format!("{} -> /etc/shadow", link.display()), "by ln"],
    );
}

#[test]
fn ssh_private_key_read_by_cat_is_detected_and_ssh_keygen_is_not() {
    let _serial = serial();
    let home = TempDir::new("cred-sshkey");
    let ssh_dir = home.path().join(".ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    let key = ssh_dir.join("id_ed25519");
    let mut undo = Undo::default();
    // any non-public file of /root/.ssh counts, whatever its name
    undo.ensure_dir(Path::new("/root/.ssh"));
    let deploy = undo.file(format!("/root/.ssh/{}", unique("deploy_key")));
    write(&deploy, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n");
    let agent = Agent::start(&[]);
    // near miss: ssh-keygen writes the key, then reads it back to print the public half
    run("ssh-keygen", &["-q", "-t", "ed25519", "-N", "", "-f", s(&key)]);
    run("ssh-keygen", &["-y", "-f", s(&key)]);
    run("cat", &[s(&key)]);
    run("cat", &[s(&deploy)]);
    // a key-like name in any home's .ssh
    let custom = ssh_dir.join("github_deploy_rsa");
    fs::copy(&key, &custom).unwrap();
    run("cat", &[s(&custom)]);
    let (_, lines) = expect_alert(
        &agent,
        "SSH private key read by non-SSH program",
        "ERROR",
        "T1552.004",
        &[&format!("{} opened by cat", key.display())],
    );
    expect_alert(
        &agent,
        "SSH private key read by non-SSH program",
        "ERROR",
        "T1552.004",
        &[&format!("{} opened by cat", deploy.display())],
    );
    expect_alert(
        &agent,
        "SSH private key read by non-SSH program",
        "ERROR",
        "T1552.004",
        &[&format!("{} opened by cat", custom.display())],
    );
    assert_no_alert(
        &lines,
        "SSH private key read by non-SSH program",
        output_has("opened by ssh-keygen"),
    );
    assert_no_alert(&lines, "SSH authorized_keys modified", output_has(s(home.path())));
}

#[test]
fn ssh_host_key_read_is_detected() {
    let _serial = serial();
    let mut undo = Undo::default();
    let hostkey = undo.file(format!("/etc/ssh/ssh_host_{}_key", unique("hk")));
    write(&hostkey, "-----BEGIN OPENSSH PRIVATE KEY-----\nnot a key\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&hostkey)]);
    expect_alert(
        &agent,
        "SSH host private key read",
        "ERROR",
        "T1552.004",
        &[&format!("{} opened by cat", hostkey.display())],
    );
}

#[test]
fn cloud_credentials_read_by_cat_and_python_are_detected() {
    let _serial = serial();
    let home = TempDir::new("cred-cloud");
    let aws = home.path().join(".aws/credentials");
    write(
        &aws,
        "[default]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = x\n",
    );
    let gcloud = home.path().join(".config/gcloud/application_default_credentials.json");
    write(&gcloud, "{}\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&aws)]);
    run_python(&format!("open({:?}).read()", s(&gcloud)));
    expect_alert(
        &agent,
        "Cloud credentials read by unexpected program",
        "ERROR",
        "T1552.001",
        &[&format!("{} opened by cat", aws.display())],
    );
    expect_alert(
        &agent,
        "Cloud credentials read by unexpected program",
        "ERROR",
        "T1552.001",
        &[&format!("{} opened by python", gcloud.display())],
    );
}

#[test]
fn kubeconfig_read_by_cat_is_detected() {
    let _serial = serial();
    let home = TempDir::new("cred-kube");
    let kube = home.path().join(".kube/config");
    write(&kube, "apiVersion: v1\nkind: Config\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&kube)]);
    expect_alert(
        &agent,
        "Kubernetes credentials read by unexpected program",
        "ERROR",
        "T1552.001",
        &[&format!("{} opened by cat", kube.display())],
    );
}

#[test]
fn service_account_token_read_by_cat_is_detected() {
    let _serial = serial();
    let mut undo = Undo::default();
    let dir = Path::new("/run/secrets/kubernetes.io/serviceaccount");
    undo.ensure_dir(dir);
    let token = undo.file(dir.join(unique("token")));
    write(&token, "eyJhbGciOi.not.a.token\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&token)]);
    expect_alert(
        &agent,
        "Service account token read by a shell tool",
        "WARNING",
        "T1528",
        &[&format!("{} opened by cat", token.display())],
    );
}

#[test]
fn registry_credentials_read_by_cat_is_detected() {
    let _serial = serial();
    let home = TempDir::new("cred-registry");
    let docker = home.path().join(".docker/config.json");
    write(&docker, "{\"auths\":{}}\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&docker)]);
    expect_alert(
        &agent,
        "Container registry credentials read by unexpected program",
        "ERROR",
        "T1552.001",
        &[&format!("{} opened by cat", docker.display())],
    );
}

#[test]
fn developer_tokens_read_by_the_wrong_program_are_detected_and_git_is_not() {
    let _serial = serial();
    let home = TempDir::new("cred-devtoken");
    let gitcred = home.path().join(".git-credentials");
    write(&gitcred, "https://user:token@example.com\n");
    let npmrc = home.path().join(".npmrc");
    write(&npmrc, "//registry.npmjs.org/:_authToken=x\n");
    let h = s(home.path());
    let agent = Agent::start(&[]);
    // near miss: git's credential store reads its own file
    let out = Command::new("git")
        .args(["credential-store", "get"])
        .env("HOME", h)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin
                .take()
                .unwrap()
                .write_all(b"protocol=https\nhost=example.com\n\n")?;
            c.wait()
        })
        .expect("git is needed by this test");
    assert!(out.success(), "git credential-store get failed");
    run("cat", &[s(&gitcred)]);
    // python is paired with .netrc/.pypirc, not with npm's token
    run_python(&format!("open({:?}).read()", s(&npmrc)));
    let (_, lines) = expect_alert(
        &agent,
        "Developer token file read by unexpected program",
        "ERROR",
        "T1552.001",
        &[&format!("{} opened by cat", gitcred.display())],
    );
    expect_alert(
        &agent,
        "Developer token file read by unexpected program",
        "ERROR",
        "T1552.001",
        &[&format!("{} opened by python", npmrc.display())],
    );
    assert_no_alert(
        &lines,
        "Developer token file read by unexpected program",
        output_has("opened by git"),
    );
}

#[test]
fn browser_password_store_copied_is_detected() {
    let _serial = serial();
    let home = TempDir::new("cred-browser");
    let logins = home
        .path()
        .join(".mozilla/firefox/abcd1234.default-release/logins.json");
    write(&logins, "{\"logins\":[]}\n");
    let chrome = home.path().join(".config/google-chrome/Default/Login Data");
    write(&chrome, "SQLite format 3\n");
    let agent = Agent::start(&[]);
    run("cp", &[s(&logins), s(&chrome), "-t", s(home.path())]);
    expect_alert(
        &agent,
        "Browser credential store read by non-browser",
        "ERROR",
        "T1555.003",
        &[&format!("{} opened by cp", logins.display())],
    );
    expect_alert(
        &agent,
        "Browser credential store read by non-browser",
        "ERROR",
        "T1555.003",
        &[&format!("{} opened by cp", chrome.display())],
    );
}

#[test]
fn tls_private_keys_read_by_cat_are_detected() {
    let _serial = serial();
    let mut undo = Undo::default();
    undo.ensure_dir(Path::new("/etc/ssl/private"));
    let in_key_dir = undo.file(format!("/etc/ssl/private/{}.pem", unique("tls")));
    write(&in_key_dir, "-----BEGIN PRIVATE KEY-----\nnot a key\n");
    // a key-named file in a server's configuration directory
    let cfg_dir = undo.tree(format!("/etc/ssl/{}", unique("site")));
    let by_name = cfg_dir.join("server.key");
    write(&by_name, "-----BEGIN PRIVATE KEY-----\nnot a key\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&in_key_dir)]);
    run("cat", &[s(&by_name)]);
    expect_alert(
        &agent,
        "TLS private key read by unexpected program",
        "ERROR",
        "T1552.004",
        &[&format!("{} opened by cat", in_key_dir.display())],
    );
    expect_alert(
        &agent,
        "TLS private key read by unexpected program",
        "ERROR",
        "T1552.004",
        &[&format!("{} opened by cat", by_name.display())],
    );
}

#[test]
fn gnupg_secret_key_read_by_cat_is_detected() {
    let _serial = serial();
    let home = TempDir::new("cred-gpg");
    let key = home
        .path()
        .join(".gnupg/private-keys-v1.d/0123456789ABCDEF0123456789ABCDEF01234567.key");
    write(&key, "(private-key (not a key))\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&key)]);
    expect_alert(
        &agent,
        "GnuPG secret key read by unexpected program",
        "ERROR",
        "T1552.004",
        &[&format!("{} opened by cat", key.display())],
    );
}

#[test]
fn password_manager_database_read_by_cat_is_detected() {
    let _serial = serial();
    let home = TempDir::new("cred-kdbx");
    let kdbx = home.path().join("Passwords.kdbx");
    write(&kdbx, "not a keepass file\n");
    let agent = Agent::start(&[]);
    run("cat", &[s(&kdbx)]);
    expect_alert(
        &agent,
        "Password manager database read by unexpected program",
        "ERROR",
        "T1555.005",
        &[&format!("{} opened by cat", kdbx.display())],
    );
}

#[test]
fn recursive_grep_for_passwords_is_detected_and_a_single_file_grep_is_not() {
    let _serial = serial();
    let dir = TempDir::new("cred-grep");
    write(&dir.path().join("app/config.ini"), "db_password = hunter2\n");
    let notes = dir.path().join("notes.txt");
    write(&notes, "change the password monthly\n");
    let agent = Agent::start(&[]);
    // near miss: looking something up in one known file
    run("grep", &["-i", "password", s(&notes)]);
    run("grep", &["-rni", "password", s(dir.path())]);
    let (_, lines) = expect_alert(
        &agent,
        "Recursive search for passwords in files",
        "WARNING",
        "T1552.001",
        &[&format!("grep -rni password {}", dir.path().display())],
    );
    assert_no_alert(&lines, "Recursive search for passwords in files", output_has(s(&notes)));
}

#[test]
fn searches_for_private_keys_are_detected() {
    let _serial = serial();
    let dir = TempDir::new("cred-keysearch");
    write(&dir.path().join("x/id_rsa"), "-----BEGIN RSA PRIVATE KEY-----\n");
    let agent = Agent::start(&[]);
    run("find", &[s(dir.path()), "-name", "id_rsa"]);
    let _ = Command::new("grep")
        .args(["-rl", "BEGIN RSA PRIVATE KEY", s(dir.path())])
        .stdout(Stdio::null())
        .status()
        .expect("grep");
    expect_alert(
        &agent,
        "Search for private keys",
        "WARNING",
        "T1552.004",
        &[&format!("find {} -name id_rsa", dir.path().display())],
    );
    expect_alert(
        &agent,
        "Search for private keys",
        "WARNING",
        "T1552.004",
        &[&format!("grep -rl BEGIN RSA PRIVATE KEY {}", dir.path().display())],
    );
}

#[test]
fn another_process_environment_read_is_detected_but_own_and_ps_are_not() {
    let _serial = serial();
    let v = victim();
    let pid = v.0.id();
    let agent = Agent::start(&[]);
    // near misses: a process reading its own environment; ps printing environments
    let (self_reader, _) = run_env("cat", &["/proc/self/environ"], &[]);
    run("ps", &["eww", "-p", &pid.to_string()]);
    run("cat", &[&format!("/proc/{pid}/environ")]);
    let (_, lines) = expect_alert(
        &agent,
        "Process environment read from another process",
        "ERROR",
        "T1003.007",
        &[&format!("/proc/{pid}/environ opened by cat")],
    );
    assert_no_alert(
        &lines,
        "Process environment read from another process",
        output_has(&format!("/proc/{self_reader}/environ")),
    );
    assert_no_alert(
        &lines,
        "Process environment read from another process",
        output_has("opened by ps"),
    );
}

#[test]
fn another_process_memory_opened_is_detected() {
    let _serial = serial();
    let v = victim();
    let pid = v.0.id();
    let agent = Agent::start(&[]);
    run_python(&format!("f = open('/proc/{pid}/mem', 'rb'); f.close()"));
    expect_alert(
        &agent,
        "Process memory read from another process",
        "ERROR",
        "T1003.007",
        &[&format!("/proc/{pid}/mem by python")],
    );
}

#[test]
fn another_process_memory_map_read_is_reported() {
    let _serial = serial();
    let v = victim();
    let pid = v.0.id();
    let agent = Agent::start(&[]);
    run("cat", &[&format!("/proc/{pid}/maps")]);
    expect_alert(
        &agent,
        "Process memory map read from another process",
        "NOTICE",
        "T1003.007",
        &[&format!("/proc/{pid}/maps by cat")],
    );
}

// ------------------------------------------------------------------------------------------
// persistence
// ------------------------------------------------------------------------------------------

#[test]
fn authorized_keys_appended_or_renamed_into_place_is_detected() {
    let _serial = serial();
    let home = TempDir::new("persist-authkeys");
    let ssh_dir = home.path().join(".ssh");
    fs::create_dir_all(&ssh_dir).unwrap();
    let ak = ssh_dir.join("authorized_keys");
    let ak2 = ssh_dir.join("authorized_keys2");
    let agent = Agent::start(&[]);
    // near miss: ssh-keygen writes a key pair into ~/.ssh
    run(
        "ssh-keygen",
        &["-q", "-t", "ed25519", "-N", "", "-f", s(&ssh_dir.join("id_ed25519"))],
    );
    sh(
        "echo 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIE1vigiltest attacker' >> \"$HOME/.ssh/authorized_keys\"",
        home.path(),
    );
    sh("echo 'ssh-rsa AAAAB3vigiltest attacker' > \"$HOME/.ssh/ak.new\" && mv \"$HOME/.ssh/ak.new\" \"$HOME/.ssh/authorized_keys2\"", home.path());
    let (_, lines) = expect_alert(
        &agent,
        "SSH authorized_keys modified",
        "ERROR",
        "T1098.004",
        &[&format!("authorized_keys modified: {}", ak.display()), "by sh"],
    );
    expect_alert(
        &agent,
        "SSH authorized_keys modified",
        "ERROR",
        "T1098.004",
        &[&format!("dest={}", ak2.display()), "by mv"],
    );
    assert_no_alert(&lines, "SSH authorized_keys modified", output_has("id_ed25519"));
    assert_no_alert(
        &lines,
        "SSH private key read by non-SSH program",
        output_has(s(home.path())),
    );
}

#[test]
fn cron_job_written_or_moved_into_cron_d_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-cron");
    let mut undo = Undo::default();
    let direct = undo.file(format!("/etc/cron.d/{}", unique("direct")));
    let moved = undo.file(format!("/etc/cron.d/{}", unique("moved")));
    let staged = scratch.path().join("job");
    let agent = Agent::start(&[]);
    sh(
        &format!("echo '# vigil test: no job' > {}", direct.display()),
        scratch.path(),
    );
    sh(
        &format!(
            "echo '# vigil test: no job' > {0} && mv {0} {1}",
            staged.display(),
            moved.display()
        ),
        scratch.path(),
    );
    expect_alert(
        &agent,
        "Cron table written directly",
        "ERROR",
        "T1053.003",
        &[&format!("Cron table written: {}", direct.display()), "by sh"],
    );
    // mv renames within a file system, or copies (open for writing) across them
    expect_alert(
        &agent,
        "Cron table written directly",
        "ERROR",
        "T1053.003",
        &[s(&moved), "by mv"],
    );
}

/// A genuine-looking crontab tool: a binary named `crontab` in a system directory (a copy of
/// dash: crontab itself is not installed on the test machines), and the spool directory.
fn fake_crontab_tool(undo: &mut Undo) -> (PathBuf, PathBuf) {
    let bin_dir = undo.tree(format!("/usr/local/lib/{}", unique("crontab")));
    fs::create_dir_all(&bin_dir).unwrap();
    let tool = bin_dir.join("crontab");
    fs::copy(dash_path(), &tool).expect("copy dash");
    fs::set_permissions(&tool, fs::Permissions::from_mode(0o755)).unwrap();
    let spool = PathBuf::from("/var/spool/cron/crontabs");
    undo.ensure_dir(&spool);
    (tool, spool)
}

#[test]
fn crontab_installed_without_a_terminal_is_a_warning_and_a_fake_crontab_is_an_error() {
    let _serial = serial();
    let scratch = TempDir::new("persist-crontab");
    let mut undo = Undo::default();
    let (tool, spool) = fake_crontab_tool(&mut undo);
    let table = undo.file(spool.join(unique("user")));
    let spoofed = undo.file(spool.join(unique("spoof")));
    // a symlink named crontab to a shell is not the crontab tool
    let link = scratch.path().join("crontab");
    std::os::unix::fs::symlink(dash_path(), &link).unwrap();
    let agent = Agent::start(&[]);
    run(
        s(&tool),
        &["-c", &format!("echo '# vigil test: no job' > {}", table.display())],
    );
    run(
        s(&link),
        &["-c", &format!("echo '# vigil test: no job' > {}", spoofed.display())],
    );
    let (_, lines) = expect_alert(
        &agent,
        "Crontab installed without a terminal",
        "WARNING",
        "T1053.003",
        &[s(&table), "by crontab"],
    );
    expect_alert(
        &agent,
        "Cron table written directly",
        "ERROR",
        "T1053.003",
        &[s(&spoofed), "by crontab"],
    );
    assert_no_alert(&lines, "Cron table written directly", output_has(s(&table)));
}

#[test]
fn crontab_edited_at_a_terminal_is_a_notice() {
    let _serial = serial();
    let mut undo = Undo::default();
    let (tool, spool) = fake_crontab_tool(&mut undo);
    let table = undo.file(spool.join(unique("tty")));
    let agent = Agent::start(&[]);
    // python's pty module gives the tool a controlling terminal
    run_python(&format!(
        "import pty; pty.spawn([{:?}, '-c', \"echo '# vigil test' > {}\"])",
        s(&tool),
        table.display()
    ));
    let (_, lines) = expect_alert(
        &agent,
        "Crontab edited at a terminal",
        "NOTICE",
        "T1053.003",
        &[s(&table), "by crontab"],
    );
    assert_no_alert(&lines, "Crontab installed without a terminal", output_has(s(&table)));
    assert_no_alert(&lines, "Cron table written directly", output_has(s(&table)));
}

#[test]
fn at_job_written_to_the_spool_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-at");
    let mut undo = Undo::default();
    let spool = PathBuf::from("/var/spool/cron/atjobs");
    undo.ensure_dir(&spool);
    let job = undo.file(spool.join(unique("a0001")));
    let agent = Agent::start(&[]);
    sh(&format!("echo '#!/bin/sh' > {}", job.display()), scratch.path());
    let (_, lines) = expect_alert(&agent, "At job scheduled", "WARNING", "T1053.002", &[s(&job), "by sh"]);
    assert_no_alert(&lines, "Cron table written directly", output_has(s(&job)));
}

#[test]
fn systemd_unit_written_or_symlinked_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-unit");
    let mut undo = Undo::default();
    let unit = undo.file(format!("/etc/systemd/system/{}.service", unique("svc")));
    let linked = undo.file(format!("/etc/systemd/system/{}.service", unique("lnk")));
    let payload = scratch.path().join("evil.service");
    write(&payload, "[Service]\nExecStart=/bin/true\n");
    let agent = Agent::start(&[]);
    sh(
        &format!("printf '[Service]\\nExecStart=/bin/true\\n' > {}", unit.display()),
        scratch.path(),
    );
    run("ln", &["-s", s(&payload), s(&linked)]);
    expect_alert(
        &agent,
        "Systemd unit file written",
        "ERROR",
        "T1543.002",
        &[&format!("Systemd unit written: {}", unit.display()), "by sh"],
    );
    expect_alert(
        &agent,
        "Systemd unit file written",
        "ERROR",
        "T1543.002",
        &[&format!("dest={}", linked.display()), "by ln"],
    );
}

#[test]
fn systemd_timer_written_is_detected_as_a_timer() {
    let _serial = serial();
    let scratch = TempDir::new("persist-timer");
    let mut undo = Undo::default();
    let timer = undo.file(format!("/etc/systemd/system/{}.timer", unique("tmr")));
    let agent = Agent::start(&[]);
    sh(
        &format!("printf '[Timer]\\nOnCalendar=yearly\\n' > {}", timer.display()),
        scratch.path(),
    );
    let (_, lines) = expect_alert(
        &agent,
        "Systemd timer written",
        "ERROR",
        "T1053.006",
        &[s(&timer), "by sh"],
    );
    assert_no_alert(&lines, "Systemd unit file written", output_has(s(&timer)));
}

#[test]
fn user_systemd_unit_written_is_detected() {
    let _serial = serial();
    // any home: the rule matches the user unit directories wherever the home is
    let home = TempDir::new("persist-userunit");
    let dir = home.path().join(".config/systemd/user");
    fs::create_dir_all(&dir).unwrap();
    let unit = dir.join("updater.service");
    let timer = dir.join("updater.timer");
    let agent = Agent::start(&[]);
    sh(
        r#"printf '[Service]\nExecStart=/bin/true\n' > "$HOME/.config/systemd/user/updater.service""#,
        home.path(),
    );
    sh(
        r#"printf '[Timer]\nOnBootSec=1\n' > "$HOME/t.new" && mv "$HOME/t.new" "$HOME/.config/systemd/user/updater.timer""#,
        home.path(),
    );
    expect_alert(
        &agent,
        "User systemd unit written",
        "WARNING",
        "T1543.002",
        &[s(&unit), "by sh"],
    );
    expect_alert(
        &agent,
        "User systemd unit written",
        "WARNING",
        "T1543.002",
        &[&format!("dest={}", timer.display()), "by mv"],
    );
}

#[test]
fn systemctl_enable_is_a_notice() {
    let _serial = serial();
    let name = format!("{}.service", unique("enable"));
    let mut undo = Undo::default();
    let unit = undo.file(format!("/etc/systemd/system/{name}"));
    let wants = PathBuf::from("/etc/systemd/system/multi-user.target.wants").join(&name);
    {
        let wants = wants.clone();
        undo.push(move || {
            let _ = fs::remove_file(&wants);
        });
    }
    write(
        &unit,
        "[Unit]\nDescription=vigil test\n[Service]\nExecStart=/bin/true\n[Install]\nWantedBy=multi-user.target\n",
    );
    let agent = Agent::start(&[]);
    // offline (--root): systemctl creates the links itself, as it does without a running manager
    run("systemctl", &["--root=/", "--quiet", "enable", &name]);
    let (_, lines) = expect_alert(
        &agent,
        "Systemd unit enabled or edited with systemctl",
        "NOTICE",
        "T1543.002",
        &[&format!("dest={}", wants.display()), "by systemctl"],
    );
    assert_no_alert(
        &lines,
        "Systemd unit file written",
        output_has(&format!("dest={}", wants.display())),
    );
    run("systemctl", &["--root=/", "--quiet", "disable", &name]);
}

#[test]
fn init_script_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-initd");
    let mut undo = Undo::default();
    let script = undo.file(format!("/etc/init.d/{}", unique("init")));
    let agent = Agent::start(&[]);
    sh(&format!("echo '#!/bin/sh' > {}", script.display()), scratch.path());
    expect_alert(
        &agent,
        "Init script or rc file written",
        "ERROR",
        "T1037.004",
        &[s(&script), "by sh"],
    );
}

#[test]
fn system_shell_startup_file_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-profiled");
    let mut undo = Undo::default();
    let file = undo.file(format!("/etc/profile.d/{}.sh", unique("prof")));
    let agent = Agent::start(&[]);
    sh(&format!("echo '# vigil test' > {}", file.display()), scratch.path());
    expect_alert(
        &agent,
        "System shell startup file written",
        "ERROR",
        "T1546.004",
        &[s(&file), "by sh"],
    );
}

#[test]
fn user_bashrc_appended_is_detected_and_reading_it_is_not() {
    let _serial = serial();
    let home = TempDir::new("persist-bashrc");
    let rc = home.path().join(".bashrc");
    write(&rc, "# ~/.bashrc\n");
    let profile = home.path().join(".profile");
    let agent = Agent::start(&[]);
    // near miss: reading the file (as every interactive shell does)
    run("cat", &[s(&rc)]);
    sh(
        "echo 'nohup /tmp/.x >/dev/null 2>&1 &' >> \"$HOME/.bashrc\"",
        home.path(),
    );
    sh(
        "echo '# x' > \"$HOME/p.new\" && mv \"$HOME/p.new\" \"$HOME/.profile\"",
        home.path(),
    );
    let (_, lines) = expect_alert(
        &agent,
        "User shell startup file written",
        "WARNING",
        "T1546.004",
        &[s(&rc), "by sh"],
    );
    expect_alert(
        &agent,
        "User shell startup file written",
        "WARNING",
        "T1546.004",
        &[&format!("dest={}", profile.display()), "by mv"],
    );
    assert_no_alert(&lines, "User shell startup file written", output_has("by cat"));
}

/// Opens a file for appending without writing anything: the event, no change.
fn open_for_append(path: &str) -> u32 {
    run_python(&format!(
        "import os; os.close(os.open({path:?}, os.O_WRONLY | os.O_APPEND))"
    ))
    .0
}

#[test]
fn passwd_and_shadow_opened_for_writing_are_detected() {
    let _serial = serial();
    // a symlink named like an account tool is not one (comm useradd, exepath python)
    let dir = TempDir::new("persist-passwd");
    let fake = dir.path().join("useradd");
    let py = String::from_utf8(
        Command::new(python())
            .args(["-c", "import sys; print(sys.executable)"])
            .output()
            .expect("python3")
            .stdout,
    )
    .unwrap();
    std::os::unix::fs::symlink(fs::canonicalize(py.trim()).unwrap(), &fake).unwrap();
    let agent = Agent::start(&[]);
    open_for_append("/etc/passwd");
    open_for_append("/etc/shadow");
    run(
        s(&fake),
        &[
            "-c",
            "import os; os.close(os.open('/etc/group', os.O_WRONLY | os.O_APPEND))",
        ],
    );
    expect_alert(
        &agent,
        "Account database modified",
        "ERROR",
        "T1136.001",
        &["/etc/group", "by useradd"],
    );
    expect_alert(
        &agent,
        "Account database modified",
        "ERROR",
        "T1136.001",
        &["/etc/passwd", "by python"],
    );
    expect_alert(
        &agent,
        "Account database modified",
        "ERROR",
        "T1136.001",
        &["/etc/shadow", "by python"],
    );
}

#[test]
fn sudoers_drop_in_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-sudoers");
    let mut undo = Undo::default();
    undo.ensure_dir(Path::new("/etc/sudoers.d"));
    let file = undo.file(format!("/etc/sudoers.d/{}", unique("sudo")));
    let agent = Agent::start(&[]);
    sh(
        &format!("echo '# vigil test: no grant' > {}", file.display()),
        scratch.path(),
    );
    expect_alert(&agent, "Sudoers modified", "ERROR", "T1548.003", &[s(&file), "by sh"]);
}

#[test]
fn pam_stack_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-pamd");
    let mut undo = Undo::default();
    let file = undo.file(format!("/etc/pam.d/{}", unique("pam")));
    let agent = Agent::start(&[]);
    sh(&format!("echo '# vigil test' > {}", file.display()), scratch.path());
    expect_alert(
        &agent,
        "PAM configuration modified",
        "ERROR",
        "T1556.003",
        &[s(&file), "by sh"],
    );
}

#[test]
fn pam_module_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-pammod");
    let mut undo = Undo::default();
    let dir = Path::new("/usr/lib/x86_64-linux-gnu/security");
    undo.ensure_dir(dir);
    let module = undo.file(dir.join(format!("{}.so", unique("pam_x"))));
    let agent = Agent::start(&[]);
    sh(&format!(": > {}", module.display()), scratch.path());
    expect_alert(
        &agent,
        "PAM module written",
        "ERROR",
        "T1556.003",
        &[s(&module), "by sh"],
    );
}

#[test]
fn ld_so_preload_opened_for_writing_is_detected() {
    let _serial = serial();
    let mut undo = Undo::default();
    let preload = Path::new("/etc/ld.so.preload");
    if !preload.exists() {
        // created empty by the open below (an empty list preloads nothing); removed afterwards
        undo.push(|| {
            if fs::metadata("/etc/ld.so.preload").is_ok_and(|m| m.len() == 0) {
                let _ = fs::remove_file("/etc/ld.so.preload");
            }
        });
    }
    let agent = Agent::start(&[]);
    run_python("import os; os.close(os.open('/etc/ld.so.preload', os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644))");
    expect_alert(
        &agent,
        "Linker preload list modified",
        "ERROR",
        "T1574.006",
        &["/etc/ld.so.preload", "by python"],
    );
}

#[test]
fn ld_so_conf_d_file_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-ldconf");
    let mut undo = Undo::default();
    let file = undo.file(format!("/etc/ld.so.conf.d/{}.conf", unique("ld")));
    let agent = Agent::start(&[]);
    sh(&format!("echo '# vigil test' > {}", file.display()), scratch.path());
    expect_alert(
        &agent,
        "Linker search path configuration modified",
        "WARNING",
        "T1574.006",
        &[s(&file), "by sh"],
    );
}

#[test]
fn udev_rule_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-udev");
    let mut undo = Undo::default();
    let dir = Path::new("/etc/udev/rules.d");
    undo.ensure_dir(dir);
    let rule = undo.file(dir.join(format!("99-{}.rules", unique("udev"))));
    let agent = Agent::start(&[]);
    sh(&format!("echo '# vigil test' > {}", rule.display()), scratch.path());
    expect_alert(&agent, "Udev rule written", "ERROR", "T1546.017", &[s(&rule), "by sh"]);
}

#[test]
fn apt_hook_written_is_detected() {
    let _serial = serial();
    let scratch = TempDir::new("persist-apt");
    let mut undo = Undo::default();
    let dir = Path::new("/etc/apt/apt.conf.d");
    undo.ensure_dir(dir);
    let hook = undo.file(dir.join(format!("99{}", unique("apt"))));
    let agent = Agent::start(&[]);
    sh(&format!("echo '// vigil test' > {}", hook.display()), scratch.path());
    expect_alert(
        &agent,
        "Package manager hook written",
        "ERROR",
        "T1546.016",
        &[s(&hook), "by sh"],
    );
}

#[test]
fn git_hook_in_a_system_repository_is_detected_but_git_init_is_not() {
    let _serial = serial();
    let mut undo = Undo::default();
    let repo = undo.tree(format!("/opt/{}", unique("repo")));
    fs::create_dir_all(&repo).unwrap();
    let hook = repo.join(".git/hooks/post-merge");
    let activated = repo.join(".git/hooks/pre-commit");
    let agent = Agent::start(&[]);
    // near miss: git init writes the *.sample hooks
    run("git", &["init", "-q", s(&repo)]);
    sh(&format!("printf '#!/bin/sh\\n' > {}", hook.display()), &repo);
    // a sample renamed into an active hook
    run("mv", &[&format!("{}.sample", activated.display()), s(&activated)]);
    let (_, lines) = expect_alert(
        &agent,
        "Git hook written in a system repository",
        "WARNING",
        "T1546",
        &[s(&hook), "by sh"],
    );
    expect_alert(
        &agent,
        "Git hook written in a system repository",
        "WARNING",
        "T1546",
        &[&format!("dest={}", activated.display()), "by mv"],
    );
    assert_no_alert(&lines, "Git hook written in a system repository", output_has("by git"));
}
