//! A headless Chromium driven through chromedriver (Debian's `chromium` and `chromium-driver`),
//! started on a free loopback port for one test and stopped when it is dropped; and the waits
//! the console's tests need.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use tempfile::TempDir;
use tokio::sync::{Mutex, MutexGuard};

use crate::support::Gateway;

const CHROMEDRIVER: &str = "/usr/bin/chromedriver";
const CHROMIUM: &str = "/usr/bin/chromium";

/// How long the page may take to show what a test waits for.
const PATIENCE: Duration = Duration::from_secs(15);

/// One browser at a time: two Chromiums on a small machine make every other test slow.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

/// A chromedriver process, the Chromium session it drives, and the console's origin.
pub struct Browser {
    pub client: Client,
    /// `http://<admin listener>`, the only origin the page may reach.
    pub origin: String,
    driver: Child,
    _profile: TempDir,
    _turn: MutexGuard<'static, ()>,
}

impl Browser {
    /// A browser for `gw`'s console at 1280×800, or `None` (after saying why) when chromedriver
    /// is not installed here; CI installs it (and sets `FLOWGATE_REQUIRE_CHROMEDRIVER=1`).
    pub async fn start(gw: &Gateway) -> Option<Browser> {
        if !Path::new(CHROMEDRIVER).exists() {
            let required = std::env::var("FLOWGATE_REQUIRE_CHROMEDRIVER").as_deref() == Ok("1");
            assert!(
                !required,
                "{CHROMEDRIVER} is missing and FLOWGATE_REQUIRE_CHROMEDRIVER=1"
            );
            eprintln!(
                "skipped: {CHROMEDRIVER} is missing (apt-get install chromium chromium-driver)"
            );
            return None;
        }
        let turn = ONE_AT_A_TIME.lock().await;
        let port = free_port();
        let driver = Command::new(CHROMEDRIVER)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().expect("a browser profile directory");
        let webdriver = format!("http://127.0.0.1:{port}");
        until_listening(port).await;
        let mut builder =
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new());
        builder.capabilities(capabilities(profile.path()));
        let client = builder
            .connect(&webdriver)
            .await
            .expect("a Chromium session");
        size_viewport(&client, 1280, 800).await;
        Some(Browser {
            client,
            origin: format!("http://{}", gw.admin),
            driver,
            _profile: profile,
            _turn: turn,
        })
    }

    /// Opens the console at `hash` (`#/overview`), as an operator pasting a link.
    pub async fn open(&self, hash: &str) {
        let url = format!("{}/console/{hash}", self.origin);
        self.client.goto(&url).await.expect("the console loads");
    }

    /// The first element `css` finds once its text contains `text`.
    pub async fn text_of(&self, css: &str, text: &str) -> String {
        let mut seen = String::new();
        let deadline = tokio::time::Instant::now() + PATIENCE;
        while tokio::time::Instant::now() < deadline {
            if let Ok(element) = self.client.find(Locator::Css(css)).await {
                seen = element.text().await.unwrap_or_default();
                if seen.contains(text) {
                    return seen;
                }
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("`{css}` never showed {text:?}; it last showed {seen:?}");
    }

    /// Waits until the console has shown the view of `hash` (`#/deliveries?state=dead`).
    pub async fn until_shown(&self, hash: &str) {
        let deadline = tokio::time::Instant::now() + PATIENCE;
        loop {
            let shown = self
                .run("return document.body.dataset.shown ?? null;")
                .await;
            if shown == hash {
                return;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "the console never showed {hash}; it shows {shown}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    /// Clicks the `<button>` named exactly `name`, once there is one.
    pub async fn click_button(&self, name: &str) {
        let xpath = format!("//button[normalize-space()='{name}']");
        self.element(Locator::XPath(&xpath))
            .await
            .click()
            .await
            .expect("a click");
    }

    /// Waits for what `locator` finds.
    pub async fn element(&self, locator: Locator<'_>) -> fantoccini::elements::Element {
        self.client
            .wait()
            .at_most(PATIENCE)
            .for_element(locator)
            .await
            .unwrap_or_else(|error| panic!("never found {locator:?}: {error}"))
    }

    /// Types `token` into the page's only password field and presses Enter.
    pub async fn sign_in(&self, token: &str) {
        let field = self.element(Locator::Css("input[type=password]")).await;
        let fields = self
            .client
            .find_all(Locator::Css("input[type=password]"))
            .await;
        assert_eq!(
            fields.map(|f| f.len()).unwrap_or_default(),
            1,
            "one password field"
        );
        field
            .send_keys(&format!("{token}\u{e007}"))
            .await
            .expect("typing");
    }

    /// Runs `script` (a function body) in the page.
    pub async fn run(&self, script: &str) -> Value {
        self.client
            .execute(script, Vec::new())
            .await
            .expect("the script runs")
    }

    /// The token is in neither the address nor a cookie.
    pub async fn assert_token_kept_to_the_tab(&self, token: &str) {
        let url = self.client.current_url().await.expect("the current URL");
        assert!(
            !url.as_str().contains(token),
            "the token is in the URL {url}"
        );
        let cookies = self.client.get_all_cookies().await.expect("the cookies");
        assert!(cookies.is_empty(), "cookies: {cookies:?}");
        assert_eq!(self.run("return document.cookie;").await, json!(""));
    }

    /// Every address the page loaded or called, from the browser's own performance log.
    pub async fn assert_only_the_admin_origin_was_reached(&self) {
        let script = "return [location.href, \
            ...performance.getEntriesByType('navigation').map((e) => e.name), \
            ...performance.getEntriesByType('resource').map((e) => e.name)];";
        let urls = self.run(script).await;
        let urls = urls.as_array().expect("a list of addresses");
        assert!(
            urls.len() > 3,
            "the log holds the page and its calls: {urls:?}"
        );
        let origin = format!("{}/", self.origin);
        for url in urls {
            let url = url.as_str().unwrap_or_default();
            assert!(url.starts_with(&origin), "{url} is not on {origin}");
        }
    }

    /// Writes a screenshot to `docs/images/console-<name>.png`, only when
    /// `FLOWGATE_SCREENSHOTS=1` (so a test run leaves the tree as it was).
    pub async fn screenshot(&self, name: &str) {
        if std::env::var("FLOWGATE_SCREENSHOTS").as_deref() != Ok("1") {
            return;
        }
        let png = self.client.screenshot().await.expect("a screenshot");
        let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("docs/images")
            .join(format!("console-{name}.png"));
        std::fs::write(&path, png).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    }

    /// Ends the session, then chromedriver.
    pub async fn close(mut self) {
        let _ = self.client.clone().close().await;
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        // A failed test still stops its chromedriver (and with it Chromium).
        let _ = self.driver.kill();
    }
}

fn capabilities(profile: &Path) -> serde_json::Map<String, Value> {
    let mut options = json!({"args": [
        "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
        "--window-size=1280,800", "--no-first-run", "--disable-extensions",
        format!("--user-data-dir={}", profile.display()),
    ]});
    if Path::new(CHROMIUM).exists() {
        options["binary"] = json!(CHROMIUM);
    }
    let capabilities = json!({"browserName": "chrome", "goog:chromeOptions": options});
    match capabilities {
        Value::Object(map) => map,
        _ => unreachable!("an object literal"),
    }
}

/// Makes the page's viewport (not the window around it) `width`×`height`.
async fn size_viewport(client: &Client, width: u32, height: u32) {
    let script =
        "return [window.outerWidth - window.innerWidth, window.outerHeight - window.innerHeight];";
    let frame = client
        .execute(script, Vec::new())
        .await
        .expect("the window's frame");
    let extra = |i: usize| u32::try_from(frame[i].as_u64().unwrap_or_default()).unwrap_or_default();
    client
        .set_window_size(width + extra(0), height + extra(1))
        .await
        .expect("the window resized");
}

fn free_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").expect("a free port");
    listener.local_addr().expect("its address").port()
}

/// Waits for chromedriver to listen on `port`.
async fn until_listening(port: u16) {
    let deadline = tokio::time::Instant::now() + PATIENCE;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        assert!(
            tokio::time::Instant::now() < deadline,
            "chromedriver never listened"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
