//! Time as outputs and `evt.time*` fields show it.

/// Converts boot-time nanoseconds to an RFC 3339 UTC timestamp with nanoseconds.
pub fn rfc3339(boot_ns: u64, boot_to_realtime_ns: i64) -> String {
    let epoch = (boot_ns as i128 + boot_to_realtime_ns as i128).max(0) as u128;
    let secs = (epoch / 1_000_000_000) as i64;
    let nanos = (epoch % 1_000_000_000) as u32;
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    // civil_from_days (Howard Hinnant)
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{nanos:09}Z",
        sod / 3600,
        (sod % 3600) / 60,
        sod % 60
    )
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
