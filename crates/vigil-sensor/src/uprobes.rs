//! uprobes: attaching the programs of `bpf/uprobe.bpf.c` to the binaries found on the
//! host, and again when one is replaced (a package upgrade writes a new inode; the old
//! probe stays on the old file, which the shells started before the upgrade still run).

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use libbpf_rs::{Link, ProgramMut, UprobeOpts};

use crate::hooks::UprobeTarget;

/// The first of `candidates` that exists, with symbolic links resolved (on a merged-/usr
/// host /bin/bash and /usr/bin/bash are one file: probed once).
pub fn find_binary(candidates: &[&str]) -> Option<PathBuf> {
    candidates
        .iter()
        .find_map(|c| std::fs::canonicalize(c).ok().filter(|p| p.is_file()))
}

/// (device, inode) of a file: what identifies the binary a probe is on.
fn file_id(path: &Path) -> Option<(u64, u64)> {
    std::fs::metadata(path).ok().map(|m| (m.dev(), m.ino()))
}

/// One attached target: enough to see its binary replaced and attach again.
pub struct UprobeLink {
    pub program: &'static str,
    pub target: UprobeTarget,
    pub path: PathBuf,
    id: Option<(u64, u64)>,
    /// The probe on the current file, then those on files replaced since (kept: processes
    /// started before the replacement still run them).
    links: Vec<Link>,
}

/// What attaching one program to its targets gave.
pub enum Attached {
    /// Every target found was probed (and at least one was found).
    Some(Vec<UprobeLink>),
    /// None of the binaries is installed here.
    Absent(String),
    Failed(libbpf_rs::Error),
}

fn attach_one(prog: &ProgramMut<'_>, t: &UprobeTarget, path: &Path) -> Result<Link, libbpf_rs::Error> {
    prog.attach_uprobe_with_opts(
        -1,
        path,
        0,
        UprobeOpts {
            retprobe: t.ret,
            func_name: Some(t.symbol.to_string()),
            cookie: t.cookie,
            ..Default::default()
        },
    )
}

/// Attaches `prog` to each of `targets` whose binary exists.
pub fn attach(program: &'static str, prog: &ProgramMut<'_>, targets: &[UprobeTarget]) -> Attached {
    let mut out = Vec::new();
    let mut missing = Vec::new();
    for t in targets {
        let Some(path) = find_binary(t.binaries) else {
            missing.push(format!("{} ({})", t.symbol, t.binaries.join(", ")));
            continue;
        };
        match attach_one(prog, t, &path) {
            Ok(link) => out.push(UprobeLink {
                program,
                target: *t,
                id: file_id(&path),
                path,
                links: vec![link],
            }),
            Err(e) => return Attached::Failed(e),
        }
    }
    if out.is_empty() {
        Attached::Absent(format!("not installed here: {}", missing.join("; ")))
    } else {
        Attached::Some(out)
    }
}

/// Kept probes per target beyond the current one: enough for a few upgrades in a row.
const OLD_LINKS_KEPT: usize = 4;

impl UprobeLink {
    /// If the binary was replaced, probes the new file (`prog` is this link's program).
    /// Returns a line for the log when it did.
    pub fn refresh(&mut self, prog: &ProgramMut<'_>) -> Option<String> {
        let path = find_binary(self.target.binaries)?;
        let id = file_id(&path);
        if id == self.id && path == self.path {
            return None;
        }
        match attach_one(prog, &self.target, &path) {
            Ok(link) => {
                self.links.insert(0, link);
                self.links.truncate(1 + OLD_LINKS_KEPT);
                self.id = id;
                self.path = path;
                Some(format!(
                    "{} replaced: {} probed again on {}",
                    self.target.symbol,
                    self.program,
                    self.path.display()
                ))
            }
            Err(e) => Some(format!(
                "{} replaced at {}: attaching {} failed: {e}",
                self.target.symbol,
                path.display(),
                self.program
            )),
        }
    }

    /// Drops the probes.
    pub fn detach(&mut self) {
        self.links.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_first_existing_candidate_is_found_and_missing_ones_are_not() {
        let dir = std::env::temp_dir().join(format!("vigil-uprobe-find-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let real = dir.join("real");
        std::fs::write(&real, b"x").unwrap();
        let link = dir.join("link");
        let _ = std::fs::remove_file(&link);
        std::os::unix::fs::symlink(&real, &link).unwrap();
        let missing = dir.join("missing");
        let cands = [
            missing.to_str().unwrap(),
            link.to_str().unwrap(),
            real.to_str().unwrap(),
        ];
        assert_eq!(find_binary(&cands), Some(std::fs::canonicalize(&real).unwrap()));
        assert_eq!(find_binary(&[missing.to_str().unwrap()]), None);
        // a directory is not a binary
        assert_eq!(find_binary(&[dir.to_str().unwrap()]), None);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
