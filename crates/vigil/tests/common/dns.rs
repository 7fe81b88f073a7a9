//! DNS messages for tests: built by hand so that tests control every byte, malformed
//! ones included, and the questions a test server receives.

/// A DNS message: header, one question, and answers built by the caller.
pub fn dns_message(id: u16, flags: u16, qname: &str, qtype: u16, answers: &[Vec<u8>]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&encode_name(qname));
    m.extend_from_slice(&qtype.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    for a in answers {
        m.extend_from_slice(a);
    }
    m
}

pub fn encode_name(name: &str) -> Vec<u8> {
    let mut out = Vec::new();
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out
}

/// An answer record whose owner is a pointer to offset 12 (the question name), TTL 300 s.
pub fn answer(rtype: u16, rdata: &[u8]) -> Vec<u8> {
    answer_ttl(rtype, 300, rdata)
}

/// The same with a TTL of `ttl` seconds.
pub fn answer_ttl(rtype: u16, ttl: u32, rdata: &[u8]) -> Vec<u8> {
    let mut a = vec![0xc0, 0x0c];
    a.extend_from_slice(&rtype.to_be_bytes());
    a.extend_from_slice(&1u16.to_be_bytes());
    a.extend_from_slice(&ttl.to_be_bytes());
    a.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
    a.extend_from_slice(rdata);
    a
}

/// The question of a DNS query: (id, name, type).
pub fn parse_query(q: &[u8]) -> Option<(u16, String, u16)> {
    let id = u16::from_be_bytes([*q.first()?, *q.get(1)?]);
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let n = *q.get(i)? as usize;
        i += 1;
        if n == 0 {
            break;
        }
        labels.push(String::from_utf8_lossy(q.get(i..i + n)?).into_owned());
        i += n;
    }
    let qtype = u16::from_be_bytes([*q.get(i)?, *q.get(i + 1)?]);
    Some((id, labels.join("."), qtype))
}
