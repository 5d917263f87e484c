//! `flowgate deliveries` end to end: the CLI verb against this router served on a loopback
//! port, so the request it builds, the token it sends and its exit codes are the real ones.

use std::process::ExitCode;

use tokio::net::TcpListener;
use tokio::sync::watch;
use uuid::Uuid;

use super::{Admin, End, TOKEN, admin};
use crate::cli::{DeliveriesAction, DeliveriesArgs, deliveries};
use crate::config::Config;

/// Serves `gw`'s router until the returned sender is dropped; its base URL.
async fn serve(gw: &Admin) -> (String, watch::Sender<bool>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let url = format!("http://{}", listener.local_addr().expect("address"));
    let (close, closed) = watch::channel(false);
    let router = gw.router.clone();
    let timeout = std::time::Duration::from_secs(5);
    tokio::spawn(crate::http::server::serve(
        listener,
        crate::http::server::Routes::new(router),
        crate::http::server::Accept::plain(timeout),
        closed,
    ));
    (url, close)
}

async fn run(token: &str, url: &str, action: DeliveriesAction) -> ExitCode {
    let mut config = Config::default();
    config.admin.token = Some(token.to_owned());
    let args = DeliveriesArgs {
        action,
        json: false,
        admin_url: Some(url.to_owned()),
    };
    deliveries(&config, &args)
        .await
        .expect("the admin API answered")
}

#[tokio::test]
async fn the_cli_exits_0_on_success_and_1_on_a_problem() {
    let gw = admin();
    let dead = gw
        .delivery("photo", "acme", Uuid::new_v4(), 5, End::Dead)
        .await;
    let (url, _close) = serve(&gw).await;
    let list = DeliveriesAction::List {
        state: Some("dead".to_owned()),
        vendor: None,
        tenant: None,
        order_id: None,
        since: Some("2000-01-01T00:00:00+01:00".to_owned()),
        limit: Some(10),
        cursor: None,
    };
    assert_eq!(run(TOKEN, &url, list).await, ExitCode::SUCCESS);
    let show = DeliveriesAction::Show { id: dead };
    assert_eq!(run(TOKEN, &url, show).await, ExitCode::SUCCESS);
    let retry = || DeliveriesAction::Retry {
        id: dead,
        force: false,
    };
    assert_eq!(run(TOKEN, &url, retry()).await, ExitCode::SUCCESS);
    let shown = gw.call("GET", &format!("/admin/deliveries/{dead}")).await;
    assert_eq!(shown.body["state"], "pending");
    assert_eq!(
        run(TOKEN, &url, retry()).await,
        ExitCode::FAILURE,
        "not dead any more"
    );
    assert_eq!(run("wrong", &url, retry()).await, ExitCode::FAILURE);
}
