//! systemd's notify protocol (`Type=notify`): READY once every required hook is attached,
//! RELOADING on SIGHUP, WATCHDOG pings, STOPPING. A datagram to `$NOTIFY_SOCKET`; nothing
//! when the agent does not run under systemd.

use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr, UnixDatagram};

/// Sends one notification (`READY=1`, ...); errors are ignored (systemd will time out
/// and say so).
pub fn send(state: &str) {
    let Some(path) = std::env::var_os("NOTIFY_SOCKET") else {
        return;
    };
    let path = path.to_string_lossy().into_owned();
    let addr = match path.strip_prefix('@') {
        Some(abstract_name) => SocketAddr::from_abstract_name(abstract_name.as_bytes()),
        None => SocketAddr::from_pathname(&path),
    };
    if let (Ok(sock), Ok(addr)) = (UnixDatagram::unbound(), addr) {
        let _ = sock.send_to_addr(state.as_bytes(), &addr);
    }
}

/// Pings the watchdog if systemd asked for one (`WatchdogSec=`); the main loop calls it
/// every second.
pub fn watchdog() {
    if std::env::var_os("WATCHDOG_USEC").is_some() {
        send("WATCHDOG=1");
    }
}
