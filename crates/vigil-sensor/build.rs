//! Compiles every `bpf/*.bpf.c` on its own, links the objects into one (as Falco's
//! modern probe does: maps and globals shared through `__weak` definitions), and
//! generates a single libbpf-rs skeleton for it.

use std::env;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use libbpf_cargo::SkeletonBuilder;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let bpf_dir = manifest.join("../../bpf").canonicalize().expect("bpf/ directory");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    println!("cargo:rerun-if-changed={}", bpf_dir.display());
    println!("cargo:rerun-if-env-changed=CLANG");

    let arch = match env::var("CARGO_CFG_TARGET_ARCH").as_deref() {
        Ok("x86_64") => "x86",
        Ok(other) => {
            panic!("vigil's eBPF programs are built for x86_64 only (vmlinux.h and syscall numbers); target is {other}")
        }
        Err(_) => "x86",
    };

    let headers = out.join("include");
    let bpf_headers = headers.join("bpf");
    fs::create_dir_all(&bpf_headers).expect("create include dir");
    for (name, contents) in libbpf_rs::libbpf_sys::API_HEADERS.iter() {
        fs::write(bpf_headers.join(name), contents).expect("write libbpf header");
    }

    let clang = find_clang();
    let mut sources: Vec<PathBuf> = fs::read_dir(&bpf_dir)
        .expect("read bpf/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.to_string_lossy().ends_with(".bpf.c"))
        .collect();
    sources.sort();
    assert!(!sources.is_empty(), "no .bpf.c files in {}", bpf_dir.display());

    let objs = out.join("objs");
    fs::create_dir_all(&objs).expect("create objs dir");
    let linked = out.join("vigil.bpf.o");
    let mut linker = libbpf_rs::Linker::new(&linked).expect("BPF linker");
    for src in &sources {
        let name = src
            .file_name()
            .expect("file name")
            .to_string_lossy()
            .replace(".bpf.c", ".bpf.o");
        let obj = objs.join(name);
        compile(
            &clang,
            src,
            &obj,
            &[
                format!("-D__TARGET_ARCH_{arch}"),
                format!("-I{}", bpf_dir.display()),
                format!("-I{}", bpf_dir.join("include").display()),
                format!("-I{}", bpf_dir.join("vmlinux").join(arch).display()),
                format!("-I{}", headers.display()),
            ],
        );
        linker.add_file(&obj).expect("add object to BPF linker");
    }
    linker.link().expect("link BPF objects");

    SkeletonBuilder::new()
        .obj(&linked)
        .generate(out.join("vigil.skel.rs"))
        .expect("generate skeleton");
}

fn find_clang() -> PathBuf {
    if let Some(c) = env::var_os("CLANG") {
        return c.into();
    }
    for candidate in ["clang-19", "clang-20", "clang-18", "clang"] {
        if Command::new(candidate)
            .arg("--version")
            .output()
            .is_ok_and(|o| o.status.success())
        {
            return candidate.into();
        }
    }
    panic!("no clang found: run scripts/setup.sh (installs clang-19) or set CLANG");
}

fn compile(clang: &Path, src: &Path, obj: &Path, includes: &[String]) {
    let output = Command::new(clang)
        .args(["-g", "-O2", "-target", "bpf", "-c", "-fno-stack-protector"])
        .args([
            "-Wall",
            "-Wno-unused-function",
            "-Wno-address-of-packed-member",
            "-Wno-compare-distinct-pointer-types",
        ])
        .args(includes)
        .arg(src)
        .arg("-o")
        .arg(obj)
        .output()
        .unwrap_or_else(|e| panic!("run {}: {e}", clang.display()));
    let stderr = String::from_utf8_lossy(&output.stderr);
    for line in stderr.lines().filter(|l| l.contains("warning:")) {
        println!("cargo:warning={line}");
    }
    if !output.status.success() {
        panic!("compiling {} failed:\n{stderr}", src.display());
    }
}
