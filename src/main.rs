//! The `flowgate` binary: parse the command line, load the configuration, run one verb.

use std::process::ExitCode;

use clap::Parser;
use flowgate::cli::{self, Cli, Command};
use flowgate::config::Config;

/// glibc's allocator spent a tenth of a queued webhook's CPU in its own bookkeeping
/// (consolidation and chunk unlinking under hyper's buffers and SQLite's pages); mimalloc's
/// per-thread free lists do not. Built without transparent huge pages, which would back every
/// touched region with 2 MiB pages and raise the resident set by a third.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::CheckConfig = cli.command {
        return cli::check_config(&cli.config);
    }
    let config = match Config::load(&cli.config) {
        Ok(config) => config,
        Err(errors) => {
            cli::print_config_errors(&errors);
            return cli.command.could_not_run();
        }
    };
    // Dropping it writes the lines still queued.
    let log = flowgate::telemetry::init(
        cli.log_format.unwrap_or(config.log.format),
        &config.log.level,
    );
    let outcome = match &cli.command {
        Command::Serve => cli::serve(config).await.map(|()| ExitCode::SUCCESS),
        Command::Send { vendor, url, file } => {
            cli::send(&config, vendor, url.as_deref(), file).await
        }
        Command::Healthcheck => cli::healthcheck(&config).await,
        Command::Simulate { listen } => cli::simulate(&config, *listen).await,
        Command::Map { vendor, file } => cli::map(&config, vendor, file),
        Command::Deliveries(args) => cli::deliveries(&config, args).await,
        Command::Tenants(args) => cli::tenants(&config, args).await,
        Command::Orders(args) => cli::orders(&config, args).await,
        Command::Rejections(args) => cli::rejections(&config, args).await,
        Command::Reload(args) => cli::reload(&config, args).await,
        Command::Replay(args) => cli::replay(&config, args).await,
        Command::Openapi { vendor } => cli::openapi(&config, vendor.as_deref()),
        Command::CheckConfig => Ok(cli::check_config(&cli.config)),
    };
    // What was logged comes before the error that ends the run.
    drop(log);
    outcome.unwrap_or_else(|error| {
        eprintln!("error: {error:#}");
        cli.command.could_not_run()
    })
}
