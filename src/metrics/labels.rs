//! The closed label sets: each an enum whose variants are the only values its label takes, in
//! the index order the handles' arrays use.

/// A closed label set: an enum whose variants are the only values the label takes.
macro_rules! label_set {
    ($(#[$doc:meta])* $name:ident { $($variant:ident => $value:literal,)+ }) => {
        $(#[$doc])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)+
        }

        impl $name {
            pub const ALL: [$name; [$($value),+].len()] = [$($name::$variant),+];
            pub const COUNT: usize = Self::ALL.len();

            pub fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $value,)+
                }
            }
        }
    };
}

label_set! {
    /// How a webhook was answered (`outcome` of `flowgate_webhooks_received_total`).
    Outcome {
        Accepted => "accepted",
        Delivered => "delivered",
        Duplicate => "duplicate",
        UnknownVendor => "unknown_vendor",
        IpNotAllowed => "ip_not_allowed",
        UnsupportedMediaType => "unsupported_media_type",
        TooLarge => "too_large",
        Timeout => "timeout",
        Unauthenticated => "unauthenticated",
        RateLimited => "rate_limited",
        InvalidJson => "invalid_json",
        DuplicateConflict => "duplicate_conflict",
        SchemaInvalid => "schema_invalid",
        MappingFailed => "mapping_failed",
        TenantRejected => "tenant_rejected",
        TenantUnresolved => "tenant_unresolved",
        TokenRejected => "token_rejected",
        FlowRejected => "flow_rejected",
        FlowTimeout => "flow_timeout",
        Overloaded => "overloaded",
        Unavailable => "unavailable",
        Internal => "internal",
    }
}

label_set! {
    /// Why vendor authentication failed (contract section 4).
    SignatureReason {
        MissingHeader => "missing_header",
        BadTimestamp => "bad_timestamp",
        Expired => "expired",
        Future => "future",
        BadSignature => "bad_signature",
        BadCredentials => "bad_credentials",
    }
}

label_set! {
    /// The canonical fields a mapping may cut.
    TruncatedField {
        Status => "status",
        Title => "title",
        ActionText => "action_text",
        Metadata => "metadata",
    }
}

label_set! {
    /// What a FlowToken verification came to.
    TokenResult {
        Valid => "valid",
        Cached => "cached",
        Invalid => "invalid",
        Mismatch => "mismatch",
        Error => "error",
    }
}

label_set! {
    /// Flow's answer to one request, or why there was none.
    StatusClass {
        Success => "2xx",
        Redirection => "3xx",
        ClientError => "4xx",
        ServerError => "5xx",
        Timeout => "timeout",
        Error => "error",
    }
}

label_set! {
    /// How a delivery turn ended.
    DeliveryResult {
        Delivered => "delivered",
        Retried => "retried",
        Dead => "dead",
    }
}

label_set! {
    /// What held a Flow call back.
    ThrottleCause {
        Bucket => "bucket",
        Flow429 => "flow_429",
    }
}

label_set! {
    /// The calls flowgate makes to Flow (`operation` of the `flowgate_flow_*` series and logs).
    Operation {
        AuthToken => "auth_token",
        VerifyToken => "verify_token",
        Patch => "patch",
        UpdateState => "updatestate",
    }
}

label_set! {
    /// Delivery states the queue gauges count.
    QueueState {
        Pending => "pending",
        InFlight => "in_flight",
        Retrying => "retrying",
        Dead => "dead",
    }
}

label_set! {
    /// The problem codes of refused webhooks that are kept as rejections (`code` of
    /// `flowgate_rejections_stored_total`), spelled as the answers spell them.
    RejectedCode {
        InvalidJson => "invalid-json",
        DuplicateConflict => "duplicate-conflict",
        SchemaViolation => "schema-violation",
        MappingFailed => "mapping-failed",
        TenantUnresolved => "tenant-unresolved",
        TenantNotAllowed => "tenant-not-allowed",
        OrderNotAllowed => "order-not-allowed",
        FlowTokenMissing => "flow-token-missing",
        FlowTokenInvalid => "flow-token-invalid",
        FlowTokenMismatch => "flow-token-mismatch",
    }
}

impl RejectedCode {
    /// The code a problem code names, if a refusal with it is kept.
    pub fn parse(code: &str) -> Option<RejectedCode> {
        Self::ALL.into_iter().find(|c| c.as_str() == code)
    }
}

impl StatusClass {
    /// The class of an answered request's status.
    pub fn of(status: http::StatusCode) -> StatusClass {
        match status.as_u16() {
            200..=299 => StatusClass::Success,
            300..=399 => StatusClass::Redirection,
            400..=499 => StatusClass::ClientError,
            500..=599 => StatusClass::ServerError,
            _ => StatusClass::Error,
        }
    }
}

label_set! {
    /// How a configuration reload ended (`result` of `flowgate_config_reloads_total`).
    ReloadResult {
        Ok => "ok",
        Error => "error",
    }
}
