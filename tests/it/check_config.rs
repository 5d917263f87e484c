//! `flowgate check-config` names every error with its key and file, and `serve` refuses to start
//! on the same errors.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::tls::TestCa;

const BIN: &str = env!("CARGO_BIN_EXE_flowgate");

fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Output {
    let mut command = Command::new(BIN);
    command
        .arg("--config")
        .arg(dir.join("config.toml"))
        .args(args);
    command.env_remove("RUST_LOG");
    for (key, value) in env {
        command.env(key, value);
    }
    command.output().expect("runs the binary")
}

fn dir_with(config: &str, files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("config.toml"), config).expect("write config");
    for (name, text) in files {
        let path = dir.path().join(name);
        std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
        std::fs::write(path, text).expect("write file");
    }
    dir
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

const GOOD: &str = r#"
[vendors.acme]
verify = { scheme = "standard-webhooks", secrets_env = "FLOWGATE_IT_ACME_SECRETS" }
schema = "schemas/acme.json"
"#;
const SCHEMA: &str = r#"{"type": "object"}"#;
const SECRET: &str = "whsec_c2VjcmV0LXZhbHVlLW5vdC10by1iZS1wcmludGVk";

#[test]
fn a_good_configuration_prints_a_redacted_summary() {
    let dir = dir_with(GOOD, &[("schemas/acme.json", SCHEMA)]);
    let output = run(
        dir.path(),
        &["check-config"],
        &[("FLOWGATE_IT_ACME_SECRETS", SECRET)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", stderr(&output));
    assert!(stdout.contains("configuration OK"), "{stdout}");
    assert!(stdout.contains("acme: standard-webhooks"), "{stdout}");
    assert!(
        stdout.contains("$FLOWGATE_IT_ACME_SECRETS"),
        "names where the secret lives: {stdout}"
    );
    assert!(
        !stdout.contains(SECRET) && !stdout.contains("c2VjcmV0"),
        "never the secret: {stdout}"
    );
    assert!(
        stdout.contains("notice: admin token"),
        "the optional admin token is noticed: {stdout}"
    );
}

#[test]
fn a_missing_secret_variable_is_named() {
    let dir = dir_with(GOOD, &[("schemas/acme.json", SCHEMA)]);
    for verb in ["check-config", "serve"] {
        let output = run(dir.path(), &[verb], &[]);
        let text = stderr(&output);
        assert!(!output.status.success(), "{verb} must fail");
        assert!(
            text.contains("vendors.acme.verify.secrets_env"),
            "{verb}: {text}"
        );
        assert!(text.contains("FLOWGATE_IT_ACME_SECRETS"), "{verb}: {text}");
    }
}

#[test]
fn a_missing_tenant_secret_is_named() {
    let config = r#"
[tenants.acme-flow]
base_url = "https://flow.example/flow"
auth = { kind = "client_credentials", client_id = "c", client_secret_env = "FLOWGATE_IT_TENANT_SECRET" }
"#;
    let dir = dir_with(config, &[]);
    let output = run(dir.path(), &["check-config"], &[]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(
        text.contains("tenants.acme-flow.auth.client_secret_env"),
        "{text}"
    );
}

#[test]
fn an_unknown_key_is_named_with_its_file() {
    let dir = dir_with("[server]\nlisten = \"127.0.0.1:0\"\nlistens = 1\n", &[]);
    for verb in ["check-config", "serve"] {
        let output = run(dir.path(), &[verb], &[]);
        let text = stderr(&output);
        assert!(!output.status.success(), "{verb} must fail");
        assert!(text.contains("`server.listens`"), "{verb}: {text}");
        assert!(text.contains("config.toml"), "{verb}: {text}");
    }
}

#[test]
fn a_broken_schema_is_named() {
    let dir = dir_with(GOOD, &[("schemas/acme.json", r#"{"type": 12}"#)]);
    for verb in ["check-config", "serve"] {
        let output = run(dir.path(), &[verb], &[("FLOWGATE_IT_ACME_SECRETS", SECRET)]);
        let text = stderr(&output);
        assert!(!output.status.success(), "{verb} must fail");
        assert!(text.contains("vendors.acme.schema"), "{verb}: {text}");
        assert!(text.contains("acme.json"), "{verb}: {text}");
    }
}

#[test]
fn every_error_is_listed_in_one_run() {
    let config = "[server]\nmax_in_flight = 0\n[vendors.acme]\nverify = { scheme = \"bearer\" }\n";
    let dir = dir_with(config, &[]);
    let output = run(dir.path(), &["check-config"], &[]);
    let text = stderr(&output);
    assert!(text.contains("server.max_in_flight"), "{text}");
    assert!(text.contains("vendors.acme.verify.tokens_env"), "{text}");
    assert!(text.contains("2 error(s)"), "{text}");
}

#[test]
fn a_mapping_pointer_the_schema_cannot_reach_is_named() {
    let config = r#"
[vendors.acme]
verify = { scheme = "bearer", tokens = ["t"] }
schema = "schemas/acme.json"
[vendors.acme.map]
order_id = "/data/orderId"
status = "/data/mesage"
"#;
    let schema = r#"{"type": "object", "properties": {"data": {"type": "object",
        "properties": {"orderId": {"type": "string"}, "message": {"type": "string"}}}}}"#;
    let dir = dir_with(config, &[("schemas/acme.json", schema)]);
    let output = run(dir.path(), &["check-config"], &[]);
    let text = stderr(&output);
    assert!(!output.status.success());
    assert!(text.contains("vendors.acme.map.status"), "{text}");
    assert!(text.contains("/data/mesage"), "{text}");
    assert!(
        !text.contains("map.order_id"),
        "a reachable pointer is fine: {text}"
    );
}

#[test]
fn a_postgres_store_is_checked_without_connecting_and_its_password_never_shown() {
    let store = concat!(
        "[store]\nurl = \"postgres://flowgate:s3cret@db.invalid:5432/flowgate\"\n",
        "schema = \"gateway\"\n"
    );
    let dir = dir_with(&format!("{store}{GOOD}"), &[("schemas/acme.json", SCHEMA)]);
    let env = [("FLOWGATE_IT_ACME_SECRETS", SECRET)];
    let output = run(dir.path(), &["check-config"], &env);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", stderr(&output));
    assert!(
        stdout.contains("@db.invalid:5432/flowgate (schema gateway)"),
        "{stdout}"
    );
    assert!(!stdout.contains("s3cret"), "{stdout}");

    let bad = store.replace(":5432", ":notaport");
    let dir = dir_with(&format!("{bad}{GOOD}"), &[("schemas/acme.json", SCHEMA)]);
    let output = run(dir.path(), &["check-config"], &env);
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    assert!(text.contains("store.url"), "{text}");
    assert!(!text.contains("s3cret"), "{text}");
}

#[test]
fn mistakes_in_several_sections_vendors_and_variables_are_listed_in_one_run() {
    let config = r#"
[server]
max_in_flight = "many"
[store]
body_retention = "soon"
[delivery]
workers = 0
[vendors.a]
verify = { scheme = "bearer", tokens_env = "A" }
colour = "red"
[vendors.b]
verify = { scheme = "bearer", tokens_env = "B" }
size = 3
"#;
    let dir = dir_with(config, &[]);
    let env = [("FLOWGATE_SERVER__LISTN", "127.0.0.1:1")];
    for verb in ["check-config", "serve"] {
        let output = run(dir.path(), &[verb], &env);
        let text = stderr(&output);
        assert!(!output.status.success(), "{verb} must fail: {text}");
        let lines: Vec<&str> = text.lines().filter(|l| l.starts_with("error: ")).collect();
        for expected in [
            "config.toml: `server.max_in_flight`",
            "config.toml: `store.body_retention`",
            "config.toml: `delivery.workers`: must be at least 1",
            "config.toml: `vendors.a.colour`",
            "config.toml: `vendors.b.size`",
            "environment variable FLOWGATE_SERVER__LISTN: `server.listn`",
        ] {
            assert!(
                lines.iter().any(|l| l.contains(expected)),
                "{verb}: no line with {expected}: {text}"
            );
        }
        assert_eq!(lines.len(), 6, "{verb}: one line per problem: {text}");
    }
}

#[test]
fn the_demo_configuration_is_refused_on_all_interfaces() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let env = [("FLOWGATE_SERVER__LISTEN", "0.0.0.0:8080")];
    let output = run(repo, &["check-config"], &env);
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    assert!(
        text.contains("environment variable FLOWGATE_SERVER__LISTEN: `server.listen`"),
        "{text}"
    );
    assert!(text.contains("server.allow_inline_secrets"), "{text}");
    assert!(text.contains("vendors.demo.verify.secrets"), "{text}");
}

#[test]
fn flowgate_config_names_the_file_when_no_flag_does() {
    let dir = dir_with(GOOD, &[("schemas/acme.json", SCHEMA)]);
    let elsewhere = tempfile::tempdir().expect("tempdir");
    let command = |config: &Path| {
        let mut command = Command::new(BIN);
        command
            .current_dir(elsewhere.path())
            .env("FLOWGATE_CONFIG", config)
            .env("FLOWGATE_IT_ACME_SECRETS", SECRET)
            .env_remove("RUST_LOG");
        command
    };
    let config = dir.path().join("config.toml");
    let output = command(&config).arg("check-config").output().expect("runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}{}", stderr(&output));
    assert!(stdout.contains(&config.display().to_string()), "{stdout}");

    let missing = dir.path().join("nowhere.toml");
    for verb in [
        &["check-config"][..],
        &["serve"],
        &["map", "--vendor", "acme", "x.json"],
    ] {
        let output = command(&missing).args(verb).output().expect("runs");
        let text = stderr(&output);
        assert!(!output.status.success(), "{verb:?}: {text}");
        assert!(text.contains("nowhere.toml"), "{verb:?}: {text}");
    }
    let output = command(&missing)
        .arg("--config")
        .arg(&config)
        .arg("check-config")
        .output()
        .expect("runs");
    assert!(
        output.status.success(),
        "--config wins: {}",
        stderr(&output)
    );
}

#[test]
fn serve_prints_one_line_per_problem_it_finds_while_building() {
    let config = r#"
[vendors.a]
verify = { scheme = "bearer", tokens_env = "FLOWGATE_IT_UNSET_A" }
[vendors.b]
verify = { scheme = "bearer", tokens_env = "FLOWGATE_IT_UNSET_B" }
"#;
    let dir = dir_with(config, &[]);
    let output = run(dir.path(), &["serve"], &[]);
    let text = stderr(&output);
    assert!(!output.status.success(), "{text}");
    for key in ["vendors.a.verify.tokens_env", "vendors.b.verify.tokens_env"] {
        assert!(
            text.lines()
                .any(|l| l.starts_with("error: ") && l.contains(key)),
            "no error line names {key}: {text}"
        );
    }
}

const TLS: &str = r#"
[server.tls]
cert_file = "tls/server.crt"
key_file = "tls/server.key"
"#;

#[test]
fn tls_files_and_versions_are_checked_each_named_by_its_key() {
    let ca = TestCa::new("check-config CA");
    let (server, other) = (ca.server(), ca.server());
    let env = [("FLOWGATE_IT_ACME_SECRETS", SECRET)];
    let failing = |config: &str, files: &[(&str, &str)], expected: &[&str]| {
        let mut all = vec![("schemas/acme.json", SCHEMA)];
        all.extend_from_slice(files);
        let dir = dir_with(&format!("{GOOD}{config}"), &all);
        for verb in ["check-config", "serve"] {
            let output = run(dir.path(), &[verb], &env);
            let text = stderr(&output);
            assert!(!output.status.success(), "{verb} must fail: {text}");
            for words in expected {
                assert!(text.contains(words), "{verb}: no {words:?} in {text}");
            }
        }
    };
    // Every file's mistake at once, each with its key and path.
    failing(
        &format!("{TLS}client_ca_file = \"tls/clients.pem\"\n"),
        &[("tls/server.key", &server.key)],
        &[
            "`server.tls.cert_file`: cannot read ",
            "tls/server.crt",
            "`server.tls.client_ca_file`: cannot read ",
            "tls/clients.pem",
            "2 error(s)",
        ],
    );
    failing(
        TLS,
        &[
            ("tls/server.crt", &server.cert),
            ("tls/server.key", &other.key),
        ],
        &[
            "`server.tls.key_file`: the key in ",
            "does not match the certificate",
        ],
    );
    failing(
        &format!("{TLS}min_version = \"1.1\"\n"),
        &[
            ("tls/server.crt", &server.cert),
            ("tls/server.key", &server.key),
        ],
        &["`server.tls.min_version`", "`1.1`"],
    );
}

#[test]
fn the_summary_names_the_certificate_served() {
    let ca = TestCa::new("check-config CA");
    let server = ca.server();
    let files = [
        ("schemas/acme.json", SCHEMA),
        ("tls/server.crt", &server.cert),
        ("tls/server.key", &server.key),
        ("tls/clients.pem", &ca.pem()),
    ];
    let config =
        format!("{GOOD}{TLS}client_ca_file = \"tls/clients.pem\"\nmin_version = \"1.3\"\n");
    let dir = dir_with(&config, &files);
    let output = run(
        dir.path(),
        &["check-config"],
        &[("FLOWGATE_IT_ACME_SECRETS", SECRET)],
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", stderr(&output));
    let line = stdout
        .lines()
        .find(|l| l.starts_with("tls: "))
        .unwrap_or_else(|| panic!("no tls line: {stdout}"));
    for words in [
        "TLS 1.3+",
        "tls/server.crt",
        "client certificates signed by ",
        "certificate `CN=flowgate test server`, expires 2040-06-30T00:00:00+00:00",
    ] {
        assert!(line.contains(words), "no {words:?} in {line}");
    }
}

#[test]
fn a_shadow_schema_is_compiled_and_its_errors_are_named_by_its_key() {
    let shadowed = format!("{GOOD}shadow_schema = \"schemas/acme.v2.json\"\n");
    let env = [("FLOWGATE_IT_ACME_SECRETS", SECRET)];
    let files = [
        ("schemas/acme.json", SCHEMA),
        ("schemas/acme.v2.json", SCHEMA),
    ];
    let output = run(dir_with(&shadowed, &files).path(), &["check-config"], &env);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}\n{}", stderr(&output));
    assert!(
        stdout.contains("shadow schema schemas/acme.v2.json"),
        "{stdout}"
    );
    let broken = [
        ("schemas/acme.json", SCHEMA),
        ("schemas/acme.v2.json", r#"{"type": 12}"#),
    ];
    let output = run(dir_with(&shadowed, &broken).path(), &["check-config"], &env);
    assert!(!output.status.success());
    let errors = stderr(&output);
    assert!(errors.contains("vendors.acme.shadow_schema"), "{errors}");
    assert!(errors.contains("acme.v2.json"), "{errors}");
}
