//! The redacted summary `check-config` prints: what will run, where each secret comes from,
//! never a secret's value.

use std::fmt::Write;

use super::{
    Config, DeliveryMode, FlowTokenPolicy, SecretRef, SyncMode, TenantAuthKind, TlsConfig,
};

/// `certificate` describes the certificate `[server.tls]` serves, which only the TLS room reads.
pub fn render(config: &Config, certificate: Option<&str>) -> String {
    let mut out = String::new();
    let (server, store, delivery) = (&config.server, &config.store, &config.delivery);
    let _ = writeln!(out, "config: {}", config.source.file.display());
    let _ = writeln!(
        out,
        "server: listen {}, admin {}, max_body_bytes {}, request_timeout {}, max_in_flight {}",
        server.listen,
        server.admin_listen,
        server.max_body_bytes,
        humantime::format_duration(server.request_timeout),
        server.max_in_flight
    );
    if let Some(tls) = &server.tls {
        let _ = writeln!(out, "{}", tls_line(tls, certificate));
    }
    let store_detail = if store.is_postgres() {
        format!("schema {}", store.schema)
    } else {
        match store.sync {
            SyncMode::Full => "sync full".to_owned(),
            SyncMode::Normal => "sync normal".to_owned(),
        }
    };
    let _ = writeln!(out, "store: {} ({store_detail})", redact_url(&store.url));
    let _ = writeln!(
        out,
        "delivery: {} by default, {} workers",
        mode(delivery.mode),
        delivery.workers
    );
    if config.simulator.enabled {
        let sim = &config.simulator;
        let _ = writeln!(
            out,
            "simulator: Flow simulator in process on {} (client_id {})",
            sim.listen, sim.client_id
        );
    }
    match config.admin_token() {
        Ok(token) if token.resolve(&config.source).is_ok() => {
            let _ = writeln!(out, "admin token: {}", token.describe());
        }
        Ok(token) => {
            let _ = writeln!(
                out,
                "notice: admin token {} is not set, so /admin/* answers 403",
                token.describe()
            );
        }
        Err(_) => {}
    }
    let _ = writeln!(out, "tenants: {}", config.tenants.len());
    for (name, tenant) in &config.tenants {
        let secret = tenant
            .auth
            .secret(&config.source, "")
            .map(|s| s.describe())
            .unwrap_or_default();
        let _ = writeln!(
            out,
            "  {name}: {} auth {} (secret {secret}), {}/s burst {}",
            tenant.base_url,
            match tenant.auth.kind {
                TenantAuthKind::ClientCredentials => "client_credentials",
                TenantAuthKind::Bearer => "bearer",
            },
            tenant.rate_limit.per_second,
            tenant.rate_limit.burst
        );
    }
    let _ = writeln!(out, "vendors: {}", config.vendors.len());
    for (name, vendor) in &config.vendors {
        let secret = vendor
            .verify
            .secret(&config.source, "")
            .map(|s| s.describe())
            .unwrap_or_default();
        let schema = vendor
            .schema
            .as_ref()
            .map_or("canonical envelope".into(), |p| p.display().to_string());
        let shadow = vendor.shadow_schema.as_ref().map_or(String::new(), |p| {
            format!(", shadow schema {}", p.display())
        });
        let _ = writeln!(
            out,
            "  {name}: {} (secret {secret}), schema {schema}{shadow}{}, flow_token {}, delivery {}",
            vendor.verify.scheme_name(),
            if vendor.map.is_some() { ", mapped" } else { "" },
            match vendor.flow_token {
                FlowTokenPolicy::Required => "required",
                FlowTokenPolicy::Optional => "optional",
                FlowTokenPolicy::Off => "off",
            },
            mode(vendor.delivery.unwrap_or(delivery.mode)),
        );
    }
    for key in inline_secrets(config) {
        let _ = writeln!(
            out,
            "warning: `{key}` is an inline secret: for local demos only"
        );
    }
    out.push_str("configuration OK\n");
    out
}

/// Keys whose secret is written in the file itself.
pub fn inline_secrets(config: &Config) -> Vec<String> {
    let source = &config.source;
    let vendors = config.vendors.iter().map(|(name, v)| {
        v.verify
            .secret(source, &format!("vendors.{name}.verify"))
            .ok()
    });
    let tenants = config
        .tenants
        .iter()
        .map(|(name, t)| t.auth.secret(source, &format!("tenants.{name}.auth")).ok());
    let others = [
        config.admin_token().ok(),
        config.simulator_secret().ok().flatten(),
    ];
    vendors
        .chain(tenants)
        .chain(others)
        .flatten()
        .filter(SecretRef::is_inline)
        .map(|s| s.key)
        .collect()
}

/// The public listener's TLS: versions, files (as written, like schemas), client certificates,
/// and the certificate served.
fn tls_line(tls: &TlsConfig, certificate: Option<&str>) -> String {
    let mut line = format!(
        "tls: TLS {}+ with ALPN h2 and http/1.1, cert_file {}, key_file {}",
        tls.min_version.as_str(),
        tls.cert_file.display(),
        tls.key_file.display()
    );
    if let Some(ca) = &tls.client_ca_file {
        let _ = write!(
            line,
            ", client certificates signed by {} required",
            ca.display()
        );
    }
    if let Some(certificate) = certificate {
        let _ = write!(line, "; {certificate}");
    }
    line
}

fn mode(mode: DeliveryMode) -> &'static str {
    match mode {
        DeliveryMode::Queued => "queued",
        DeliveryMode::Sync => "sync",
    }
}

/// A PostgreSQL URL may carry a password.
fn redact_url(url: &str) -> String {
    match (url.split_once("://"), url.rfind('@')) {
        (Some((scheme, _)), Some(at)) => format!("{scheme}://…{}", &url[at..]),
        _ => url.to_owned(),
    }
}
