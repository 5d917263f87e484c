//! Client-credentials access tokens: `POST /flow/authtoken` and the bearer check on every other
//! Flow call.

use std::collections::HashMap;
use std::time::Duration;

use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::Response;
use serde_json::json;
use tokio::time::Instant;
use uuid::Uuid;

use super::{SimulatorSettings, json_response, status_only};

/// The only grant Flow's token endpoint supports.
const CLIENT_CREDENTIALS: &str = "client_credentials";

/// The fields of the token request's form; absent fields stay `None`.
#[derive(Debug, Default, Clone)]
pub(super) struct TokenForm {
    pub(super) grant_type: Option<String>,
    pub(super) client_id: Option<String>,
    pub(super) client_secret: Option<String>,
}

impl TokenForm {
    /// Reads the form whatever the Content-Type, so a client that sends JSON fails on the
    /// missing `grant_type` the way it would against Flow.
    pub(super) fn parse(body: &[u8]) -> TokenForm {
        let mut form = TokenForm::default();
        for (key, value) in form_urlencoded::parse(body) {
            let slot = match key.as_ref() {
                "grant_type" => &mut form.grant_type,
                "client_id" => &mut form.client_id,
                "client_secret" => &mut form.client_secret,
                _ => continue,
            };
            *slot = Some(value.into_owned());
        }
        form
    }

    /// The client the rate bucket charges; an anonymous request shares the empty id.
    pub(super) fn bucket_key(&self) -> &str {
        self.client_id.as_deref().unwrap_or_default()
    }
}

#[derive(Debug, Clone)]
struct Issued {
    client_id: String,
    expires_at: Instant,
}

/// Access tokens issued and not yet expired.
#[derive(Debug, Default)]
pub(super) struct AccessTokens {
    issued: HashMap<String, Issued>,
}

impl AccessTokens {
    /// Answers the token request: a new token, or an OAuth error.
    pub(super) fn grant(
        &mut self,
        settings: &SimulatorSettings,
        form: &TokenForm,
        now: Instant,
    ) -> Response {
        match form.grant_type.as_deref() {
            None => return oauth_error("invalid_request"),
            Some(CLIENT_CREDENTIALS) => {}
            Some(_) => return oauth_error("unsupported_grant_type"),
        }
        let id_ok = form.client_id.as_deref() == Some(settings.client_id.as_str());
        let secret_ok = form.client_secret.as_deref() == Some(settings.client_secret.as_str());
        if !(id_ok && secret_ok) {
            return oauth_error("invalid_client");
        }
        let token = self.issue(&settings.client_id, settings.token_ttl, now);
        let body = json!({
            "access_token": token,
            "token_type": "bearer",
            "expires_in": settings.token_ttl.as_secs(),
        });
        json_response(StatusCode::OK, &body)
    }

    fn issue(&mut self, client_id: &str, ttl: Duration, now: Instant) -> String {
        // Drop expired tokens here so a long-running simulator does not grow without bound.
        self.issued.retain(|_, issued| issued.expires_at > now);
        let token = format!("{}{}", Uuid::new_v4().simple(), Uuid::new_v4().simple());
        let issued = Issued {
            client_id: client_id.to_owned(),
            expires_at: now + ttl,
        };
        self.issued.insert(token.clone(), issued);
        token
    }

    /// The client id behind a live token.
    pub(super) fn client_of(&self, token: &str, now: Instant) -> Option<String> {
        self.issued
            .get(token)
            .filter(|issued| issued.expires_at > now)
            .map(|issued| issued.client_id.clone())
    }

    /// `POST /sim/tokens/expire`: every token issued so far stops working.
    pub(super) fn expire_all(&mut self) {
        self.issued.clear();
    }
}

/// The bearer token of a request, if it carries one.
pub(super) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.trim().split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|token| !token.is_empty())
}

/// 401 as ASP.NET's JwtBearer handler answers it: empty body, a challenge header.
pub(super) fn unauthorized(token_sent: bool) -> Response {
    let challenge = if token_sent {
        r#"Bearer error="invalid_token""#
    } else {
        "Bearer"
    };
    let mut response = status_only(StatusCode::UNAUTHORIZED);
    response.headers_mut().insert(
        header::WWW_AUTHENTICATE,
        HeaderValue::from_static(challenge),
    );
    response
}

fn oauth_error(code: &str) -> Response {
    json_response(StatusCode::BAD_REQUEST, &json!({ "error": code }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_is_percent_decoded_and_unknown_keys_ignored() {
        let form = TokenForm::parse(b"grant_type=client_credentials&client_id=a%20b&x=1");
        assert_eq!(form.grant_type.as_deref(), Some("client_credentials"));
        assert_eq!(form.client_id.as_deref(), Some("a b"));
        assert_eq!(form.client_secret, None);
    }

    #[test]
    fn tokens_expire_after_their_ttl() {
        let now = Instant::now();
        let mut tokens = AccessTokens::default();
        let token = tokens.issue("client", Duration::from_secs(10), now);
        let later = now + Duration::from_secs(9);
        assert_eq!(tokens.client_of(&token, later).as_deref(), Some("client"));
        assert_eq!(
            tokens.client_of(&token, now + Duration::from_secs(10)),
            None
        );
    }

    #[test]
    fn bearer_accepts_any_case_of_the_scheme_only() {
        let mut headers = HeaderMap::new();
        headers.insert(header::AUTHORIZATION, "bearer abc".parse().expect("header"));
        assert_eq!(bearer(&headers), Some("abc"));
        headers.insert(header::AUTHORIZATION, "Basic abc".parse().expect("header"));
        assert_eq!(bearer(&headers), None);
        headers.insert(header::AUTHORIZATION, "Bearer ".parse().expect("header"));
        assert_eq!(bearer(&headers), None);
    }
}
