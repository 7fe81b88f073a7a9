//! Generates the syscall table (`OUT_DIR/syscalls.rs`) from `bpf/syscalls_x86_64.tbl`,
//! the file the BPF side's `syscall_nr.h` is generated from too: one table, two views.

use std::env;
use std::fmt::Write as _;
use std::fs;
use std::path::PathBuf;

fn main() {
    let manifest = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR"));
    let table = manifest.join("../../bpf/syscalls_x86_64.tbl");
    println!("cargo:rerun-if-changed={}", table.display());
    let text = fs::read_to_string(&table).unwrap_or_else(|e| panic!("{}: {e}", table.display()));
    let mut rows: Vec<(u16, String)> = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let mut f = line.split_whitespace();
        let (Some(nr), Some(name), None) = (f.next(), f.next(), f.next()) else {
            panic!("{}:{}: expected `number name`", table.display(), i + 1);
        };
        let nr: u16 = nr
            .parse()
            .unwrap_or_else(|_| panic!("{}:{}: bad number", table.display(), i + 1));
        rows.push((nr, name.to_string()));
    }
    rows.sort();
    for w in rows.windows(2) {
        assert!(w[0].0 != w[1].0, "syscall number {} appears twice", w[0].0);
    }
    let mut out = String::from(
        "/// Every x86_64 syscall as (name, number), sorted by number.\npub const SYSCALLS: &[(&str, u16)] = &[\n",
    );
    for (nr, name) in &rows {
        writeln!(out, "    ({name:?}, {nr}),").unwrap();
    }
    out.push_str("];\n\n/// Syscall numbers by name (`nr::SETUID`), for code that tests a syscall.\npub mod nr {\n");
    for (nr, name) in &rows {
        writeln!(out, "    pub const {}: u16 = {nr};", name.to_ascii_uppercase()).unwrap();
    }
    out.push_str("}\n");
    let dest = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR")).join("syscalls.rs");
    fs::write(&dest, out).unwrap_or_else(|e| panic!("{}: {e}", dest.display()));
}
