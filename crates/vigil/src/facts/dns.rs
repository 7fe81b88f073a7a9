//! Facts about DNS names.

/// `a.b.example.com` -> `a.b.example.com`, `b.example.com`, `example.com`, `com`.
pub fn domain_suffixes(name: &str) -> impl Iterator<Item = &str> {
    let name = name.trim_end_matches('.');
    std::iter::once(name)
        .chain(name.match_indices('.').map(move |(i, _)| &name[i + 1..]))
        .filter(|s| !s.is_empty())
}

/// Length of the longest label, and its Shannon entropy in thousandths of a bit per character.
pub fn label_stats(name: &str) -> (u64, u64) {
    let longest = name.split('.').max_by_key(|l| l.len()).unwrap_or("");
    let mut counts = [0u32; 256];
    for b in longest.bytes() {
        counts[b as usize] += 1;
    }
    let n = longest.len() as f64;
    let entropy: f64 = counts
        .iter()
        .filter(|&&c| c > 0)
        .map(|&c| {
            let p = c as f64 / n;
            -p * p.log2()
        })
        .sum();
    (longest.len() as u64, (entropy * 1000.0).round() as u64)
}
