//! `POST /admin/reload` (contract section 16): asks the running gateway to load its configuration
//! again. The gateway does the work (`app/reload.rs`); this route only says how it went: 200 with
//! what changed, or 422 `config-invalid` with every error while the old configuration serves on.

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use super::AdminState;
use crate::config::ConfigErrors;
use crate::problem::{Code, KeyError, Problem};

/// What a gateway that can reload does when asked.
#[async_trait::async_trait]
pub trait Reload: Send + Sync {
    /// Loads, builds and checks the configuration again and swaps it in; on error nothing
    /// changes.
    async fn reload(&self) -> Result<Reloaded, ConfigErrors>;
}

/// A reload that took effect.
#[derive(Clone, Debug, Serialize, utoipa::ToSchema)]
pub struct Reloaded {
    pub reloaded: bool,
    pub config_hash: String,
    /// What now runs differently: `section.key`, or `tenants.X` / `vendors.X` whole.
    pub changed: Vec<String>,
    /// Start-only keys that changed: they keep their running values until a restart.
    pub restart_required: Vec<String>,
}

/// The reloads of a gateway, for its admin API.
pub type Reloader = Arc<dyn Reload>;

pub async fn reload(State(admin): State<AdminState>) -> Result<Response, Problem> {
    tracing::info!(action = "reload", "admin action");
    match admin.reload.reload().await {
        Ok(reloaded) => Ok(Json(reloaded).into_response()),
        Err(errors) => Err(config_invalid(&errors)),
    }
}

/// 422 `config-invalid` listing every error by key.
pub fn config_invalid(errors: &ConfigErrors) -> Problem {
    let listed = errors
        .0
        .iter()
        .map(|error| KeyError {
            key: error.key.clone(),
            message: error.message.clone(),
        })
        .collect();
    let detail = format!(
        "The configuration does not load ({} errors); the running configuration is unchanged.",
        errors.0.len()
    );
    Problem::new(Code::ConfigInvalid, detail).with_key_errors(listed)
}
