//! Real container runtimes for the container tests: podman (and its API service) and
//! docker (a private dockerd), a small local image (busybox, no registry), and runs.
//! Each fails the test with what to install when a runtime cannot start.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Once;
use std::time::{Duration, Instant};

use super::runner::{need, Ran, Runner};
use super::TempDir;

/// The test image, in both runtimes: busybox with its applets, an `apt-get` stand-in (a
/// script, so that a package manager's name runs) and a passwd file.
pub const IMAGE: &str = "localhost/vigil-test:1";

/// podman options our machines need: runc (crun refuses hybrid cgroups), cgroupfs (no
/// systemd), rlimits we may set without CAP_SYS_RESOURCE.
pub const PODMAN_RUN: &[&str] = &[
    "run",
    "--rm",
    "--runtime",
    "runc",
    "--cgroup-manager=cgroupfs",
    "--ulimit",
    "nofile=1024:1024",
    "--ulimit",
    "nproc=1024:1024",
];

/// A root filesystem tarball for the image.
fn rootfs_tar(dir: &Path) -> PathBuf {
    let root = dir.join("rootfs");
    for d in ["bin", "etc", "tmp", "root"] {
        std::fs::create_dir_all(root.join(d)).expect("rootfs dirs");
    }
    std::fs::copy(need("busybox"), root.join("bin/busybox")).expect("copy busybox (busybox-static)");
    for applet in [
        "sh", "cat", "ls", "id", "echo", "sleep", "nc", "cp", "chmod", "true", "rm", "mkdir",
    ] {
        std::os::unix::fs::symlink("busybox", root.join("bin").join(applet)).expect("applet link");
    }
    std::fs::write(root.join("bin/apt-get"), "#!/bin/sh\nexit 0\n").expect("apt-get stand-in");
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(root.join("bin/apt-get"), std::fs::Permissions::from_mode(0o755)).expect("chmod");
    std::fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").expect("passwd");
    let tar = dir.join("rootfs.tar");
    let st = Command::new(need("tar"))
        .arg("-C")
        .arg(&root)
        .arg("-cf")
        .arg(&tar)
        .arg(".")
        .status()
        .expect("tar");
    assert!(st.success(), "tar of the test rootfs failed");
    tar
}

fn ok(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what} failed ({}):\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

static PODMAN_IMAGE: Once = Once::new();

/// Imports the test image into podman (once per test binary; a later import replaces it).
pub fn podman_image() {
    PODMAN_IMAGE.call_once(|| {
        let dir = TempDir::new("image");
        let tar = rootfs_tar(dir.path());
        ok(
            Command::new(need("podman"))
                .args(["import", &tar.display().to_string(), IMAGE])
                .output()
                .expect("podman (apt install podman runc busybox-static: scripts/setup.sh)"),
            "podman import of the test image",
        );
    });
}

/// `podman run` with our machines' options, then `args` (options, image, command), from
/// the detached runner: a container started under `cargo test` would have cargo among its
/// ancestors, and the rules rightly excuse what builds do.
pub fn podman_run(runner: &Runner, args: &[&str]) -> Ran {
    podman_image();
    let podman = need("podman");
    let mut argv: Vec<&str> = vec![&podman];
    argv.extend_from_slice(PODMAN_RUN);
    argv.extend_from_slice(args);
    runner.run(&argv)
}

/// Like [`podman_run`], failing the test unless the container exits 0.
pub fn podman_run_ok(runner: &Runner, args: &[&str]) -> Ran {
    let r = podman_run(runner, args);
    assert_eq!(r.rc, 0, "podman run {} failed: {}{}", args.join(" "), r.out, r.err);
    r
}

/// Waits for a unix socket to accept connections.
fn wait_socket(path: &Path, child: &mut Child, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if std::os::unix::net::UnixStream::connect(path).is_ok() {
            return;
        }
        if let Ok(Some(st)) = child.try_wait() {
            panic!("{what} exited ({st}) before its socket {} was up", path.display());
        }
        assert!(
            Instant::now() < deadline,
            "{what}: no socket at {} after 60 s",
            path.display()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// podman's API service (`podman system service`) on a private socket.
pub struct PodmanService {
    child: Child,
    pub socket: PathBuf,
    _dir: TempDir,
}

impl PodmanService {
    pub fn start() -> PodmanService {
        podman_image();
        let dir = TempDir::new_in(Path::new("/run"), "podman");
        let socket = dir.path().join("podman.sock");
        let mut child = Command::new(need("podman"))
            .args(["system", "service", "--time=0"])
            .arg(format!("unix://{}", socket.display()))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("podman system service");
        wait_socket(&socket, &mut child, "podman system service");
        PodmanService {
            child,
            socket,
            _dir: dir,
        }
    }

    /// `--container-socket podman=...` for the agent.
    pub fn agent_arg(&self) -> String {
        format!("podman={}", self.socket.display())
    }

    /// Stops the service; its socket file stays, and connecting to it is refused.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PodmanService {
    fn drop(&mut self) {
        self.kill();
    }
}

/// A private docker daemon (its own socket, data and exec roots; no iptables, no bridge).
pub struct Dockerd {
    child: Child,
    pub socket: PathBuf,
    _dir: TempDir,
}

impl Dockerd {
    pub fn start() -> Dockerd {
        let dir = TempDir::new_in(Path::new("/run"), "dockerd");
        let socket = dir.path().join("docker.sock");
        // Images persist between runs in the data root; everything else is private.
        let data = Path::new("/var/lib/vigil-test-docker");
        let log = std::fs::File::create(dir.path().join("dockerd.log")).expect("dockerd log");
        let mut child = Command::new(need("dockerd"))
            .arg("--host")
            .arg(format!("unix://{}", socket.display()))
            .arg("--data-root")
            .arg(data)
            .arg("--exec-root")
            .arg(dir.path().join("exec"))
            .arg("--pidfile")
            .arg(dir.path().join("docker.pid"))
            .args([
                "--iptables=false",
                "--ip6tables=false",
                "--bridge=none",
                "--containerd-namespace",
                "vigil-test",
                "--containerd-plugins-namespace",
                "vigil-test-plugins",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("dockerd (apt install docker.io: scripts/setup.sh)");
        wait_socket(&socket, &mut child, "dockerd");
        let d = Dockerd {
            child,
            socket,
            _dir: dir,
        };
        let tmp = TempDir::new("docker-image");
        let tar = rootfs_tar(tmp.path());
        ok(
            d.cmd(&["import", &tar.display().to_string(), IMAGE]),
            "docker import of the test image",
        );
        d
    }

    pub fn agent_arg(&self) -> String {
        format!("docker={}", self.socket.display())
    }

    /// The docker CLI against this daemon.
    pub fn cmd(&self, args: &[&str]) -> Output {
        Command::new(need("docker"))
            .arg("-H")
            .arg(format!("unix://{}", self.socket.display()))
            .args(args)
            .stdin(Stdio::null())
            .output()
            .expect("docker CLI")
    }

    pub fn run_ok(&self, args: &[&str]) -> Output {
        let mut all = vec!["run", "--rm", "--network", "none"];
        all.extend_from_slice(args);
        ok(self.cmd(&all), &format!("docker run {}", args.join(" ")))
    }
}

impl Drop for Dockerd {
    fn drop(&mut self) {
        // SAFETY: a signal to our own child; SIGTERM stops its containers and containerd.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A static program that connects to a unix socket and sends an HTTP ping (busybox's nc
/// has no unix sockets): what a process in a container does with a mounted docker.sock.
pub fn unix_connect_helper(dir: &Path) -> PathBuf {
    let src = dir.join("uconnect.c");
    std::fs::write(
        &src,
        "#include <string.h>\n#include <sys/socket.h>\n#include <sys/un.h>\n#include <unistd.h>\n\
         int main(int c, char **v) { struct sockaddr_un a = {0}; a.sun_family = AF_UNIX;\n\
         strncpy(a.sun_path, v[1], sizeof a.sun_path - 1); int s = socket(AF_UNIX, SOCK_STREAM, 0);\n\
         if (connect(s, (struct sockaddr *)&a, sizeof a)) return 1;\n\
         const char *r = \"GET /_ping HTTP/1.0\\r\\n\\r\\n\"; write(s, r, strlen(r)); char b[256]; read(s, b, sizeof b); return 0; }\n",
    )
    .expect("write helper source");
    let bin = dir.join("uconnect");
    let out = Command::new(need("gcc"))
        .args(["-static", "-O1", "-o"])
        .arg(&bin)
        .arg(&src)
        .output()
        .expect("gcc");
    ok(out, "gcc -static of the unix-socket helper (libc6-dev)");
    bin
}
