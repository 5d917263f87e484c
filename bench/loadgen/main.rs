//! The load generator of `bench/load.sh`: HTTP/1.1 keep-alive over C connections for D seconds (or
//! N requests) against 127.0.0.1, each webhook signed anew with a fresh event id (the envelope's
//! `id`, which the gateway deduplicates on), so the gateway runs with dedup on, as deployed. It
//! shares the cores with the server it measures, so it stays lean: plain TCP, a minimal response
//! parser, the requests laid out once and only their id, order and signature rewritten.
//! Usage: `cargo run --release --example loadgen -- URL SET.jsonl|- [OPTIONS]`; prints one line.

use std::io;
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, bail};
use clap::Parser;
use futures_util::future::join_all;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;
use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;

use response::read_answer;

mod response;
#[cfg(test)]
mod tests;

/// The fresh event id: `evt-` and this many decimal digits (a u64 fits).
const ID_DIGITS: usize = 20;
/// The tail of an order id a fresh order rewrites: the UUID's last 12 hex digits.
const ORDER_DIGITS: usize = 12;

#[derive(Parser)]
#[command(about = "Signed webhooks with fresh event ids over kept-alive HTTP/1.1 connections")]
struct Args {
    /// http://127.0.0.1:PORT/PATH (loopback only).
    url: String,
    /// The bodies: bench/load.py's SET.jsonl (lines of [signature, body]); "-" sends GETs.
    set: String,
    /// Connections kept open at once.
    #[arg(short, long, default_value_t = 64)]
    connections: usize,
    /// Seconds to send for.
    #[arg(short, long, default_value_t = 10.0)]
    duration: f64,
    /// Stop after this many requests in all (the duration still caps the run).
    #[arg(short = 'n', long)]
    requests: Option<u64>,
    /// Threads, each running its share of the connections.
    #[arg(short, long, default_value_t = 2)]
    threads: usize,
    /// Seconds a request may take before its connection counts a socket error and reconnects.
    #[arg(long, default_value_t = 5.0)]
    timeout: f64,
    /// Sign with a wrong MAC (all zeros): every webhook is refused 401.
    #[arg(long)]
    forge: bool,
    /// A fresh order for every webhook too (the order id's last 12 hex digits rewritten).
    #[arg(long)]
    fresh_orders: bool,
    /// The vendor's HMAC secret (GitHub preset: X-Hub-Signature-256).
    #[arg(long, default_value = "bench-secret")]
    secret: String,
    /// Exit 1 unless every request is answered with this status.
    #[arg(long)]
    expect: Option<u16>,
}

/// One body of the set, and where a request rewrites it.
struct Template {
    body: Vec<u8>,
    /// Where the event id's digits are.
    id: usize,
    /// Where each mention of the order id ends its last `ORDER_DIGITS` hex digits.
    orders: Vec<usize>,
    /// `\r\nContent-Length: N\r\n\r\n`, after the signature.
    tail: Vec<u8>,
}

/// What every connection sends, laid out once.
struct Plan {
    address: SocketAddr,
    /// The request up to the signature's hex (a POST), or the whole request (a GET).
    head: Vec<u8>,
    templates: Vec<Template>,
    mac: Hmac<Sha256>,
    forge: bool,
    fresh_orders: bool,
    /// The first sequence number: the clock in ns at start, so no two runs share an id.
    base: u64,
    connections: u64,
    deadline: Instant,
    timeout: Duration,
}

/// One connection's answers.
#[derive(Default)]
struct Tally {
    classes: [u64; 6],
    errors: u64,
    unexpected: u64,
    latencies_us: Vec<u32>,
}

fn main() -> anyhow::Result<ExitCode> {
    let args = Args::parse();
    let plan = plan(&args)?;
    let started = Instant::now();
    let connections = args.connections.max(1);
    let threads = args.threads.clamp(1, connections);
    let tallies = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..threads)
            .map(|thread| {
                let (plan, expect) = (&plan, args.expect);
                let quota = |c: usize| quota(args.requests, connections, c);
                let mine: Vec<(usize, Option<u64>)> = (thread..connections)
                    .step_by(threads)
                    .map(|c| (c, quota(c)))
                    .collect();
                scope.spawn(move || -> io::Result<Vec<Tally>> {
                    let runtime = tokio::runtime::Builder::new_current_thread()
                        .enable_all()
                        .build()?;
                    let runs = mine
                        .into_iter()
                        .map(|(c, n)| connection(plan, c, n, expect));
                    Ok(runtime.block_on(join_all(runs)))
                })
            })
            .collect();
        handles
            .into_iter()
            .map(std::thread::ScopedJoinHandle::join)
            .collect::<Vec<_>>()
    });
    let mut all = Tally::default();
    for tally in tallies {
        let tally = tally.map_err(|_| anyhow::anyhow!("a load thread panicked"))??;
        for t in tally {
            all.merge(t);
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    print(&mut all, seconds);
    let failed = args.expect.is_some() && (all.unexpected > 0 || all.errors > 0);
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Connection `c`'s share of `requests`, when the run is capped.
fn quota(requests: Option<u64>, connections: usize, c: usize) -> Option<u64> {
    let (n, c, conns) = (requests?, c as u64, connections as u64);
    Some(n / conns + u64::from(c < n % conns))
}

fn plan(args: &Args) -> anyhow::Result<Plan> {
    let rest = args
        .url
        .strip_prefix("http://127.0.0.1:")
        .context("the URL must be http://127.0.0.1:PORT/...")?;
    let (port, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let port: u16 = port.parse().context("the URL's port")?;
    let path = if path.is_empty() { "/" } else { path };
    let host = format!("127.0.0.1:{port}");
    let (head, templates) = if args.set == "-" {
        (
            format!("GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n").into_bytes(),
            Vec::new(),
        )
    } else {
        let head = format!(
            "POST {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\nX-Hub-Signature-256: sha256="
        );
        let text =
            std::fs::read_to_string(&args.set).with_context(|| format!("reading {}", args.set))?;
        let templates = text
            .lines()
            .map(template)
            .collect::<anyhow::Result<Vec<_>>>()?;
        if templates.is_empty() {
            bail!("{} holds no bodies", args.set);
        }
        (head.into_bytes(), templates)
    };
    let connections = args.connections.max(1) as u64;
    let base = SystemTime::now().duration_since(UNIX_EPOCH)?.as_nanos() as u64;
    Ok(Plan {
        address: SocketAddr::from(([127, 0, 0, 1], port)),
        head,
        templates,
        mac: Hmac::new_from_slice(args.secret.as_bytes())?,
        forge: args.forge,
        fresh_orders: args.fresh_orders,
        base,
        connections,
        deadline: Instant::now() + Duration::from_secs_f64(args.duration),
        timeout: Duration::from_secs_f64(args.timeout),
    })
}

/// A body of the set with its `id` widened to `evt-` and `ID_DIGITS` digits (so every fresh id
/// has the same length, and so does the body), and where its order id is mentioned.
fn template(line: &str) -> anyhow::Result<Template> {
    let (_, body): (String, String) = serde_json::from_str(line).context("a line of the set")?;
    const START: &str = "{\"id\":\"";
    let after = body
        .strip_prefix(START)
        .context("a body that does not start with its id")?;
    let end = after.find('"').context("an unterminated id")?;
    let body = format!("{START}evt-{}{}", "0".repeat(ID_DIGITS), &after[end..]);
    let order = body
        .split_once("\"orderId\":\"")
        .and_then(|(_, rest)| rest.get(..36))
        .context("a body without an orderId")?;
    let orders = body
        .match_indices(order)
        .map(|(at, _)| at + order.len() - ORDER_DIGITS)
        .collect();
    Ok(Template {
        id: START.len() + "evt-".len(),
        orders,
        tail: format!("\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes(),
        body: body.into_bytes(),
    })
}

/// The `n`th request of the run into `out`: the template it falls on, with a fresh id (and
/// order) and the signature over the result.
fn request(plan: &Plan, n: u64, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&plan.head);
    if plan.templates.is_empty() {
        return;
    }
    let template = &plan.templates[(n % plan.templates.len() as u64) as usize];
    let signature = out.len();
    out.extend_from_slice(&[b'0'; 64]);
    out.extend_from_slice(&template.tail);
    let body = out.len();
    out.extend_from_slice(&template.body);
    let fresh = plan.base.wrapping_add(n);
    put_digits(&mut out[body + template.id..][..ID_DIGITS], fresh, 10);
    if plan.fresh_orders {
        for &at in &template.orders {
            put_digits(&mut out[body + at..][..ORDER_DIGITS], fresh, 16);
        }
    }
    if !plan.forge {
        let mut mac = plan.mac.clone();
        mac.update(&out[body..]);
        let tag = mac.finalize().into_bytes();
        // 32 bytes always fill the 64 hex digits reserved for them.
        let _ = hex::encode_to_slice(tag, &mut out[signature..signature + 64]);
    }
}

/// Writes `value`'s last digits in `radix` (10 or 16) over `slot`, zero-padded.
fn put_digits(slot: &mut [u8], mut value: u64, radix: u64) {
    for digit in slot.iter_mut().rev() {
        *digit = b"0123456789abcdef"[(value % radix) as usize];
        value /= radix;
    }
}

/// One connection until the deadline (or its `quota` of requests): reconnects after a socket
/// error, a timeout or a server's `Connection: close`.
async fn connection(plan: &Plan, c: usize, quota: Option<u64>, expect: Option<u16>) -> Tally {
    let mut tally = Tally::default();
    let (mut out, mut answer) = (Vec::with_capacity(2048), Vec::with_capacity(4096));
    let mut sent = 0u64;
    let mut stream: Option<TcpStream> = None;
    let more = |sent: u64, now: Instant| now < plan.deadline && quota.is_none_or(|q| sent < q);
    while more(sent, Instant::now()) {
        let Some(open) = stream.as_mut() else {
            match tokio::time::timeout(plan.timeout, TcpStream::connect(plan.address)).await {
                Ok(Ok(s)) => {
                    let _ = s.set_nodelay(true);
                    answer.clear();
                    stream = Some(s);
                }
                _ => {
                    tally.errors += 1;
                    tokio::time::sleep(Duration::from_millis(10)).await;
                }
            }
            continue;
        };
        request(plan, sent * plan.connections + c as u64, &mut out);
        let started = Instant::now();
        let exchange = async {
            open.write_all(&out).await?;
            read_answer(open, &mut answer).await
        };
        let result = tokio::time::timeout(plan.timeout, exchange).await;
        match result {
            Ok(Ok(got)) => {
                let us = started.elapsed().as_micros();
                tally
                    .latencies_us
                    .push(u32::try_from(us).unwrap_or(u32::MAX));
                tally.classes[usize::from(got.status / 100).min(5)] += 1;
                if expect.is_some_and(|e| e != got.status) {
                    tally.unexpected += 1;
                }
                if got.close {
                    stream = None;
                }
            }
            _ => {
                tally.errors += 1;
                stream = None;
            }
        }
        sent += 1;
    }
    tally
}

impl Tally {
    fn merge(&mut self, other: Tally) {
        for (mine, theirs) in self.classes.iter_mut().zip(other.classes) {
            *mine += theirs;
        }
        self.errors += other.errors;
        self.unexpected += other.unexpected;
        self.latencies_us.extend(other.latencies_us);
    }
}

/// One line of `name value` pairs for bench/load.sh; latencies exact, from every sample.
fn print(all: &mut Tally, seconds: f64) {
    all.latencies_us.sort_unstable();
    let n = all.latencies_us.len();
    let at = |q: f64| -> String {
        let i = ((q * n as f64).ceil() as usize).clamp(1, n.max(1)) - 1;
        all.latencies_us.get(i).map_or("-".to_owned(), |us| {
            format!("{:.3}ms", f64::from(*us) / 1000.0)
        })
    };
    let c = &all.classes;
    println!(
        "requests {n} seconds {seconds:.3} rps {:.1} p50 {} p99 {} max {} 2xx {} 3xx {} 4xx {} 5xx {} other {} errors {} unexpected {}",
        n as f64 / seconds.max(1e-9),
        at(0.5),
        at(0.99),
        at(1.0),
        c[2],
        c[3],
        c[4],
        c[5],
        c[0] + c[1],
        all.errors,
        all.unexpected,
    );
}
