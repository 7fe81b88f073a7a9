//! The in-kernel DNS parser (`handle_dns` in `bpf/skb.bpf.c`), fuzzed two ways:
//!
//! - [`parse`] is a line-by-line mirror of it in Rust: AFL++ explores it with coverage
//!   (target `dns`), which the BPF program cannot give;
//! - [`BpfDns`] runs the real program on a message through BPF_PROG_TEST_RUN and compares
//!   the record it sends with the mirror's, field by field (`vigil-fuzz-dns`, and a root
//!   test). A difference is a bug in one of them; the verifier already rules out crashes.
//!
//! [`Answer`]/[`build_response`] make well-formed responses whose parse is known without
//! either parser, so the mirror is checked against an independent truth too.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::time::Duration;

use vigil_event::abi::dns_flag as flag;
use vigil_event::abi::limits::{DNS_MAX_ADDRS, DNS_NAME_MAX};
use vigil_event::{Body, Text};
use vigil_sensor::{Batch, EventStream, Sensor, DNS_TEST_SERVER};

// Restated from bpf/skb.bpf.c and bpf/include/net.h (C defines, not in the BTF): the
// differential run fails if they drift.
const HDR_LEN: usize = 12;
const PKT_MAX: usize = 512;
const MAX_HOPS: u32 = 16;
const NAME_STEPS: u32 = 1024;
const MAX_ANSWERS: u32 = 16;
const CNAMES_AT: usize = 256;
const CNAMES_MAX: usize = 512;
const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;

/// What the kernel reports for one DNS response, as the decoded record has it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Parsed {
    pub id: u16,
    pub dns_flags: u16,
    pub rcode: u16,
    pub qdcount: u16,
    pub ancount: u16,
    pub qtype: u16,
    pub vflags: u32,
    pub answers: Vec<(IpAddr, u32)>,
    pub qname: Vec<u8>,
    pub cnames: Vec<Vec<u8>>,
}

impl Parsed {
    fn of_record(d: &vigil_event::model::Dns) -> Self {
        Parsed {
            id: d.id,
            dns_flags: d.dns_flags,
            rcode: d.rcode,
            qdcount: d.qdcount,
            ancount: d.ancount,
            qtype: d.qtype,
            vflags: d.vflags,
            answers: d.answers.iter().map(|a| (a.addr, a.ttl)).collect(),
            qname: d.qname.as_bytes().to_vec(),
            cnames: d.cnames.iter().map(|c| c.as_bytes().to_vec()).collect(),
        }
    }
}

struct Message<'a> {
    pkt: &'a [u8],
    /// qname at 0, CNAME targets from CNAMES_AT, NUL-separated (the kernel's `names`).
    names: Vec<u8>,
}

/// One name: (position after it or 0 when malformed, flags, bytes written).
struct NameOut {
    after: usize,
    flags: u32,
    written: usize,
}

impl Message<'_> {
    fn rd16(&self, at: usize) -> u16 {
        u16::from_be_bytes([self.pkt[at], self.pkt[at + 1]])
    }

    /// `dns_name` and its `name_step` loop.
    fn name(&mut self, mut pos: usize, out_start: usize, out_limit: usize, write: bool) -> NameOut {
        let end = self.pkt.len();
        let (mut out, mut remaining, mut after, mut hops, mut name_len) = (out_start, 0usize, 0usize, 0u32, 0usize);
        let (mut flags, mut done) = (0u32, false);
        for _ in 0..NAME_STEPS {
            if pos >= end || pos >= PKT_MAX {
                flags |= flag::TRUNCATED | flag::MALFORMED;
                break;
            }
            let b = self.pkt[pos];
            if remaining > 0 {
                if write && out < out_limit {
                    self.names[out] = b;
                }
                out += 1;
                pos += 1;
                remaining -= 1;
                continue;
            }
            if b == 0 {
                if after == 0 {
                    after = pos + 1;
                }
                done = true;
                break;
            }
            if b & 0xC0 == 0xC0 {
                if pos + 1 >= end {
                    flags |= flag::TRUNCATED | flag::MALFORMED;
                    break;
                }
                let target = (usize::from(b & 0x3F) << 8) | usize::from(self.pkt[pos + 1]);
                if after == 0 {
                    after = pos + 2;
                }
                hops += 1;
                if hops > MAX_HOPS {
                    flags |= flag::POINTER_LOOP | flag::MALFORMED;
                    break;
                }
                if target < HDR_LEN || target >= end {
                    flags |= flag::MALFORMED | flag::TRUNCATED;
                    break;
                }
                pos = target;
                continue;
            }
            if b & 0xC0 != 0 {
                flags |= flag::BAD_LABEL | flag::MALFORMED;
                break;
            }
            name_len += usize::from(b) + 1;
            if name_len > DNS_NAME_MAX {
                flags |= flag::NAME_TOO_LONG | flag::MALFORMED;
                break;
            }
            if out > out_start {
                if write && out < out_limit {
                    self.names[out] = b'.';
                }
                out += 1;
            }
            remaining = usize::from(b);
            pos += 1;
        }
        if !done && flags & flag::MALFORMED == 0 {
            flags |= flag::MALFORMED | flag::POINTER_LOOP;
        }
        let out = out.min(out_limit);
        NameOut {
            after: if done { after } else { 0 },
            flags,
            written: out.saturating_sub(out_start),
        }
    }
}

/// What `handle_dns` reports for `message` received as a response (its DNS payload).
pub fn parse(message: &[u8]) -> Parsed {
    let mut p = Parsed {
        vflags: flag::RESPONSE,
        ..Default::default()
    };
    let len = message.len().min(PKT_MAX);
    if len < HDR_LEN {
        p.vflags |= flag::MALFORMED | flag::TRUNCATED;
        return p;
    }
    let mut m = Message {
        pkt: &message[..len],
        names: vec![0; CNAMES_AT + CNAMES_MAX + 1],
    };
    p.id = m.rd16(0);
    p.dns_flags = m.rd16(2);
    p.rcode = p.dns_flags & 0xF;
    p.qdcount = m.rd16(4);
    p.ancount = m.rd16(6);
    let (mut qlen, mut cout) = (0, CNAMES_AT);
    let mut pos = HDR_LEN;
    let mut question_ok = true;
    if p.qdcount != 0 {
        let q = m.name(pos, 0, DNS_NAME_MAX, true);
        p.vflags |= q.flags;
        qlen = q.written;
        if q.after == 0 || q.after + 4 > len {
            p.vflags |= flag::MALFORMED | if q.after != 0 { flag::TRUNCATED } else { 0 };
            question_ok = false;
        } else {
            p.qtype = m.rd16(q.after);
            pos = q.after + 4;
        }
    }
    if question_ok {
        for i in 0..MAX_ANSWERS {
            if i >= u32::from(p.ancount) {
                break;
            }
            let owner = m.name(pos, 0, 0, false);
            p.vflags |= owner.flags;
            if owner.after == 0 || owner.after + 10 > len {
                p.vflags |= flag::MALFORMED | if owner.after != 0 { flag::TRUNCATED } else { 0 };
                break;
            }
            let at = owner.after;
            let rtype = m.rd16(at);
            let ttl = (u32::from(m.rd16(at + 4)) << 16) | u32::from(m.rd16(at + 6));
            let rdlen = usize::from(m.rd16(at + 8));
            let rdata = at + 10;
            if rdata + rdlen > len {
                p.vflags |= flag::MALFORMED | flag::TRUNCATED;
                break;
            }
            let raw = &m.pkt[rdata..rdata + rdlen];
            if (rtype == TYPE_A && rdlen == 4) || (rtype == TYPE_AAAA && rdlen == 16) {
                if p.answers.len() < DNS_MAX_ADDRS {
                    let addr = match <[u8; 4]>::try_from(raw) {
                        Ok(v4) => IpAddr::V4(Ipv4Addr::from(v4)),
                        Err(_) => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(raw).unwrap_or_default())),
                    };
                    p.answers.push((addr, ttl));
                } else {
                    p.vflags |= flag::MORE_ANSWERS;
                }
            } else if rtype == TYPE_CNAME && cout < CNAMES_AT + CNAMES_MAX - 2 {
                let c = m.name(rdata, cout, CNAMES_AT + CNAMES_MAX - 1, true);
                p.vflags |= c.flags;
                cout += c.written;
                m.names[cout] = 0;
                cout += 1;
            }
            pos = rdata + rdlen;
        }
        if p.ancount as u32 > MAX_ANSWERS {
            p.vflags |= flag::MORE_ANSWERS;
        }
    }
    p.qname = m.names[..qlen].to_vec();
    // the kernel sends the block without its last separator; the decoder splits it
    let clen = (cout - CNAMES_AT).saturating_sub(1).min(CNAMES_MAX);
    p.cnames = Text::split_nul(&m.names[CNAMES_AT..CNAMES_AT + clen])
        .iter()
        .map(|t| t.as_bytes().to_vec())
        .collect();
    p
}

/// One answer of a response made by [`build_response`].
#[derive(Debug, Clone)]
pub enum Answer {
    Addr(IpAddr, u32),
    Cname(String),
    /// Any other type: skipped by the parser.
    Other(u16, Vec<u8>),
}

/// A well-formed response to `qname`, owner names compressed to the question. Its parse is
/// known without a parser: the qname, the addresses (8 at most, then MORE_ANSWERS), the
/// CNAME targets in order.
pub fn build_response(id: u16, qname: &str, answers: &[Answer]) -> Vec<u8> {
    let mut m = Vec::new();
    m.extend_from_slice(&id.to_be_bytes());
    m.extend_from_slice(&0x8180u16.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    push_name(&mut m, qname);
    m.extend_from_slice(&[0, 1, 0, 1]);
    for a in answers {
        m.extend_from_slice(&[0xC0, HDR_LEN as u8]);
        let (rtype, ttl, rdata) = match a {
            Answer::Addr(IpAddr::V4(v4), ttl) => (TYPE_A, *ttl, v4.octets().to_vec()),
            Answer::Addr(IpAddr::V6(v6), ttl) => (TYPE_AAAA, *ttl, v6.octets().to_vec()),
            Answer::Cname(target) => {
                let mut n = Vec::new();
                push_name(&mut n, target);
                (TYPE_CNAME, 60, n)
            }
            Answer::Other(t, data) => (*t, 60, data.clone()),
        };
        m.extend_from_slice(&rtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&ttl.to_be_bytes());
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rdata);
    }
    m
}

fn push_name(m: &mut Vec<u8>, name: &str) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        m.push(label.len() as u8);
        m.extend_from_slice(label.as_bytes());
    }
    m.push(0);
}

/// A random answer message: well-formed, then (three times in four) damaged the ways
/// parsers break: bytes flipped, cut short, compression pointers and label lengths
/// planted, counts changed.
pub fn random_message(rng: &mut fastrand::Rng, seeds: &[Vec<u8>]) -> Vec<u8> {
    let mut m = if !seeds.is_empty() && rng.bool() {
        seeds[rng.usize(..seeds.len())].clone()
    } else {
        random_response(rng).1
    };
    if rng.u8(..4) == 0 {
        return m;
    }
    for _ in 0..rng.usize(1..6) {
        if m.is_empty() {
            break;
        }
        let at = rng.usize(..m.len());
        match rng.u8(..7) {
            0 => m[at] = rng.u8(..),
            1 => m[at] ^= 1 << rng.u8(..8),
            2 => m.truncate(at),
            3 if at + 1 < m.len() => {
                m[at] = 0xC0 | rng.u8(..2); // a pointer into the first 512 bytes
                m[at + 1] = rng.u8(..);
            }
            4 => m[at] = rng.u8(..64),
            5 if m.len() >= HDR_LEN => {
                let field = 4 + 2 * rng.usize(..2);
                m[field..field + 2].copy_from_slice(&rng.u16(..40).to_be_bytes());
            }
            _ => m.insert(at, rng.u8(..)),
        }
    }
    m
}

/// A random well-formed response and the parse it must have.
pub fn random_response(rng: &mut fastrand::Rng) -> (Parsed, Vec<u8>) {
    let label = |rng: &mut fastrand::Rng| -> String {
        let n = rng.usize(1..8);
        (0..n).map(|_| rng.alphanumeric().to_ascii_lowercase()).collect()
    };
    let name = |rng: &mut fastrand::Rng| -> String {
        let n = rng.usize(1..5);
        (0..n).map(|_| label(rng)).collect::<Vec<_>>().join(".")
    };
    let qname = name(rng);
    let mut answers = Vec::new();
    for _ in 0..rng.usize(0..11) {
        answers.push(match rng.u8(..4) {
            0 => Answer::Addr(IpAddr::V4(Ipv4Addr::from(rng.u32(..))), rng.u32(..)),
            1 => Answer::Addr(IpAddr::V6(Ipv6Addr::from(rng.u128(..))), rng.u32(..)),
            2 => Answer::Cname(name(rng)),
            _ => Answer::Other(15, (0..rng.usize(0..20)).map(|_| rng.u8(..)).collect()),
        });
    }
    let id = rng.u16(..);
    let message = build_response(id, &qname, &answers);
    let mut expect = Parsed {
        id,
        dns_flags: 0x8180,
        qdcount: 1,
        ancount: answers.len() as u16,
        qtype: 1,
        vflags: flag::RESPONSE,
        qname: qname.clone().into_bytes(),
        ..Default::default()
    };
    for a in &answers {
        match a {
            Answer::Addr(addr, ttl) if expect.answers.len() < DNS_MAX_ADDRS => expect.answers.push((*addr, *ttl)),
            Answer::Addr(..) => expect.vflags |= flag::MORE_ANSWERS,
            Answer::Cname(c) => expect.cnames.push(c.clone().into_bytes()),
            Answer::Other(..) => {}
        }
    }
    if message.len() > PKT_MAX {
        // cut by the kernel's copy: the expectation is the mirror's, checked elsewhere
        expect = parse(&message);
    }
    (expect, message)
}

/// A sensor for [`BpfDns`]: the required hooks and `skb_ingress`, nothing else.
pub fn start_sensor() -> Result<Sensor, vigil_sensor::SensorError> {
    let cfg = vigil_sensor::SensorConfig {
        disabled_programs: vigil_sensor::hooks::HOOKS
            .iter()
            .filter(|h| !h.required() && h.program != "skb_ingress")
            .map(|h| h.program.to_string())
            .collect(),
        ..Default::default()
    };
    Sensor::start(&cfg)
}

/// The BPF parser, run through BPF_PROG_TEST_RUN on a loaded sensor; each message is
/// compared with [`parse`].
pub struct BpfDns<'a> {
    sensor: &'a Sensor,
    stream: EventStream<'a>,
    batch: Batch,
    next_port: u16,
    /// Messages run and records compared.
    pub runs: u64,
}

/// The BPF parser and the mirror disagree (or the record never came).
#[derive(Debug)]
pub struct Mismatch {
    pub message: Vec<u8>,
    pub bpf: Option<Parsed>,
    pub mirror: Parsed,
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "message {:02x?}\n  bpf:    {:?}\n  mirror: {:?}",
            self.message, self.bpf, self.mirror
        )
    }
}

impl<'a> BpfDns<'a> {
    /// On a sensor from [`start_sensor`]; sets its filter to report everything.
    pub fn new(sensor: &'a Sensor) -> Result<Self, vigil_sensor::SensorError> {
        sensor.set_filter(&vigil_sensor::KernelFilter::everything())?;
        Ok(Self {
            sensor,
            stream: EventStream::new(sensor)?,
            batch: Batch::default(),
            next_port: 1024,
            runs: 0,
        })
    }

    /// Runs the messages through the kernel, then compares each record with the mirror.
    /// Records of other traffic on the host are ignored (they do not come from
    /// [`DNS_TEST_SERVER`]).
    pub fn check(&mut self, messages: &[Vec<u8>]) -> Result<Result<(), Mismatch>, vigil_sensor::SensorError> {
        assert!(
            messages.len() <= 30_000,
            "at most 30,000 messages per check (one client port each)"
        );
        if usize::from(self.next_port) + messages.len() > usize::from(u16::MAX) {
            self.next_port = 1024;
        }
        let first = self.next_port;
        for m in messages {
            self.sensor.run_dns_parser(m, self.next_port)?;
            self.next_port += 1;
        }
        let mut got: Vec<Option<Parsed>> = vec![None; messages.len()];
        let mut seen = 0;
        for _ in 0..100 {
            self.batch.clear();
            self.stream.poll(Duration::from_millis(10), false, &mut self.batch)?;
            for rec in self.batch.iter() {
                let Ok(ev) = vigil_event::decode(rec) else { continue };
                let Body::Dns(d) = ev.body else { continue };
                if d.server != Some(IpAddr::V4(DNS_TEST_SERVER)) {
                    continue;
                }
                let i = usize::from(d.client_port.wrapping_sub(first));
                if let Some(slot @ None) = got.get_mut(i) {
                    *slot = Some(Parsed::of_record(&d));
                    seen += 1;
                }
            }
            if seen == messages.len() {
                break;
            }
        }
        self.runs += messages.len() as u64;
        for (m, bpf) in messages.iter().zip(got) {
            let mirror = parse(m);
            if bpf.as_ref() != Some(&mirror) {
                return Ok(Err(Mismatch {
                    message: m.clone(),
                    bpf,
                    mirror,
                }));
            }
        }
        Ok(Ok(()))
    }
}
