//! The workloads, each run in a child process of the benchmark (`vigil-bench workload ...`)
//! so that the agent sees them as an ordinary program.

use std::ffi::CString;
use std::fmt::Write as _;
use std::io::Read;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde::Serialize;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, ValueEnum, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Workload {
    /// open/read/close of one file (/etc/hostname) in a loop: the hot, cached open.
    Open,
    /// open/read/close cycling over 3,000 distinct files of a generated header tree.
    OpenMany,
    /// An interpreter's imports: each module is looked up along a search path of 8
    /// directories and found in the last, so 7 of 8 opens fail with ENOENT.
    OpenMissing,
    /// `dd bs=512 if=/dev/zero of=/dev/null`: read/write, syscalls Vigil does not watch (the
    /// hook floor; Falco's #1404).
    ReadWrite,
    /// fork + exec of /bin/true in a loop.
    ForkExec,
    /// Loopback TCP: connect, the listener accepts and closes, the client closes; in a loop.
    Connect,
    /// `make clean && make -j2` of a generated C project (150 files, a debug build).
    Make,
}

impl std::fmt::Display for Workload {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&crate::sys::value_name(self))
    }
}

impl Workload {
    /// Iterations of one run at `--scale 1`: about 4 s at baseline on a 2-core VM.
    pub fn iterations(self) -> u64 {
        match self {
            Workload::Open => 1_000_000,
            Workload::OpenMany => 800_000,
            Workload::OpenMissing => 1_600_000,
            Workload::ReadWrite => 8_000_000,
            Workload::ForkExec => 5_000,
            Workload::Connect => 60_000,
            Workload::Make => 1,
        }
    }

    /// Whether the workload runs in a generated directory (`Fixtures`).
    pub fn needs_tree(self) -> bool {
        matches!(self, Workload::OpenMany | Workload::OpenMissing)
    }

    pub fn unit(self) -> &'static str {
        match self {
            Workload::Open | Workload::OpenMany | Workload::OpenMissing => "opens/s",
            Workload::ReadWrite => "MB/s",
            Workload::ForkExec => "execs/s",
            Workload::Connect => "connects/s",
            Workload::Make => "builds/min",
        }
    }
}

/// Runs `n` iterations of `w` in this process and returns the throughput (higher is better).
/// `dir`: the generated C project (make) or file tree (open-many, open-missing).
pub fn run(w: Workload, n: u64, dir: Option<&Path>) -> Result<f64> {
    let start = Instant::now();
    match w {
        Workload::Open => {
            let path = CString::from(c"/etc/hostname");
            let mut buf = [0u8; 64];
            for _ in 0..n {
                if open_read_close(&path, &mut buf) < 0 {
                    bail!("open /etc/hostname failed");
                }
            }
        }
        Workload::OpenMany => {
            let dir = dir.context("the open-many workload needs --dir")?;
            let paths: Vec<CString> = (0..TREE_FILES)
                .map(|i| c_path(&tree_file(dir, i)))
                .collect::<Result<_>>()?;
            let mut buf = [0u8; 64];
            for i in 0..n as usize {
                let fd = open_read_close(&paths[i % paths.len()], &mut buf);
                if fd < 0 {
                    bail!("open {:?} failed", paths[i % paths.len()]);
                }
            }
        }
        Workload::OpenMissing => {
            let dir = dir.context("the open-missing workload needs --dir")?;
            // Every candidate path, module-major: for module m, SEARCH_PATH entries in order.
            let mut paths = Vec::with_capacity(MODULES * SEARCH_PATH);
            for m in 0..MODULES {
                for d in 0..SEARCH_PATH {
                    paths.push(c_path(&module_candidate(dir, d, m))?);
                }
            }
            let mut buf = [0u8; 64];
            for i in 0..n as usize {
                let p = &paths[i % paths.len()];
                let found = open_read_close(p, &mut buf) >= 0;
                // Only the last directory of the search path holds the module.
                if found != (i % SEARCH_PATH == SEARCH_PATH - 1) {
                    bail!("open {p:?}: unexpected {}", if found { "success" } else { "failure" });
                }
            }
        }
        Workload::ReadWrite => {
            // SAFETY: valid paths and buffer; the fds are closed at the end.
            unsafe {
                let zero = libc::open(c"/dev/zero".as_ptr(), libc::O_RDONLY);
                let null = libc::open(c"/dev/null".as_ptr(), libc::O_WRONLY);
                if zero < 0 || null < 0 {
                    bail!("opening /dev/zero and /dev/null failed");
                }
                let mut buf = [0u8; RW_BLOCK];
                for _ in 0..n {
                    if libc::read(zero, buf.as_mut_ptr().cast(), RW_BLOCK) != RW_BLOCK as isize
                        || libc::write(null, buf.as_ptr().cast(), RW_BLOCK) != RW_BLOCK as isize
                    {
                        bail!("short read or write");
                    }
                }
                libc::close(zero);
                libc::close(null);
            }
            return Ok(n as f64 * RW_BLOCK as f64 / 1e6 / start.elapsed().as_secs_f64());
        }
        Workload::ForkExec => {
            for _ in 0..n {
                let st = Command::new("/bin/true").status()?;
                if !st.success() {
                    bail!("/bin/true failed");
                }
            }
        }
        Workload::Connect => {
            let listener = TcpListener::bind("127.0.0.1:0").context("listening on loopback")?;
            let addr = listener.local_addr()?;
            std::thread::spawn(move || {
                for s in listener.incoming() {
                    drop(s); // accept and close
                }
            });
            let mut b = [0u8; 1];
            for _ in 0..n {
                let mut s = TcpStream::connect(addr).context("connecting to the loopback listener")?;
                // Wait for the listener's close: it closes first, so the TIME_WAIT state is
                // on its side and the client's ephemeral ports are free again at once.
                let _ = s.read(&mut b);
            }
        }
        Workload::Make => {
            let dir = dir.context("the make workload needs --dir")?;
            for _ in 0..n {
                make(dir, &["clean"])?;
                make(dir, &["-j2"])?;
            }
            return Ok(n as f64 * 60.0 / start.elapsed().as_secs_f64());
        }
    }
    Ok(n as f64 / start.elapsed().as_secs_f64())
}

/// Block size of the read/write workload (dd's default).
const RW_BLOCK: usize = 512;
/// The file tree of open-many: TREE_DIRS directories of TREE_FILES / TREE_DIRS headers.
const TREE_FILES: usize = 3_000;
const TREE_DIRS: usize = 30;
/// The search path of open-missing, and the modules found in its last directory.
const SEARCH_PATH: usize = 8;
const MODULES: usize = 500;

fn tree_file(dir: &Path, i: usize) -> PathBuf {
    let per_dir = TREE_FILES / TREE_DIRS;
    dir.join(format!("include/d{}/h{}.h", i / per_dir, i))
}

fn module_candidate(dir: &Path, search_dir: usize, module: usize) -> PathBuf {
    dir.join(format!("lib/p{search_dir}/mod{module}.py"))
}

fn c_path(p: &Path) -> Result<CString> {
    use std::os::unix::ffi::OsStrExt;
    CString::new(p.as_os_str().as_bytes()).with_context(|| format!("{} has a NUL byte", p.display()))
}

/// open, read up to `buf.len()` bytes, close; returns the fd open(2) gave (< 0: failed).
fn open_read_close(path: &CString, buf: &mut [u8]) -> i32 {
    // SAFETY: a valid C string and buffer; the fd is closed at once.
    unsafe {
        let fd = libc::open(path.as_ptr(), libc::O_RDONLY);
        if fd >= 0 {
            libc::read(fd, buf.as_mut_ptr().cast(), buf.len());
            libc::close(fd);
        }
        fd
    }
}

/// Writes the tree of open-many and open-missing: `include/d*/h*.h` (TREE_FILES headers) and
/// `lib/p0..p7/`, the modules only in the last directory. It lives next to the bench binary,
/// a directory like a user's source tree: /tmp is a path of interest for some rules, and the
/// point is the cost of opens no rule wants.
pub fn generate_tree() -> Result<TempDir> {
    let exe = std::env::current_exe()?;
    let base = exe.parent().context("the bench binary's directory")?;
    let dir = TempDir::new_in(base, "vigil-bench-tree")?;
    for i in 0..TREE_FILES {
        let f = tree_file(&dir.0, i);
        if let Some(parent) = f.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&f, format!("#pragma once\nint header_{i}(void);\n"))?;
    }
    for d in 0..SEARCH_PATH {
        std::fs::create_dir_all(dir.0.join(format!("lib/p{d}")))?;
    }
    for m in 0..MODULES {
        std::fs::write(module_candidate(&dir.0, SEARCH_PATH - 1, m), format!("VALUE = {m}\n"))?;
    }
    Ok(dir)
}

fn make(dir: &Path, args: &[&str]) -> Result<()> {
    let out = Command::new("make")
        .arg("-s")
        .args(args)
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .context("running make (install make and gcc: scripts/setup.sh)")?;
    if !out.status.success() {
        bail!(
            "make {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(())
}

/// Files of the generated project, and functions per file (about 300 lines per file).
const MAKE_FILES: usize = 150;
const MAKE_FUNCS: usize = 10;

/// A temporary directory removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(prefix: &str) -> Result<Self> {
        Self::new_in(&std::env::temp_dir(), prefix)
    }

    pub fn new_in(base: &Path, prefix: &str) -> Result<Self> {
        let p = base.join(format!("{prefix}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&p);
        std::fs::create_dir_all(&p).with_context(|| format!("creating {}", p.display()))?;
        Ok(Self(p))
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Writes a mid-sized C project (a header, `MAKE_FILES` modules of a few hundred lines, a
/// main and a Makefile) and builds it once, untimed, to warm the page cache.
pub fn generate_make_project() -> Result<TempDir> {
    let dir = TempDir::new("vigil-bench-make")?;
    let src = dir.0.join("src");
    std::fs::create_dir_all(&src)?;
    std::fs::write(
        dir.0.join("common.h"),
        "#ifndef COMMON_H\n#define COMMON_H\n#include <stddef.h>\n#include <stdint.h>\n\
         struct item { int id; double weight; char name[32]; struct item *next; };\n\
         uint32_t mix32(uint32_t x);\n#endif\n",
    )?;
    let mut main = String::from("#include <stdio.h>\n#include \"common.h\"\n");
    for i in 0..MAKE_FILES {
        writeln!(main, "int mod{i}_entry(int x);")?;
    }
    main.push_str("uint32_t mix32(uint32_t x) { x ^= x >> 16; x *= 0x7feb352d; x ^= x >> 15; return x; }\n");
    main.push_str("int main(int argc, char **argv) {\n    (void)argv;\n    long s = 0;\n");
    for i in 0..MAKE_FILES {
        writeln!(main, "    s += mod{i}_entry(argc + {i});")?;
    }
    main.push_str("    printf(\"%ld\\n\", s);\n    return 0;\n}\n");
    std::fs::write(dir.0.join("main.c"), main)?;
    for i in 0..MAKE_FILES {
        std::fs::write(src.join(format!("mod{i}.c")), module_source(i))?;
    }
    std::fs::write(
        dir.0.join("Makefile"),
        "CC ?= gcc\nCFLAGS ?= -O0 -g -Wall -I.\nSRCS := main.c $(wildcard src/*.c)\nOBJS := $(SRCS:.c=.o)\n\n\
         app: $(OBJS)\n\t$(CC) -o $@ $(OBJS) -lm\n\n%.o: %.c common.h\n\t$(CC) $(CFLAGS) -c -o $@ $<\n\n\
         clean:\n\trm -f $(OBJS) app\n\n.PHONY: clean\n",
    )?;
    make(&dir.0, &["-j2"])?;
    Ok(dir)
}

/// One module: a table, `MAKE_FUNCS` functions of assorted shapes (loops, switches,
/// strings, floating point, a linked list) and an entry point calling them.
fn module_source(i: usize) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "/* generated module {i} */\n#include <stdio.h>\n#include <stdlib.h>\n#include <string.h>\n#include <math.h>\n#include \"../common.h\"\n"
    );
    let _ = write!(s, "static const int tbl{i}[16] = {{");
    for k in 0..16 {
        let _ = write!(s, "{}, ", (i * 7919 + k * 104_729) % 1000);
    }
    let _ = writeln!(s, "}};\n");
    for j in 0..MAKE_FUNCS {
        let c = (i * 31 + j * 17) % 97 + 3;
        match j % 4 {
            0 => {
                let _ = writeln!(
                    s,
                    "static int f{i}_{j}(const int *a, int n) {{\n    int acc = {c};\n    for (int k = 0; k < n; k++) {{\n        switch ((a[k] + k) % 5) {{\n        case 0: acc += a[k] * {c}; break;\n        case 1: acc ^= (a[k] << {sh}) | k; break;\n        case 2: acc -= a[k] / (k + 1); break;\n        case 3: acc = acc * 31 + a[k]; break;\n        default: acc += tbl{i}[k & 15]; break;\n        }}\n        if (acc > {lim}) acc %= 10007;\n        if (acc < -{lim}) acc = -acc % 10009;\n    }}\n    for (int k = 0; k < 16; k++) {{\n        acc += (int)(mix32((uint32_t)(acc + tbl{i}[k])) & 0xff);\n    }}\n    return acc;\n}}\n",
                    sh = j % 7 + 1,
                    lim = 100_000 + c * 13
                );
            }
            1 => {
                let _ = writeln!(
                    s,
                    "static int f{i}_{j}(const int *a, int n) {{\n    char buf[128];\n    int total = 0;\n    for (int k = 0; k < n && k < 8; k++) {{\n        int len = snprintf(buf, sizeof buf, \"m{i}-%d-%d-%s\", a[k], k * {c}, k % 2 ? \"odd\" : \"even\");\n        if (len < 0) return -1;\n        for (int q = 0; q < len; q++) {{\n            if (buf[q] >= '0' && buf[q] <= '9') total += buf[q] - '0';\n            else if (buf[q] == '-') total ^= q;\n            else total += (unsigned char)buf[q] % {c};\n        }}\n        total += (int)strlen(buf) + (int)(strchr(buf, 'd') != NULL);\n    }}\n    return total;\n}}\n"
                );
            }
            2 => {
                let _ = writeln!(
                    s,
                    "static int f{i}_{j}(const int *a, int n) {{\n    double x = {c}.5, y = 0.0;\n    for (int k = 0; k < n; k++) {{\n        x = x * 0.97 + sqrt((double)(a[k] & 1023) + 1.0);\n        y += sin(x / {c}.0) * cos((double)k);\n        if (y > 1e6 || y < -1e6) y = fmod(y, 997.0);\n    }}\n    double m[4][4];\n    for (int r = 0; r < 4; r++)\n        for (int q = 0; q < 4; q++)\n            m[r][q] = (double)tbl{i}[(r * 4 + q) & 15] / (1.0 + r + q) + y;\n    double det = m[0][0] * m[1][1] - m[0][1] * m[1][0] + m[2][2] * m[3][3] - m[2][3] * m[3][2];\n    return (int)(x + y + det) % 100003;\n}}\n"
                );
            }
            _ => {
                let _ = writeln!(
                    s,
                    "static int f{i}_{j}(const int *a, int n) {{\n    struct item *head = NULL;\n    for (int k = 0; k < n && k < 24; k++) {{\n        struct item *it = malloc(sizeof *it);\n        if (!it) break;\n        it->id = a[k] + {c};\n        it->weight = (double)a[k] / {c}.0;\n        snprintf(it->name, sizeof it->name, \"item-{i}-{j}-%d\", k);\n        it->next = head;\n        head = it;\n    }}\n    int score = 0;\n    while (head) {{\n        struct item *nx = head->next;\n        score += head->id % 97 + (int)head->weight + (int)strlen(head->name);\n        if (head->id % 3 == 0) score ^= head->id;\n        free(head);\n        head = nx;\n    }}\n    return score;\n}}\n"
                );
            }
        }
    }
    let _ = writeln!(
        s,
        "int mod{i}_entry(int x) {{\n    int a[64];\n    for (int k = 0; k < 64; k++) a[k] = (int)(mix32((uint32_t)(x * 64 + k)) % 10000);\n    int r = 0;"
    );
    for j in 0..MAKE_FUNCS {
        let _ = writeln!(s, "    r += f{i}_{j}(a, 64 - {j});");
    }
    let _ = writeln!(s, "    return r;\n}}");
    s
}
