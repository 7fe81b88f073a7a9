//! Time as outputs and `evt.time*` fields show it.

/// Converts boot-time nanoseconds to an RFC 3339 UTC timestamp with nanoseconds (the
/// same text the outputs write, `vigil_output::alert::rfc3339`).
pub fn rfc3339(boot_ns: u64, boot_to_realtime_ns: i64) -> String {
    let unix_ns = (boot_ns as i128 + boot_to_realtime_ns as i128).clamp(0, i64::MAX as i128) as i64;
    vigil_output::alert::rfc3339(unix_ns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc3339_known_instants() {
        assert_eq!(rfc3339(0, 0), "1970-01-01T00:00:00.000000000Z");
        assert_eq!(rfc3339(1, 1_795_533_654_000_000_000), "2026-11-24T15:20:54.000000001Z");
        assert_eq!(rfc3339(0, 951_782_400_000_000_000), "2000-02-29T00:00:00.000000000Z");
    }
}
