//! The guards of section 3: listeners sharing an address, inline secrets beyond loopback,
//! variables naming no key, and every mistake reported at once.

use std::path::Path;

use super::tests::{VENDOR, error_for, errors, load};
use super::*;

fn keys_of(all: &[ConfigError]) -> Vec<&str> {
    all.iter().map(|e| e.key.as_str()).collect()
}

#[test]
fn two_listeners_on_one_address_are_refused() {
    let server = |listen: &str, admin: &str| {
        format!("[server]\nlisten = \"{listen}\"\nadmin_listen = \"{admin}\"\n")
    };
    for (listen, admin) in [
        ("127.0.0.1:7000", "127.0.0.1:7000"),
        ("0.0.0.0:7000", "127.0.0.1:7000"),
        ("127.0.0.1:7000", "0.0.0.0:7000"),
        ("[::]:7000", "127.0.0.1:7000"),
        ("[::1]:7000", "[::]:7000"),
    ] {
        let error = error_for(&server(listen, admin), "server.admin_listen");
        assert!(error.message.contains("server.listen"), "{error}");
    }
    for (listen, admin) in [
        ("127.0.0.1:0", "127.0.0.1:0"),
        ("127.0.0.1:7000", "127.0.0.2:7000"),
        ("127.0.0.1:7000", "[::1]:7000"),
        ("0.0.0.0:7000", "[::1]:7000"),
    ] {
        let (_dir, config) = load(&server(listen, admin), &[]);
        config.unwrap_or_else(|e| panic!("{listen} and {admin} may both be bound: {e}"));
    }
    let simulator = |enabled: bool| {
        format!(
            "[server]\nlisten = \"127.0.0.1:7001\"\n[simulator]\nenabled = {enabled}\n\
             listen = \"127.0.0.1:7001\"\nclient_secret_env = \"SIM_SECRET\"\n"
        )
    };
    error_for(&simulator(true), "simulator.listen");
    let (_dir, config) = load(&simulator(false), &[]);
    config.expect("a disabled simulator binds nothing");
    let all = errors("", &[("FLOWGATE_SERVER__ADMIN_LISTEN", "127.0.0.1:8080")]);
    assert_eq!(keys_of(&all), ["server.admin_listen"]);
    assert_eq!(
        all[0].origin,
        Origin::Env("FLOWGATE_SERVER__ADMIN_LISTEN".into())
    );
}

#[test]
fn inline_secrets_are_refused_beyond_loopback_unless_allowed() {
    let exposed = format!("[server]\nlisten = \"0.0.0.0:8080\"\n{VENDOR}");
    let error = error_for(&exposed, "server.listen");
    assert!(
        error.message.contains("vendors.acme.verify.tokens"),
        "{error}"
    );
    assert!(error.message.contains("allow_inline_secrets"), "{error}");

    let allowed = exposed.replace("[server]\n", "[server]\nallow_inline_secrets = true\n");
    load(&allowed, &[]).1.expect("allowed explicitly");
    let by_variable = concat!(
        "[server]\nlisten = \"0.0.0.0:8080\"\n[vendors.acme]\n",
        "verify = { scheme = \"bearer\", tokens_env = \"T\" }\n"
    );
    load(by_variable, &[]).1.expect("secrets by variable");
    let env = [
        ("FLOWGATE_SERVER__LISTEN", "0.0.0.0:8080"),
        ("FLOWGATE_ADMIN__TOKEN", "from-the-environment"),
    ];
    load("", &env)
        .1
        .expect("an inline key set by a variable is not in the file");

    let all = errors(
        "[admin]\ntoken = \"t\"\n[simulator]\nenabled = true\nclient_secret_env = \"S\"\n",
        &[("FLOWGATE_SIMULATOR__LISTEN", "[::]:8081")],
    );
    assert_eq!(keys_of(&all), ["simulator.listen"], "{all:#?}");
    assert!(all[0].message.contains("admin.token"), "{}", all[0]);
    assert_eq!(
        all[0].origin,
        Origin::Env("FLOWGATE_SIMULATOR__LISTEN".into())
    );
}

#[test]
fn the_demo_configuration_runs_on_loopback_and_never_beyond() {
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("config.toml");
    Config::load_with_env(&demo, []).expect("the demo loads as it is");
    let env = [("FLOWGATE_SERVER__LISTEN".into(), "0.0.0.0:8080".into())];
    let all = Config::load_with_env(&demo, env).expect_err("refused").0;
    assert_eq!(keys_of(&all), ["server.listen"], "{all:#?}");
    let text = all[0].to_string();
    assert!(
        text.starts_with("environment variable FLOWGATE_SERVER__LISTEN"),
        "{text}"
    );
    for key in [
        "admin.token",
        "vendors.demo.verify.secrets",
        "simulator.client_secret",
    ] {
        assert!(text.contains(key), "{key} is not named: {text}");
    }
}

#[test]
fn a_variable_naming_no_key_is_refused_with_what_it_could_mean() {
    let env = |var: &str| -> Vec<ConfigError> { errors("", &[(var, "1")]) };
    let all = env("FLOWGATE_SERVER__LISTN");
    assert_eq!(keys_of(&all), ["server.listn"]);
    assert_eq!(all[0].origin, Origin::Env("FLOWGATE_SERVER__LISTN".into()));
    assert!(
        all[0].message.contains("FLOWGATE_SERVER__LISTEN"),
        "{}",
        all[0]
    );
    let all = env("FLOWGATE_SERVER__MAX_BODY");
    assert!(
        all[0].message.contains("FLOWGATE_SERVER__MAX_BODY_BYTES"),
        "{}",
        all[0]
    );
    let all = env("FLOWGATE_SERVR__LISTEN");
    assert!(
        all[0].message.contains("FLOWGATE_SERVER__LISTEN"),
        "{}",
        all[0]
    );
    let all = env("FLOWGATE_LOG__XYZZY");
    assert!(all[0].message.contains("format, level"), "{}", all[0]);
    let all = env("FLOWGATE_VENDORS__ACME");
    assert!(all[0].message.contains("only in the file"), "{}", all[0]);

    let not_configuration = [
        ("FLOWGATE_ADMIN_TOKEN", "t"),
        ("FLOWGATE_CONFIG", "/etc/flowgate.toml"),
        ("FLOWGATE_TEST_POSTGRES_URL", "postgres://x"),
    ];
    load("", &not_configuration).1.expect("not configuration");
}

/// Checks across tables still run, except where they depend on a table with a mistake (tenant
/// `t` here): the defaults standing in for it would report errors that are not there.
#[test]
fn mistakes_in_different_sections_and_entries_are_all_reported() {
    let text = r#"
[server]
max_in_flight = "many"
[delivery]
workerz = 3
[surver]
[tenants.t]
base_url = "https://flow.example/flow"
auth = { kind = "bearer", token_env = "T" }
colour = "red"
[vendors.a]
verify = { scheme = "bearer", tokens_env = "A" }
colour = "red"
[vendors.b]
verify = { scheme = "bearer", tokens_env = "B" }
size = 3
[vendors.c]
verify = { scheme = "bearer", tokens_env = "C" }
tenants = ["t", "ghost"]
[limits]
max_json_depth = 0
"#;
    let all = errors(text, &[("FLOWGATE_LOG__LEVLE", "debug")]);
    let mut found = keys_of(&all);
    found.sort();
    assert_eq!(
        found,
        [
            "delivery.workerz",
            "limits.max_json_depth",
            "log.levle",
            "server.max_in_flight",
            "surver",
            "tenants.t.colour",
            "vendors.a.colour",
            "vendors.b.size",
            "vendors.c.tenants",
        ],
        "{all:#?}"
    );
    let tenants = all.iter().find(|e| e.key == "vendors.c.tenants");
    let tenants = tenants.expect("vendors.c.tenants");
    assert!(
        tenants.message.contains("ghost"),
        "only the tenant that is not configured, not the one with a mistake: {tenants}"
    );
    let surver = all.iter().find(|e| e.key == "surver").expect("surver");
    assert!(surver.message.contains("`server`"), "{surver}");
}

#[test]
fn a_syntax_error_is_one_line_naming_where_it_is() {
    let all = errors(
        "[server]\nlisten = \"127.0.0.1:1\"\nmax_in_flight = = 3\n",
        &[],
    );
    let text = all[0].to_string();
    assert_eq!(all.len(), 1, "{all:#?}");
    assert!(!text.contains('\n'), "{text}");
    assert!(text.contains("line 3, column"), "{text}");
}
