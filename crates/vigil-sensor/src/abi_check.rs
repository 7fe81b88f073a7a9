//! The Rust view of the kernel/userspace contract against the compiler's: every record
//! of `bpf/vigil_abi.h` (field names, offsets, sizes) and every constant (C enum members
//! and values), read from the BTF of the BPF object this crate embeds, as Tetragon's
//! alignchecker does. A field swapped, resized or added, or a flag renumbered, on one
//! side only, fails here.

use std::collections::BTreeMap;

use libbpf_rs::btf::types::{Enum, MemberAttr, Struct};
use libbpf_rs::btf::{Btf, HasSize};
use vigil_event::abi::{Hook, ENUMS, RECORDS};

const OBJECT: &[u8] = include_bytes!(concat!(env!("OUT_DIR"), "/vigil.bpf.o"));

fn btf() -> Btf<'static> {
    Btf::from_raw("vigil", OBJECT)
        .expect("read the BPF object")
        .expect("the BPF object carries BTF")
}

/// (name, byte offset, size) of every member of a C struct, sizes taken as the distance
/// to the next member (or the end): the Rust records are packed, so any padding the
/// C compiler adds shows up as a difference.
fn c_fields(btf: &Btf<'_>, name: &str) -> (Vec<(String, usize, usize)>, usize) {
    let s: Struct<'_> = btf
        .type_by_name(name)
        .unwrap_or_else(|| panic!("struct {name} is not in the object's BTF (is it in struct vigil_abi?)"));
    let size = s.size();
    let offsets: Vec<(String, usize)> = s
        .iter()
        .map(|m| {
            let off = match m.attr {
                MemberAttr::Normal { offset } => offset as usize / 8,
                MemberAttr::BitField { .. } => panic!("struct {name}: bitfields are not part of the ABI"),
            };
            (
                m.name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                off,
            )
        })
        .collect();
    let fields = offsets
        .iter()
        .enumerate()
        .map(|(i, (n, off))| {
            let end = offsets.get(i + 1).map_or(size, |(_, o)| *o);
            (n.clone(), *off, end - off)
        })
        .collect();
    (fields, size)
}

fn c_enum(btf: &Btf<'_>, name: &str) -> BTreeMap<String, u64> {
    let e: Enum<'_> = btf
        .type_by_name(name)
        .unwrap_or_else(|| panic!("enum {name} is not in the object's BTF (is it in struct vigil_abi?)"));
    e.iter()
        .map(|m| {
            (
                m.name.map(|n| n.to_string_lossy().into_owned()).unwrap_or_default(),
                m.value as u64,
            )
        })
        .collect()
}

#[test]
fn every_record_matches_the_c_layout_field_by_field() {
    let btf = btf();
    for (c_name, rust_fields, rust_size) in RECORDS {
        let (c, c_size) = c_fields(&btf, c_name);
        let rust: Vec<(String, usize, usize)> = rust_fields.iter().map(|(n, o, s)| (n.to_string(), *o, *s)).collect();
        assert_eq!(
            rust, c,
            "struct {c_name}: the Rust view (crates/vigil-event/src/abi.rs) differs from bpf/vigil_abi.h \
             as compiled (name, offset, size)"
        );
        assert_eq!(*rust_size, c_size, "struct {c_name}: size");
    }
}

#[test]
fn every_constant_matches_the_c_enums() {
    let btf = btf();
    for (c_enum_name, rust) in ENUMS {
        let c = c_enum(&btf, c_enum_name);
        let rust: BTreeMap<String, u64> = rust.iter().map(|(n, v)| (n.to_string(), *v)).collect();
        assert_eq!(
            rust, c,
            "enum {c_enum_name}: Rust (crates/vigil-event/src/abi.rs) vs C (bpf/vigil_abi.h)"
        );
    }
    // The hooks, without the table's size.
    let mut c = c_enum(&btf, "vigil_hook");
    assert_eq!(c.remove("VIGIL_HOOK_MAX"), Some(vigil_event::abi::HOOK_MAX as u64));
    let rust: BTreeMap<String, u64> = Hook::ALL.iter().map(|h| (h.c_name().to_string(), *h as u64)).collect();
    assert_eq!(rust, c, "enum vigil_hook");
}
