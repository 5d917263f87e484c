//! The addresses `serve` binds: no two listeners on one address, and no inline secret while a
//! listener reaches beyond this machine, so a demo configuration never serves the world.

use std::net::{IpAddr, SocketAddr};

use super::{Config, ConfigError, Origin};

impl Config {
    /// Every listener `serve` opens, with the key that sets its address.
    pub fn listeners(&self) -> Vec<(&'static str, SocketAddr)> {
        let mut listeners = vec![
            ("server.listen", self.server.listen),
            ("server.admin_listen", self.server.admin_listen),
        ];
        if self.simulator.enabled {
            listeners.push(("simulator.listen", self.simulator.listen));
        }
        listeners
    }

    pub(super) fn check_listeners(&self, errors: &mut Vec<ConfigError>) {
        let listeners = self.listeners();
        for (i, (key, address)) in listeners.iter().enumerate() {
            let taken = listeners[..i]
                .iter()
                .find(|(_, earlier)| overlap(*address, *earlier));
            if let Some((earlier_key, earlier)) = taken {
                errors.push(self.source.error(
                    *key,
                    format!(
                        "{address} collides with {earlier_key} ({earlier}): \
                         every listener needs an address of its own"
                    ),
                ));
            }
        }
        self.check_inline_secrets(&listeners, errors);
    }

    /// One error per listener that is not loopback while any secret is written in the file. An
    /// inline key set by a variable (`FLOWGATE_ADMIN__TOKEN`) keeps its secret out of the file.
    fn check_inline_secrets(
        &self,
        listeners: &[(&str, SocketAddr)],
        errors: &mut Vec<ConfigError>,
    ) {
        if self.server.allow_inline_secrets {
            return;
        }
        let inline: Vec<String> = super::summary::inline_secrets(self)
            .into_iter()
            .filter(|key| matches!(self.source.origin(key), Origin::File(_)))
            .collect();
        if inline.is_empty() {
            return;
        }
        let exposed = listeners
            .iter()
            .filter(|(_, address)| !address.ip().to_canonical().is_loopback());
        for (key, address) in exposed {
            errors.push(self.source.error(
                *key,
                format!(
                    "binds {address}, beyond loopback, while secrets are written inline in \
                     the file ({}): inline secrets are for demos on this machine; give each as \
                     <key>_env or <key>_file, or set server.allow_inline_secrets = true",
                    inline.join(", ")
                ),
            ));
        }
    }
}

/// Whether two listen addresses contend for one port: the same address, or a wildcard and an
/// address it covers. Port 0 asks the system for a free port, so it never contends.
fn overlap(a: SocketAddr, b: SocketAddr) -> bool {
    a.port() == b.port() && a.port() != 0 && (covers(a.ip(), b.ip()) || covers(b.ip(), a.ip()))
}

/// `0.0.0.0` covers every IPv4 address; `[::]` every address, IPv4 included, because an IPv6
/// wildcard socket is dual-stack by default on Linux.
fn covers(wide: IpAddr, other: IpAddr) -> bool {
    let (wide, other) = (wide.to_canonical(), other.to_canonical());
    match wide {
        IpAddr::V6(v6) if v6.is_unspecified() => true,
        IpAddr::V4(v4) if v4.is_unspecified() => other.is_ipv4(),
        _ => wide == other,
    }
}
