//! The client verbs of the binary against an in-process gateway (DESIGN section 10): `send`
//! signs a file as the vendor and exits 0 only on 2xx; `healthcheck` exits 0 only when
//! `/readyz` answers 200.

use std::ffi::OsStr;
use std::path::Path;

use crate::support::client::get;
use crate::support::fixtures::{
    self, BEARER_TOKEN, CANONICAL_SECRET, GITHUB_SECRET, OTHER_SECRET, canonical_update,
    photo_event,
};
use crate::support::flowgate_command;
use crate::support::{Gateway, TIMEOUT, eventually, within};

/// What a run of the binary left behind.
#[derive(Debug)]
struct Run {
    success: bool,
    stdout: String,
    stderr: String,
}

/// Runs the binary with `args`, without the caller's `FLOWGATE_*` variables, bounded in time.
async fn flowgate<I, S>(args: I) -> Run
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = flowgate_command();
    command.args(args);
    let output = within(TIMEOUT, "the flowgate binary", command.output())
        .await
        .expect("the binary runs");
    Run {
        success: output.status.success(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

async fn send(gw: &Gateway, config: &Path, vendor: &str, file: &Path) -> Run {
    let url = format!("http://{}", gw.public);
    let config = config.as_os_str();
    flowgate([
        config_flag(),
        config,
        OsStr::new("send"),
        OsStr::new("--vendor"),
        OsStr::new(vendor),
        OsStr::new("--url"),
        OsStr::new(&url),
        file.as_os_str(),
    ])
    .await
}

fn config_flag() -> &'static OsStr {
    OsStr::new("--config")
}

/// `send` with the gateway's own config is accepted; with a client config whose secret for
/// `vendor` is `wrong` instead of `right`, it prints the 401 problem and exits non-zero.
async fn assert_send_round_trip(vendor: &str, body: &str, right: &str, wrong: &str) {
    let gw = fixtures::gateway("", "").await;
    let file = gw.write_file("payload.json", body);

    let accepted = send(&gw, gw.config_path(), vendor, &file).await;
    assert!(accepted.success, "{accepted:?}");
    assert!(accepted.stdout.contains("200 OK"), "{accepted:?}");
    assert!(accepted.stdout.contains("delivered"), "{accepted:?}");

    let gateway_config = std::fs::read_to_string(gw.config_path()).expect("the config");
    assert!(gateway_config.contains(right));
    let client_config = gw.write_file("client.toml", &gateway_config.replace(right, wrong));
    let rejected = send(&gw, &client_config, vendor, &file).await;
    assert!(!rejected.success, "{rejected:?}");
    assert!(rejected.stdout.contains("401"), "{rejected:?}");
    assert!(
        rejected.stdout.contains("signature-invalid"),
        "{rejected:?}"
    );
}

#[tokio::test]
async fn send_as_a_standard_webhooks_vendor_is_accepted_with_its_secret_and_401_with_another() {
    let body = canonical_update();
    assert_send_round_trip("canonical", &body, CANONICAL_SECRET, OTHER_SECRET).await;
}

#[tokio::test]
async fn send_as_a_github_preset_vendor_is_accepted_with_its_secret_and_401_with_another() {
    assert_send_round_trip(
        "photo",
        &photo_event(),
        GITHUB_SECRET,
        "not-the-photo-secret",
    )
    .await;
}

#[tokio::test]
async fn send_as_a_bearer_vendor_is_accepted_with_its_token_and_401_with_another() {
    let body = canonical_update();
    assert_send_round_trip("bearer", &body, BEARER_TOKEN, "not-the-partner-token").await;
}

#[tokio::test]
async fn send_for_a_vendor_not_in_the_config_fails_naming_it() {
    let gw = fixtures::gateway("", "").await;
    let file = gw.write_file("payload.json", &canonical_update());
    let run = send(&gw, gw.config_path(), "nobody", &file).await;
    assert!(!run.success, "{run:?}");
    assert!(run.stderr.contains("nobody"), "{run:?}");
}

/// A config that names `admin_listen` and nothing else.
fn healthcheck_config(gw: &Gateway, admin_listen: std::net::SocketAddr) -> std::path::PathBuf {
    let toml = format!("[server]\nadmin_listen = \"{admin_listen}\"\n");
    gw.write_file("healthcheck.toml", &toml)
}

async fn healthcheck(config: &Path) -> Run {
    flowgate([config_flag(), config.as_os_str(), OsStr::new("healthcheck")]).await
}

#[tokio::test]
async fn healthcheck_exits_0_when_readyz_answers_200() {
    let gw = Gateway::start("").await;
    let run = healthcheck(&healthcheck_config(&gw, gw.admin)).await;
    assert!(run.success, "{run:?}");
    assert!(run.stdout.contains("200"), "{run:?}");
}

#[tokio::test]
async fn healthcheck_exits_non_zero_when_nothing_listens() {
    let gw = Gateway::start("").await;
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        listener.local_addr().expect("an address")
    };
    let run = healthcheck(&healthcheck_config(&gw, closed)).await;
    assert!(!run.success, "{run:?}");
}

#[tokio::test]
async fn healthcheck_exits_non_zero_while_the_gateway_drains() {
    let mut gw = Gateway::start("[server]\ndrain_delay = \"5s\"").await;
    let config = healthcheck_config(&gw, gw.admin);
    gw.begin_shutdown();
    let readyz = async || get(&gw.admin_url("/readyz")).await;
    eventually("readiness turns 503", readyz, |r| r.status == 503).await;
    let run = healthcheck(&config).await;
    assert!(!run.success, "{run:?}");
    assert!(run.stdout.contains("503"), "{run:?}");
    assert!(
        run.stdout.contains("gateway: shutting down"),
        "the failing check is named: {run:?}"
    );
}
