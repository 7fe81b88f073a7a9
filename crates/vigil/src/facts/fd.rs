//! Falco's `fd.*` facts of an event: the file or socket it acts on.

use std::net::IpAddr;

use vigil_event::abi::{file_flag, net_dir};
use vigil_event::model::{Endpoint, Net, NetOp, AF_INET, AF_INET6, AF_UNIX};
use vigil_event::names::file_type;
use vigil_event::{Body, Event, FileOp, Text};

use super::names::l4proto;
use super::syscall::path_of;

/// One end of a connection: address and port.
pub type End = (Option<IpAddr>, u16);

/// (client, server): whoever connected is the client, the peer when incoming.
pub fn client_server(n: &Net) -> (End, End) {
    let (l, r) = ((n.laddr, n.lport), (n.raddr, n.rport));
    match n.direction {
        net_dir::IN | net_dir::LISTEN => (r, l),
        _ => (l, r),
    }
}

fn endpoint(addr: Option<IpAddr>, port: u16) -> String {
    match addr {
        Some(a) => Endpoint { addr: a, port }.to_string(),
        None => String::new(),
    }
}

/// Falco's `fd.name` of a socket: `client->server`, `addr:port` when bound or
/// listening, or the unix path.
pub fn sock_name(n: &Net) -> String {
    let (client, server) = client_server(n);
    match (&n.unix_path, n.family) {
        (Some(p), _) => p.to_string(),
        (None, _) if n.op == NetOp::Socket => String::new(),
        (None, AF_INET | AF_INET6) if n.direction == net_dir::LISTEN || n.op == NetOp::Bind => {
            endpoint(n.laddr, n.lport)
        }
        (None, AF_INET | AF_INET6) => format!("{}->{}", endpoint(client.0, client.1), endpoint(server.0, server.1)),
        _ => String::new(),
    }
}

/// The `fd.*` facts of one event. A field is `None` where the event has no such fact.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FdFacts<'a> {
    /// `fd.name`: the file's path, the socket's `client->server`, the path a syscall acts on.
    pub name: Text,
    pub directory: Option<Text>,
    pub filename: Option<Text>,
    /// `fd.num`: the descriptor returned or acted on; -1 for an open that failed.
    pub num: Option<i64>,
    /// `fd.type` and `fd.typechar`.
    pub kind: Option<(&'static str, char)>,
    pub ino: Option<u64>,
    pub dev: Option<u32>,
    pub l4proto: Option<&'static str>,
    /// Server, client, local and remote ends of an IPv4/IPv6 socket, where it has them.
    pub server: Option<End>,
    pub client: Option<End>,
    pub local: Option<End>,
    pub remote: Option<End>,
    /// DNS names the remote address was resolved from.
    pub names: &'a [Text],
}

impl<'a> FdFacts<'a> {
    /// The facts of `ev`, or None for events without a file or socket.
    pub fn of(ev: &'a Event) -> Option<FdFacts<'a>> {
        match &ev.body {
            Body::File(f) => {
                let (directory, filename) = split_path(&f.path);
                let inode = f.has(file_flag::INODE_VALID);
                Some(FdFacts {
                    name: f.path.clone(),
                    directory: Some(directory),
                    filename: Some(filename),
                    num: match f.op {
                        FileOp::Open | FileOp::MemfdCreate => Some(if f.ret >= 0 { f.ret } else { -1 }),
                        _ if f.fd >= 0 => Some(f.fd as i64),
                        _ => None,
                    },
                    // an operation that failed is still an attempt on a file, as Falco types it
                    kind: Some(if inode { file_type(f.i_mode) } else { ("file", 'f') }),
                    ino: inode.then_some(f.ino),
                    dev: inode.then_some(f.dev),
                    ..FdFacts::default()
                })
            }
            Body::Net(n) => Some(sock_facts(n)),
            Body::Syscall(x) => path_of(x).map(|p| FdFacts {
                name: Text::from(p.as_str()),
                ..FdFacts::default()
            }),
            _ => None,
        }
    }
}

/// A socket: its ends by role, `fd.name` as client->server.
fn sock_facts(n: &Net) -> FdFacts<'_> {
    let (l, r) = ((n.laddr, n.lport), (n.raddr, n.rport));
    let (client, server) = client_server(n);
    let inet = matches!(n.family, AF_INET | AF_INET6);
    let base = FdFacts {
        name: Text::from(sock_name(n).as_str()),
        num: (n.fd >= 0).then_some(n.fd as i64),
        kind: Some(match n.family {
            AF_INET => ("ipv4", '4'),
            AF_INET6 => ("ipv6", '6'),
            AF_UNIX => ("unix", 'u'),
            _ => ("other", '?'),
        }),
        l4proto: l4proto(n.protocol).or(match (inet, n.sock_type) {
            (true, 1) => Some("tcp"), // protocol 0 means the family's default
            (true, 2) => Some("udp"),
            _ => None,
        }),
        ..FdFacts::default()
    };
    if !inet {
        return base;
    }
    match n.op {
        // a new socket has no ends yet
        NetOp::Socket => base,
        // a bound or listening socket has only its local end, which is the server end
        NetOp::Bind | NetOp::Listen => FdFacts {
            server: Some(l),
            local: Some(l),
            ..base
        },
        _ => FdFacts {
            server: Some(server),
            client: Some(client),
            local: Some(l),
            remote: Some(r),
            names: &n.names,
            ..base
        },
    }
}

/// (directory, file name) of a path, as Falco's `fd.directory` and `fd.filename`.
fn split_path(path: &Text) -> (Text, Text) {
    let b = path.as_bytes();
    match b.iter().rposition(|&c| c == b'/') {
        Some(0) => (Text::from("/"), Text::new(&b[1..])),
        Some(i) => (Text::new(&b[..i]), Text::new(&b[i + 1..])),
        None => (Text::default(), path.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn split_paths() {
        assert_eq!(split_path(&"/etc/hostname".into()), ("/etc".into(), "hostname".into()));
        assert_eq!(split_path(&"/x".into()), ("/".into(), "x".into()));
    }
}
