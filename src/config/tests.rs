use std::path::{Path, PathBuf};
use std::time::Duration;

use super::secret::SecretLocation;
use super::*;

/// Writes `text` as `config.toml` in a fresh directory and loads it with `env`.
pub(super) fn load(
    text: &str,
    env: &[(&str, &str)],
) -> (tempfile::TempDir, Result<Config, ConfigErrors>) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write config");
    let env = env.iter().map(|(k, v)| (k.to_string(), v.to_string()));
    let loaded = Config::load_with_env(&path, env);
    (dir, loaded)
}

pub(super) fn errors(text: &str, env: &[(&str, &str)]) -> Vec<ConfigError> {
    load(text, env)
        .1
        .expect_err("configuration must be refused")
        .0
}

/// The one error whose key is `key`.
pub(super) fn error_for(text: &str, key: &str) -> ConfigError {
    let all = errors(text, &[]);
    all.iter()
        .find(|e| e.key == key)
        .cloned()
        .unwrap_or_else(|| panic!("no error for `{key}` in {all:#?}"))
}

pub(super) const VENDOR: &str = r#"
[vendors.acme]
verify = { scheme = "bearer", tokens = ["t0ken"] }
"#;

#[test]
fn an_empty_file_gives_the_documented_defaults() {
    let (_dir, config) = load("", &[]);
    let config = config.expect("defaults load");
    assert_eq!(config.server.listen.to_string(), "127.0.0.1:8080");
    assert_eq!(config.server.admin_listen.to_string(), "127.0.0.1:9090");
    assert_eq!(config.server.max_body_bytes, 262_144);
    assert_eq!(config.server.request_timeout, Duration::from_secs(10));
    assert_eq!(config.store.url, "sqlite://data/flowgate.db");
    assert_eq!(config.delivery.retry_schedule.len(), 10);
    assert_eq!(
        config.delivery.retry_schedule[9],
        Duration::from_secs(12 * 3600)
    );
    assert_eq!(config.limits.max_json_depth, 32);
    assert_eq!(config.store.min_free_disk, ByteSize(1 << 30));
}

#[test]
fn body_retention_is_a_day_unless_the_file_or_a_variable_says_otherwise() {
    let (_dir, config) = load("", &[]);
    let day = Duration::from_secs(24 * 3600);
    assert_eq!(config.expect("defaults").store.body_retention, day);
    let (_dir, config) = load("[store]\nbody_retention = \"0s\"\n", &[]);
    assert_eq!(config.expect("0s").store.body_retention, Duration::ZERO);
    let env = [("FLOWGATE_STORE__BODY_RETENTION", "2h")];
    let (_dir, config) = load("[store]\nbody_retention = \"0s\"\n", &env);
    let hours = Duration::from_secs(2 * 3600);
    assert_eq!(config.expect("2h").store.body_retention, hours);
    error_for(
        "[store]\nbody_retention = \"soon\"\n",
        "store.body_retention",
    );
}

#[test]
fn the_contract_example_loads() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/config/design-example.toml");
    let config = Config::load_with_env(&path, []).expect("the example of the contract loads");
    let vendor = &config.vendors["example-photo"];
    let map = vendor.map.as_ref().expect("map");
    let metadata = map.metadata.as_ref().expect("metadata");
    assert_eq!(
        metadata.0[0].0, "Photographer",
        "metadata keeps the written order"
    );
    assert_eq!(metadata.0[1].0, "Shoot date");
    assert!(
        matches!(&map.action_text, Some(FieldSource::Literal(text)) if text == "Open in Example Photo")
    );
    assert_eq!(config.tenants["demo"].rate_limit.burst, 80);
    let tls = config.server.tls.as_ref().expect("[server.tls]");
    assert_eq!(tls.cert_file, Path::new("certs/flowgate.crt"));
    assert_eq!(
        tls.client_ca_file, None,
        "\"\" asks for no client certificate"
    );
    assert_eq!(tls.min_version, TlsVersion::Tls12);
}

#[test]
fn the_tls_table_is_read_and_its_mistakes_named() {
    let (_dir, config) = load("", &[]);
    assert!(
        config.expect("defaults").server.tls.is_none(),
        "plain HTTP by default"
    );
    let table = "[server.tls]\ncert_file = \"c.pem\"\nkey_file = \"k.pem\"\n";
    let (_dir, config) = load(
        &format!("{table}client_ca_file = \"ca.pem\"\nmin_version = \"1.3\"\n"),
        &[],
    );
    let config = config.expect("loads");
    let tls = config.server.tls.as_ref().expect("[server.tls]");
    assert_eq!(tls.key_file, Path::new("k.pem"));
    assert_eq!(tls.client_ca_file.as_deref(), Some(Path::new("ca.pem")));
    assert_eq!(tls.min_version, TlsVersion::Tls13);

    let error = error_for(&format!("{table}colour = 1\n"), "server.tls.colour");
    assert!(error.message.contains("unknown field"), "{error}");
    let error = error_for(
        &format!("{table}min_version = \"1.1\"\n"),
        "server.tls.min_version",
    );
    assert!(error.message.contains("`1.1`"), "{error}");
    let error = error_for("[server.tls]\ncert_file = \"c.pem\"\n", "server.tls");
    assert!(error.message.contains("key_file"), "{error}");
}

#[test]
fn a_missing_file_is_named() {
    let error =
        Config::load_with_env(Path::new("/nonexistent/flowgate.toml"), []).expect_err("missing");
    let text = error.to_string();
    assert!(text.contains("/nonexistent/flowgate.toml"), "{text}");
}

#[test]
fn unknown_keys_are_named_with_the_file() {
    let error = error_for("[server]\nlisten_port = 80\n", "server.listen_port");
    assert!(error.message.contains("unknown field"), "{error}");
    assert!(error.to_string().contains("config.toml"), "{error}");

    let error = error_for(
        &format!("{VENDOR}colour = \"red\"\n"),
        "vendors.acme.colour",
    );
    assert!(error.message.contains("unknown field"), "{error}");
    error_for("[surver]\n", "surver");
}

#[test]
fn bad_values_are_named() {
    let error = error_for(
        "[server]\nrequest_timeout = \"soon\"\n",
        "server.request_timeout",
    );
    assert!(error.message.contains("`soon`"), "{error}");
    error_for(
        "[server]\nmax_body_bytes = \"big\"\n",
        "server.max_body_bytes",
    );
    error_for("[delivery]\njitter = 2.0\n", "delivery.jitter");
    error_for("[store]\nurl = \"mysql://x\"\n", "store.url");
    error_for("[limits]\nmax_json_depth = 0\n", "limits.max_json_depth");
    error_for("[log]\nlevel = \"loud[\"\n", "log.level");
    let error = error_for(
        "[server]\ntrusted_proxies = [\"10.0.0.0/33\"]\n",
        "server.trusted_proxies[0]",
    );
    assert!(error.message.contains("`10.0.0.0/33`"), "{error}");
}

#[test]
fn address_ranges_take_cidrs_or_single_addresses() {
    let ranges = ["10.0.0.0/8", "203.0.113.7", "2001:db8::/32", " 10.1.2.3/8 "];
    let ranges: Vec<AddressRange> = ranges
        .iter()
        .map(|r| AddressRange::parse(r).expect("a range"))
        .collect();
    let inside = |address: &str| {
        let address = address.parse().expect("an address");
        ranges.iter().any(|range| range.contains(address))
    };
    for yes in [
        "10.255.0.1",
        "203.0.113.7",
        "::ffff:203.0.113.7",
        "2001:db8::9",
    ] {
        assert!(inside(yes), "{yes}");
    }
    for no in ["11.0.0.1", "203.0.113.8", "2001:db9::1", "::1"] {
        assert!(!inside(no), "{no}");
    }
    for bad in ["", "10.0.0.0/33", "example.com", "10.0.0"] {
        assert!(AddressRange::parse(bad).is_err(), "{bad:?}");
    }
}

#[test]
fn environment_variables_override_the_file_and_are_named_in_errors() {
    let env = [
        ("FLOWGATE_SERVER__MAX_BODY_BYTES", "1024"),
        ("FLOWGATE_SERVER__REQUEST_TIMEOUT", "3s"),
        ("FLOWGATE_LOG__FORMAT", "json"),
        ("FLOWGATE_ADMIN_TOKEN", "not configuration"),
    ];
    let (_dir, config) = load("[server]\nmax_body_bytes = 10\n", &env);
    let config = config.expect("loads");
    assert_eq!(config.server.max_body_bytes, 1024);
    assert_eq!(config.server.request_timeout, Duration::from_secs(3));
    assert_eq!(config.log.format, LogFormat::Json);

    let all = errors("", &[("FLOWGATE_SERVER__MAX_IN_FLIGHT", "many")]);
    assert_eq!(all[0].key, "server.max_in_flight");
    assert_eq!(
        all[0].origin,
        Origin::Env("FLOWGATE_SERVER__MAX_IN_FLIGHT".into())
    );
    assert!(
        all[0]
            .to_string()
            .contains("FLOWGATE_SERVER__MAX_IN_FLIGHT"),
        "{}",
        all[0]
    );

    let all = errors("", &[("FLOWGATE_SERVER__LISTN", "x")]);
    assert_eq!(all[0].key, "server.listn");
}

#[test]
fn every_vendor_needs_a_verifier_and_no_scheme_is_none() {
    let error = error_for("[vendors.acme]\ntenant = \"x\"\n", "vendors.acme");
    assert!(error.message.contains("verify"), "{error}");
    let error = error_for(
        "[vendors.acme]\nverify = { scheme = \"none\" }\n",
        "vendors.acme.verify.scheme",
    );
    assert!(error.message.contains("unknown variant"), "{error}");
}

#[test]
fn verify_tables_must_fit_their_scheme() {
    let text =
        "[vendors.acme]\nverify = { scheme = \"bearer\", tokens = [\"t\"], header = \"X-Sig\" }\n";
    error_for(text, "vendors.acme.verify.header");
    let text = "[vendors.acme]\nverify = { scheme = \"hmac\", secrets = [\"s\"] }\n";
    error_for(text, "vendors.acme.verify.header");
    let text = "[vendors.acme]\nverify = { scheme = \"hmac\", preset = \"github\", secrets = [\"s\"], prefix = \"x\" }\n";
    error_for(text, "vendors.acme.verify.prefix");
    let text = "[vendors.acme]\nverify = { scheme = \"standard-webhooks\" }\n";
    error_for(text, "vendors.acme.verify.secrets_env");
    let text = "[vendors.acme]\nverify = { scheme = \"standard-webhooks\", secrets = [\"a\"], secrets_env = \"B\" }\n";
    error_for(text, "vendors.acme.verify.secrets");
    let text = "[vendors.acme]\nverify = { scheme = \"basic\", password = \"p\" }\n";
    error_for(text, "vendors.acme.verify.username");
}

#[test]
fn references_between_sections_are_checked() {
    let text = format!("{VENDOR}tenant = \"ghost\"\ntenants = [\"phantom\"]\n");
    let all = errors(&text, &[]);
    assert!(
        all.iter()
            .any(|e| e.key == "vendors.acme.tenant" && e.message.contains("ghost")),
        "{all:#?}"
    );
    assert!(
        all.iter()
            .any(|e| e.key == "vendors.acme.tenants" && e.message.contains("phantom")),
        "{all:#?}"
    );
}

#[test]
fn maps_are_checked_fail_closed() {
    let text = format!(
        "{VENDOR}[vendors.acme.map]\norder_id = \"data/orderId\"\nstate = {{ from = \"/type\", values = {{ a = \"Done\" }} }}\nstatus = {{ from = \"/s\", values = {{}} }}\n"
    );
    let all = errors(&text, &[]);
    let keys: Vec<&str> = all.iter().map(|e| e.key.as_str()).collect();
    for key in [
        "vendors.acme.schema",
        "vendors.acme.map.order_id",
        "vendors.acme.map.state.values.a",
        "vendors.acme.map.status.values",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let error = error_for(
        &format!("{VENDOR}[vendors.acme.map]\nstate = {{ value = \"Unknown\" }}\n"),
        "vendors.acme.map.state.value",
    );
    assert!(
        error.message.contains("InProcess"),
        "lists the settable states: {error}"
    );
    error_for(
        &format!("{VENDOR}[vendors.acme.map]\ntitle = {{ value = \"x\", from = \"/y\" }}\n"),
        "vendors.acme.map.title",
    );
}

#[test]
fn tenants_are_checked() {
    let text = "[tenants.t]\nbase_url = \"ftp://x\"\nauth = { kind = \"client_credentials\", client_secret = \"s\" }\nrate_limit = { per_second = 0, burst = 1 }\n";
    let keys: Vec<String> = errors(text, &[]).into_iter().map(|e| e.key).collect();
    for key in [
        "tenants.t.base_url",
        "tenants.t.auth.client_id",
        "tenants.t.rate_limit.per_second",
    ] {
        assert!(keys.iter().any(|k| k == key), "{key} missing from {keys:?}");
    }
    let text = "[tenants.t]\nbase_url = \"https://x/flow\"\nauth = { kind = \"bearer\", token = \"t\", client_id = \"c\" }\n";
    error_for(text, "tenants.t.auth.client_id");
}

#[test]
fn names_must_be_plain() {
    error_for(
        "[vendors.\"a b\"]\nverify = { scheme = \"bearer\", tokens = [\"t\"] }\n",
        "vendors.a b",
    );
}

#[test]
fn relative_paths_resolve_against_the_config_directory() {
    let (dir, config) = load(VENDOR, &[]);
    let config = config.expect("loads");
    assert_eq!(
        config
            .source
            .resolve("vendors.acme.schema", Path::new("schemas/x.json")),
        dir.path().join("schemas/x.json")
    );
    assert_eq!(
        config
            .source
            .resolve("vendors.acme.schema", Path::new("/abs/x.json")),
        PathBuf::from("/abs/x.json")
    );
}

#[test]
fn secrets_resolve_from_files_and_name_what_is_missing() {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("tokens"), "one, two\nthree\n").expect("write");
    let text = "[vendors.acme]\nverify = { scheme = \"bearer\", tokens_file = \"tokens\" }\n";
    let path = dir.path().join("config.toml");
    std::fs::write(&path, text).expect("write");
    let config = Config::load_with_env(&path, []).expect("loads");
    let secret = config.vendors["acme"]
        .verify
        .secret(&config.source, "vendors.acme.verify")
        .expect("named");
    assert_eq!(
        secret.resolve(&config.source).expect("reads"),
        ["one", "two", "three"]
    );

    let text = "[vendors.acme]\nverify = { scheme = \"bearer\", tokens_env = \"FLOWGATE_TEST_SURELY_UNSET_VAR\" }\n";
    std::fs::write(&path, text).expect("write");
    let config =
        Config::load_with_env(&path, []).expect("loads: secrets are resolved by their users");
    let error = config.vendors["acme"]
        .verify
        .secret(&config.source, "vendors.acme.verify")
        .and_then(|secret| secret.resolve(&config.source))
        .expect_err("unset variable");
    assert_eq!(error.key, "vendors.acme.verify.tokens_env");
    assert!(
        error.message.contains("FLOWGATE_TEST_SURELY_UNSET_VAR"),
        "{error}"
    );
}

#[test]
fn all_errors_are_reported_at_once() {
    let text = "[server]\nmax_in_flight = 0\n[delivery]\nworkers = 0\n";
    assert_eq!(errors(text, &[]).len(), 2);
}

#[test]
fn the_admin_token_takes_any_one_form_and_defaults_to_its_variable() {
    let (_dir, config) = load("", &[]);
    let token = config.expect("loads").admin_token().expect("default");
    assert_eq!(
        token.location,
        SecretLocation::Env(DEFAULT_ADMIN_TOKEN_ENV.into())
    );
    let (dir, config) = load("[admin]\ntoken_file = \"admin.token\"\n", &[]);
    let token = config
        .expect("a file alone is enough")
        .admin_token()
        .expect("file");
    assert_eq!(
        token.location,
        SecretLocation::File(dir.path().join("admin.token"))
    );
    let all = errors("[admin]\ntoken = \"t\"\ntoken_env = \"V\"\n", &[]);
    assert_eq!(all[0].key, "admin.token");
}

#[test]
fn paths_set_by_variables_resolve_against_the_working_directory() {
    let env = [("FLOWGATE_ADMIN__TOKEN_FILE", "secrets/admin.token")];
    let (_dir, config) = load("", &env);
    let token = config.expect("loads").admin_token().expect("file");
    assert_eq!(
        token.location,
        SecretLocation::File(PathBuf::from("secrets/admin.token"))
    );
}

#[test]
fn variables_set_scalars_only() {
    let all = errors("", &[("FLOWGATE_DELIVERY__RETRY_SCHEDULE", "[\"1s\"]")]);
    assert_eq!(all[0].key, "delivery.retry_schedule");
    assert_eq!(
        all[0].origin,
        Origin::Env("FLOWGATE_DELIVERY__RETRY_SCHEDULE".into())
    );
    let all = errors("", &[("FLOWGATE_DELIVERY__CIRCUIT", "{ failures = 0 }")]);
    assert_eq!(
        all[0].origin,
        Origin::Env("FLOWGATE_DELIVERY__CIRCUIT".into())
    );
}

#[test]
fn a_blank_inline_secret_is_refused_naming_its_entry() {
    let vendor = |verify: &str| format!("[vendors.acme]\nverify = {{ {verify} }}\n");
    let error = error_for(
        &vendor(r#"scheme = "standard-webhooks", secrets = [" "]"#),
        "vendors.acme.verify.secrets[0]",
    );
    assert!(error.message.contains("only whitespace"), "{error}");
    let error = error_for(
        &vendor(r#"scheme = "hmac", preset = "github", secrets = ["a", ""]"#),
        "vendors.acme.verify.secrets[1]",
    );
    assert!(error.message.contains("is empty"), "{error}");
    assert!(!error.message.contains("holds no secret"), "{error}");
    let error = error_for(
        &vendor(r#"scheme = "bearer", tokens = []"#),
        "vendors.acme.verify.tokens",
    );
    assert!(error.message.contains("no secret"), "{error}");
    error_for(
        &vendor(r#"scheme = "bearer", tokens = ["t", "\t"]"#),
        "vendors.acme.verify.tokens[1]",
    );
    error_for(
        &vendor(r#"scheme = "basic", username = "u", password = "  ""#),
        "vendors.acme.verify.password",
    );
    let tenant = |auth: &str| {
        format!("[tenants.t]\nbase_url = \"https://flow.example/flow\"\nauth = {{ {auth} }}\n")
    };
    error_for(
        &tenant(r#"kind = "client_credentials", client_id = "c", client_secret = " ""#),
        "tenants.t.auth.client_secret",
    );
    error_for(
        &tenant(r#"kind = "bearer", token = """#),
        "tenants.t.auth.token",
    );
    error_for("[admin]\ntoken = \" \"\n", "admin.token");
    error_for(
        "[simulator]\nenabled = true\nclient_secret = \"\"\n",
        "simulator.client_secret",
    );
    let all = errors("", &[("FLOWGATE_ADMIN__TOKEN", " ")]);
    assert_eq!(all[0].key, "admin.token");
    assert_eq!(all[0].origin, Origin::Env("FLOWGATE_ADMIN__TOKEN".into()));
}
