//! Precompiled right-hand sides: globs, path prefix tries, value sets,
//! networks. Built once at load time; matching allocates nothing.

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::IpAddr;

/// FxHash: fast, non-cryptographic, good enough for rule-defined keys.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher(u64);

impl Hasher for FxHasher {
    fn write(&mut self, bytes: &[u8]) {
        const K: u64 = 0x517c_c1b7_2722_0a95;
        for chunk in bytes.chunks(8) {
            let mut buf = [0u8; 8];
            buf[..chunk.len()].copy_from_slice(chunk);
            self.0 = (self.0.rotate_left(5) ^ u64::from_le_bytes(buf)).wrapping_mul(K);
        }
    }
    fn finish(&self) -> u64 {
        self.0
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;
pub(crate) type FxHashSet<T> = HashSet<T, FxBuild>;
pub(crate) type FxHashMap<K, V> = HashMap<K, V, FxBuild>;

pub(crate) fn hash_str(s: &str) -> u64 {
    let mut h = FxHasher::default();
    h.write(s.as_bytes());
    h.write_u8(0xff);
    h.finish()
}

/// An IP network, e.g. `10.0.0.0/8`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct IpNet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl IpNet {
    pub fn parse(s: &str) -> Option<IpNet> {
        let s = s.trim();
        match s.split_once('/') {
            Some((a, p)) => {
                let addr: IpAddr = a.parse().ok()?;
                let prefix: u8 = p.parse().ok()?;
                let max = if addr.is_ipv4() { 32 } else { 128 };
                (prefix <= max).then_some(IpNet { addr, prefix })
            }
            None => {
                let addr: IpAddr = s.parse().ok()?;
                let prefix = if addr.is_ipv4() { 32 } else { 128 };
                Some(IpNet { addr, prefix })
            }
        }
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u32::MAX << (32 - u32::from(self.prefix))
                };
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = if self.prefix == 0 {
                    0
                } else {
                    u128::MAX << (128 - u32::from(self.prefix))
                };
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// fnmatch(3) without flags: `*` matches any run of characters including
/// `/`, `?` one character, `[...]` a class (`!` or `^` negates, ranges
/// allowed), `\` escapes.
#[derive(Debug, Clone)]
pub(crate) struct Glob {
    pat: Vec<char>,
    icase: bool,
}

impl Glob {
    pub fn new(pattern: &str, icase: bool) -> Glob {
        let pat = if icase {
            pattern.chars().flat_map(char::to_lowercase).collect()
        } else {
            pattern.chars().collect()
        };
        Glob { pat, icase }
    }

    /// The literal text before the first wildcard, and whether the whole
    /// pattern is literal.
    pub fn literal_prefix(pattern: &str) -> (String, bool) {
        let mut out = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' | '?' | '[' => return (out, false),
                '\\' => match chars.next() {
                    Some(n) => out.push(n),
                    None => return (out, false),
                },
                c => out.push(c),
            }
        }
        (out, true)
    }

    /// The literal text after the last wildcard (empty if the pattern ends with one).
    pub fn literal_suffix(pattern: &str) -> String {
        let mut out = String::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            match c {
                '*' | '?' => out.clear(),
                '[' => {
                    for n in chars.by_ref() {
                        if n == ']' {
                            break;
                        }
                    }
                    out.clear();
                }
                '\\' => {
                    if let Some(n) = chars.next() {
                        out.push(n);
                    }
                }
                c => out.push(c),
            }
        }
        out
    }

    pub fn is_match(&self, s: &str) -> bool {
        if !self.icase && s.is_ascii() {
            let b = s.as_bytes();
            return self.match_with(b.len(), |i| b[i] as char);
        }
        let t: Vec<char> = if self.icase {
            s.chars().flat_map(char::to_lowercase).collect()
        } else {
            s.chars().collect()
        };
        self.match_with(t.len(), |i| t[i])
    }

    /// Iterative matcher with single-star backtracking: linear in practice.
    fn match_with(&self, len: usize, at: impl Fn(usize) -> char) -> bool {
        let p = &self.pat;
        let (mut pi, mut ti) = (0usize, 0usize);
        let mut star: Option<(usize, usize)> = None;
        while ti < len {
            let tc = at(ti);
            let step = if pi < p.len() {
                match p[pi] {
                    '*' => {
                        star = Some((pi, ti));
                        pi += 1;
                        continue;
                    }
                    '?' => Some((pi + 1, ti + 1)),
                    '[' => match class_match(p, pi, tc) {
                        Some((true, next)) => Some((next, ti + 1)),
                        Some((false, _)) => None,
                        None => (tc == '[').then_some((pi + 1, ti + 1)),
                    },
                    '\\' if pi + 1 < p.len() => (p[pi + 1] == tc).then_some((pi + 2, ti + 1)),
                    c => (c == tc).then_some((pi + 1, ti + 1)),
                }
            } else {
                None
            };
            match step {
                Some((np, nt)) => {
                    pi = np;
                    ti = nt;
                }
                None => match star {
                    Some((sp, st)) => {
                        pi = sp + 1;
                        ti = st + 1;
                        star = Some((sp, st + 1));
                    }
                    None => return false,
                },
            }
        }
        while pi < p.len() && p[pi] == '*' {
            pi += 1;
        }
        pi == p.len()
    }
}

/// Matches a `[...]` class starting at `p[start] == '['`. Returns whether `c`
/// is in it and the index after `]`, or None if the class is unterminated
/// (then `[` is literal, as in fnmatch).
fn class_match(p: &[char], start: usize, c: char) -> Option<(bool, usize)> {
    let mut i = start + 1;
    let negate = matches!(p.get(i), Some('!' | '^'));
    if negate {
        i += 1;
    }
    let mut found = false;
    let mut first = true;
    while i < p.len() {
        let mut lo = p[i];
        if lo == ']' && !first {
            return Some((found != negate, i + 1));
        }
        first = false;
        if lo == '\\' && i + 1 < p.len() {
            i += 1;
            lo = p[i];
        }
        if p.get(i + 1) == Some(&'-') && p.get(i + 2).is_some_and(|h| *h != ']') {
            let hi = p[i + 2];
            if lo <= c && c <= hi {
                found = true;
            }
            i += 3;
        } else {
            if lo == c {
                found = true;
            }
            i += 1;
        }
    }
    None
}

/// Path prefix matching for `pmatch`: a path matches if it equals one of the
/// paths or lies below it, compared by components. A component may be a glob
/// (`/var/log/*/audit`), as in libsinsp.
#[derive(Debug, Clone, Default)]
pub(crate) struct PathTrie {
    root: TrieNode,
}

#[derive(Debug, Clone, Default)]
struct TrieNode {
    terminal: bool,
    exact: FxHashMap<Box<str>, TrieNode>,
    globs: Vec<(Glob, TrieNode)>,
}

impl PathTrie {
    pub fn insert(&mut self, path: &str) {
        let mut node = &mut self.root;
        for comp in path.split('/').filter(|c| !c.is_empty()) {
            if comp.contains(['*', '?', '[']) {
                let pos = node
                    .globs
                    .iter()
                    .position(|(g, _)| g.pat == comp.chars().collect::<Vec<_>>());
                let idx = match pos {
                    Some(i) => i,
                    None => {
                        node.globs.push((Glob::new(comp, false), TrieNode::default()));
                        node.globs.len() - 1
                    }
                };
                node = &mut node.globs[idx].1;
            } else {
                node = node.exact.entry(comp.into()).or_default();
            }
        }
        node.terminal = true;
    }

    pub fn is_match(&self, path: &str) -> bool {
        fn walk<'a>(node: &TrieNode, mut comps: impl Iterator<Item = &'a str> + Clone) -> bool {
            if node.terminal {
                return true;
            }
            let Some(c) = comps.next() else { return false };
            if let Some(n) = node.exact.get(c) {
                if walk(n, comps.clone()) {
                    return true;
                }
            }
            node.globs.iter().any(|(g, n)| g.is_match(c) && walk(n, comps.clone()))
        }
        walk(&self.root, path.split('/').filter(|c| !c.is_empty()))
    }
}

/// Parses hex for `bcontains`/`bstartswith`.
pub(crate) fn parse_hex(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    if s.is_empty() || s.len() % 2 != 0 {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

/// ASCII case-insensitive substring search without allocating.
pub(crate) fn contains_icase(hay: &str, needle_lower: &str) -> bool {
    let h = hay.as_bytes();
    let n = needle_lower.as_bytes();
    if n.is_empty() {
        return true;
    }
    if n.len() > h.len() {
        return false;
    }
    h.windows(n.len())
        .any(|w| w.iter().zip(n).all(|(a, b)| a.to_ascii_lowercase() == *b))
}

pub(crate) fn contains_bytes(hay: &[u8], needle: &[u8]) -> bool {
    needle.is_empty() || hay.windows(needle.len()).any(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        let g = Glob::new("/home/*/.ssh/*", false);
        assert!(g.is_match("/home/bob/.ssh/id_rsa"));
        assert!(g.is_match("/home/a/b/.ssh/x"));
        assert!(!g.is_match("/root/.ssh/x"));
        assert!(Glob::new("*../*../*", false).is_match("/a/../../etc"));
        assert!(Glob::new("/proc/[0-9]*/environ", false).is_match("/proc/12/environ"));
        assert!(!Glob::new("/proc/[!0-9]*", false).is_match("/proc/12"));
        assert!(Glob::new("a?c", false).is_match("abc"));
        assert!(Glob::new("*.TXT", true).is_match("x.txt"));
        assert!(Glob::new("é*", false).is_match("éa"));
        assert_eq!(Glob::literal_prefix("/home/*/x"), ("/home/".to_string(), false));
    }

    #[test]
    fn path_trie() {
        let mut t = PathTrie::default();
        t.insert("/etc/apt");
        t.insert("/var/log/*/audit");
        assert!(t.is_match("/etc/apt"));
        assert!(t.is_match("/etc/apt/sources.list"));
        assert!(!t.is_match("/etc/aptitude"));
        assert!(t.is_match("/var/log/x/audit/a.log"));
        assert!(!t.is_match("/var/log/x/other"));
    }

    #[test]
    fn nets() {
        let n = IpNet::parse("10.0.0.0/8").unwrap();
        assert!(n.contains("10.1.2.3".parse().unwrap()));
        assert!(!n.contains("11.1.2.3".parse().unwrap()));
        assert!(IpNet::parse("::1").unwrap().contains("::1".parse().unwrap()));
        assert!(IpNet::parse("10.0.0.0/33").is_none());
    }

    #[test]
    fn hex_and_icase() {
        assert_eq!(parse_hex("cafebabe"), Some(vec![0xca, 0xfe, 0xba, 0xbe]));
        assert_eq!(parse_hex("abc"), None);
        assert!(contains_icase("Use HTTP_PROXY=x", "http_proxy"));
    }
}
