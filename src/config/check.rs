//! Cross-checks that types cannot express: ranges, references between sections, URL and pointer
//! syntax. Every problem is collected so one run names them all.

use super::{
    Config, ConfigError, ConfigErrors, DEFAULT_ADMIN_TOKEN_ENV, FieldSource, RateLimitConfig,
    SecretRef, Source, TenantAuthConfig, TenantAuthKind, VendorConfig,
};
use crate::order::is_settable_state;

/// serde_json refuses deeper documents on its own, so a larger limit could never apply.
const MAX_JSON_DEPTH_CEILING: usize = 128;

impl Config {
    /// `unread` names the tables that had a mistake: checks that depend on them are skipped,
    /// because the defaults standing in for them are not what was meant.
    pub(super) fn check(&self, unread: &[String]) -> Result<(), ConfigErrors> {
        let mut errors = Vec::new();
        self.check_sections(&mut errors);
        if !unread
            .iter()
            .any(|key| key == "server" || key == "simulator")
        {
            self.check_listeners(&mut errors);
        }
        for (name, tenant) in &self.tenants {
            let key = format!("tenants.{name}");
            check_name(&self.source, &key, name, &mut errors);
            check_base_url(&self.source, &format!("{key}.base_url"), &tenant.base_url)
                .unwrap_or_else(|e| errors.push(e));
            check_tenant_auth(
                &self.source,
                &format!("{key}.auth"),
                &tenant.auth,
                &mut errors,
            );
            check_rate_limit(
                &self.source,
                &format!("{key}.rate_limit"),
                &tenant.rate_limit,
            )
            .unwrap_or_else(|e| errors.push(e));
        }
        self.check_distinct_base_urls(&mut errors);
        for (name, vendor) in &self.vendors {
            self.check_vendor(name, vendor, unread, &mut errors);
        }
        ConfigErrors(errors).into_result()
    }

    fn check_sections(&self, errors: &mut Vec<ConfigError>) {
        let s = &self.source;
        let mut require = |ok: bool, key: &str, message: &str| {
            if !ok {
                errors.push(s.error(key, message));
            }
        };
        let server = &self.server;
        require(
            server.max_body_bytes > 0,
            "server.max_body_bytes",
            "must be at least 1",
        );
        require(
            server.max_buffered_bytes >= server.max_body_bytes,
            "server.max_buffered_bytes",
            "must be at least server.max_body_bytes, or no body could ever be read",
        );
        require(
            server.max_in_flight > 0,
            "server.max_in_flight",
            "must be at least 1",
        );
        require(
            !server.request_timeout.is_zero(),
            "server.request_timeout",
            "must be longer than 0s",
        );
        require(
            ["sqlite://", "postgres://", "postgresql://"]
                .iter()
                .any(|scheme| {
                    self.store.url.len() > scheme.len() && self.store.url.starts_with(scheme)
                }),
            "store.url",
            "must be sqlite://PATH or postgres://…",
        );
        require(
            is_sql_identifier(&self.store.schema),
            "store.schema",
            "must be a plain SQL identifier",
        );
        require(
            self.delivery.workers > 0,
            "delivery.workers",
            "must be at least 1",
        );
        require(
            !self.delivery.retry_schedule.is_empty(),
            "delivery.retry_schedule",
            "must list at least one delay",
        );
        require(
            (0.0..=1.0).contains(&self.delivery.jitter),
            "delivery.jitter",
            "must be between 0 and 1",
        );
        require(
            self.delivery.circuit.failures > 0,
            "delivery.circuit.failures",
            "must be at least 1",
        );
        require(
            !self.delivery.request_timeout.is_zero(),
            "delivery.request_timeout",
            "must be longer than 0s",
        );
        require(
            (1..=MAX_JSON_DEPTH_CEILING).contains(&self.limits.max_json_depth),
            "limits.max_json_depth",
            "must be between 1 and 128",
        );
        require(
            self.limits.max_field_chars >= 2,
            "limits.max_field_chars",
            "must be at least 2",
        );
        require(
            tracing_subscriber::EnvFilter::try_new(&self.log.level).is_ok(),
            "log.level",
            "must be a level (error, warn, info, debug, trace) or a RUST_LOG-style filter",
        );
        for result in [
            self.admin_token().map(drop),
            self.simulator_secret().map(drop),
        ] {
            result.unwrap_or_else(|e| errors.push(e));
        }
    }

    fn check_vendor(
        &self,
        name: &str,
        vendor: &VendorConfig,
        unread: &[String],
        errors: &mut Vec<ConfigError>,
    ) {
        let s = &self.source;
        let key = format!("vendors.{name}");
        check_name(s, &key, name, errors);
        errors.extend(vendor.verify.check(s, &format!("{key}.verify")));
        let unread_tenant = |tenant: &str| {
            let entry = format!("tenants.{tenant}");
            unread.iter().any(|key| *key == entry || key == "tenants")
        };
        for tenant in vendor.tenant.iter().chain(vendor.tenants.iter().flatten()) {
            if !self.tenants.contains_key(tenant) && !unread_tenant(tenant) {
                let which = if vendor.tenant.as_ref() == Some(tenant) {
                    "tenant"
                } else {
                    "tenants"
                };
                errors.push(s.error(
                    format!("{key}.{which}"),
                    format!("no tenant `{tenant}` is configured"),
                ));
            }
        }
        if let (Some(fallback), Some(allowed)) = (&vendor.tenant, &vendor.tenants)
            && !allowed.contains(fallback)
        {
            errors.push(s.error(
                format!("{key}.tenant"),
                format!("`{fallback}` is not in {key}.tenants"),
            ));
        }
        if let Some(limit) = &vendor.rate_limit {
            check_rate_limit(s, &format!("{key}.rate_limit"), limit)
                .unwrap_or_else(|e| errors.push(e));
        }
        if let Some(url) = &vendor.launch_url {
            check_base_url(s, &format!("{key}.launch_url"), url).unwrap_or_else(|e| errors.push(e));
        }
        if let Some(map) = &vendor.map {
            if vendor.schema.is_none() {
                errors.push(s.error(
                    format!("{key}.schema"),
                    "a vendor with a map must name its schema",
                ));
            }
            if map.order_id.is_none() {
                errors.push(s.error(
                    format!("{key}.map.order_id"),
                    "a map must say where the order id is",
                ));
            }
            for (field, source) in map.fields() {
                if let Some(source) = source {
                    check_field_source(
                        s,
                        &format!("{key}.map.{field}"),
                        field == "state",
                        source,
                        errors,
                    );
                }
            }
            for (field, pointer) in map.pointers() {
                check_pointer(s, &format!("{key}.map.{field}"), pointer, errors);
            }
        }
    }

    /// A flowUrl must name one tenant, so no two tenants may share a base URL; and a base URL
    /// must be comparable (no credentials, query or fragment).
    fn check_distinct_base_urls(&self, errors: &mut Vec<ConfigError>) {
        let mut seen: Vec<(String, &str)> = Vec::new();
        for (name, tenant) in &self.tenants {
            let key = format!("tenants.{name}.base_url");
            if check_base_url(&self.source, &key, &tenant.base_url).is_err() {
                continue; // reported already
            }
            let Some(normal) = super::normalise_base_url(&tenant.base_url) else {
                errors.push(
                    self.source
                        .error(key, "a Flow base URL has no credentials, query or fragment"),
                );
                continue;
            };
            match seen.iter().find(|(url, _)| *url == normal) {
                Some((_, first)) => errors.push(
                    self.source
                        .error(key, format!("is the same Flow as tenants.{first}.base_url")),
                ),
                None => seen.push((normal, name)),
            }
        }
    }

    /// The admin bearer token's location: the configured form, else `FLOWGATE_ADMIN_TOKEN`.
    pub fn admin_token(&self) -> Result<SecretRef, ConfigError> {
        let admin = &self.admin;
        let default_env = DEFAULT_ADMIN_TOKEN_ENV.to_owned();
        let nothing_given = admin.token.is_none() && admin.token_file.is_none();
        let env = admin
            .token_env
            .as_ref()
            .or(nothing_given.then_some(&default_env));
        SecretRef::required(
            &self.source,
            ("admin", "token", false),
            admin.token.clone().map(|t| vec![t]),
            env,
            admin.token_file.as_ref(),
        )
    }

    pub fn simulator_secret(&self) -> Result<Option<SecretRef>, ConfigError> {
        let sim = &self.simulator;
        let secret = SecretRef::from_forms(
            &self.source,
            ("simulator", "client_secret", false),
            sim.client_secret.clone().map(|t| vec![t]),
            sim.client_secret_env.as_ref(),
            sim.client_secret_file.as_ref(),
        )?;
        if sim.enabled && secret.is_none() {
            return Err(self.source.error(
                "simulator.client_secret",
                "an enabled simulator needs a client secret",
            ));
        }
        Ok(secret)
    }
}

impl TenantAuthConfig {
    /// The tenant's one secret: the client secret or the bearer token, by `kind`.
    pub fn secret(&self, source: &Source, key: &str) -> Result<SecretRef, ConfigError> {
        let (name, inline, env, file) = match self.kind {
            TenantAuthKind::ClientCredentials => (
                "client_secret",
                &self.client_secret,
                &self.client_secret_env,
                &self.client_secret_file,
            ),
            TenantAuthKind::Bearer => ("token", &self.token, &self.token_env, &self.token_file),
        };
        let inline = inline.clone().map(|v| vec![v]);
        SecretRef::required(
            source,
            (key, name, false),
            inline,
            env.as_ref(),
            file.as_ref(),
        )
    }
}

fn check_tenant_auth(
    s: &Source,
    key: &str,
    auth: &TenantAuthConfig,
    errors: &mut Vec<ConfigError>,
) {
    auth.secret(s, key)
        .map(drop)
        .unwrap_or_else(|e| errors.push(e));
    let client_keys = [
        ("client_id", auth.client_id.is_some()),
        ("client_secret", auth.client_secret.is_some()),
        ("client_secret_env", auth.client_secret_env.is_some()),
        ("client_secret_file", auth.client_secret_file.is_some()),
    ];
    let token_keys = [
        ("token", auth.token.is_some()),
        ("token_env", auth.token_env.is_some()),
        ("token_file", auth.token_file.is_some()),
    ];
    let (kind, foreign) = match auth.kind {
        TenantAuthKind::ClientCredentials => {
            if auth.client_id.as_deref().is_none_or(str::is_empty) {
                errors.push(s.error(
                    format!("{key}.client_id"),
                    "client_credentials needs a client_id",
                ));
            }
            ("client_credentials", &token_keys[..])
        }
        TenantAuthKind::Bearer => ("bearer", &client_keys[..]),
    };
    for (name, _) in foreign.iter().filter(|(_, given)| *given) {
        errors.push(s.error(
            format!("{key}.{name}"),
            format!("not used by kind = \"{kind}\""),
        ));
    }
}

fn check_field_source(
    s: &Source,
    key: &str,
    is_state: bool,
    source: &FieldSource,
    errors: &mut Vec<ConfigError>,
) {
    let check_state = |value: &str, key: String, errors: &mut Vec<ConfigError>| {
        if is_state && !is_settable_state(value) {
            errors.push(s.error(
                key,
                format!(
                    "`{value}` is not a state a vendor may set (one of {})",
                    crate::order::SETTABLE_STATES.join(", ")
                ),
            ));
        }
    };
    match source {
        FieldSource::Pointer(_) => {}
        FieldSource::Literal(value) => check_state(value, format!("{key}.value"), errors),
        FieldSource::Table {
            values, default, ..
        } => {
            if values.is_empty() {
                errors.push(s.error(format!("{key}.values"), "a value table must not be empty"));
            }
            for (input, value) in values {
                check_state(value, format!("{key}.values.{input}"), errors);
            }
            if let Some(default) = default {
                check_state(default, format!("{key}.default"), errors);
            }
        }
    }
}

/// RFC 6901: empty (the whole document) or `/`-separated tokens where `~` escapes only 0 and 1.
fn check_pointer(s: &Source, key: &str, pointer: &str, errors: &mut Vec<ConfigError>) {
    let escapes_ok = pointer
        .split('~')
        .skip(1)
        .all(|rest| rest.starts_with('0') || rest.starts_with('1'));
    if !(pointer.is_empty() || pointer.starts_with('/')) || !escapes_ok {
        errors.push(s.error(
            key,
            format!("`{pointer}` is not a JSON pointer such as \"/data/orderId\""),
        ));
    }
}

/// An absolute http(s) URL with a host: the only kind of base a Flow call can be joined to.
pub(crate) fn check_base_url(s: &Source, key: &str, url: &str) -> Result<(), ConfigError> {
    let uri: http::Uri = url
        .parse()
        .map_err(|_| s.error(key, format!("`{url}` is not a URL")))?;
    let scheme_ok = matches!(uri.scheme_str(), Some("http" | "https"));
    if !scheme_ok || uri.host().is_none_or(str::is_empty) {
        return Err(s.error(
            key,
            format!("`{url}` must be an absolute http:// or https:// URL"),
        ));
    }
    Ok(())
}

fn check_rate_limit(s: &Source, key: &str, limit: &RateLimitConfig) -> Result<(), ConfigError> {
    if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
        return Err(s.error(format!("{key}.per_second"), "must be a number above 0"));
    }
    if limit.burst == 0 {
        return Err(s.error(format!("{key}.burst"), "must be at least 1"));
    }
    Ok(())
}

/// Vendor and tenant names appear in URLs and metric labels, so they stay plain.
fn check_name(s: &Source, key: &str, name: &str, errors: &mut Vec<ConfigError>) {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    if name.is_empty() || name.len() > 64 || !name.chars().all(plain) {
        errors.push(s.error(
            key,
            "names may use only letters, digits, '-', '_' and '.' (at most 64)",
        ));
    }
}

fn is_sql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}
