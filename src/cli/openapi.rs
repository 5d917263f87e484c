//! `flowgate openapi [--vendor V]`: prints the OpenAPI 3.1 document of the configuration file,
//! without starting anything and without reading a secret; with `--vendor`, only what that
//! vendor needs to integrate, to hand over to it.

use std::process::ExitCode;

use crate::config::Config;
use crate::openapi;

/// Prints the document as pretty JSON on stdout.
pub fn openapi(config: &Config, vendor: Option<&str>) -> anyhow::Result<ExitCode> {
    let document = match vendor {
        Some(vendor) => openapi::vendor_document(config, vendor)?,
        None => openapi::document(config)?,
    };
    super::print(&serde_json::to_string_pretty(&document)?);
    Ok(ExitCode::SUCCESS)
}
