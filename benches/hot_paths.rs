//! What one webhook costs in each pure stage of its path, measured alone with criterion:
//! signature checks over a ~600-byte body, the canonical envelope's schema, a vendor map, what
//! observing a vendor's accepted payload costs (its shadow schema, the drift walk), and a
//! problem+json answer. `cargo bench --bench hot_paths` (add `-- --quick` for a short run).

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::response::IntoResponse;
use criterion::{Criterion, criterion_group, criterion_main};
use flowgate::config::MapConfig;
use flowgate::map::Mapper;
use flowgate::problem::{Code, Problem};
use flowgate::validate::{
    DeclaredFields, VendorSchemas, Violation, compile_canonical, compile_file,
};
use flowgate::verify::signature::{
    DEFAULT_TOLERANCE, HmacSpec, SignatureError, Verifier, VerifierSpec,
};
use http::HeaderMap;
use serde_json::Value;

/// The canonical envelope `bench/load.sh` posts: every field a vendor usually sends, 600 bytes.
const ENVELOPE: &str = r#"{"id":"evt-2026-11-28-000042-delivered","orderId":"2d6f1c3a-8b4e-4f0a-9c7d-5e1b2a3c4d5e","state":"Completed","status":"Photos delivered to the broker: 24 images in high resolution and 2 floor plans, retouched and ready for the listing on the portal","title":"Photo package M, 24 images, 2 floor plans","actionText":"Open the gallery","metadata":[{"key":"Photographer","value":"Ann Berg"},{"key":"Shoot date","value":"2026-11-27"},{"key":"Images","value":"24 (high resolution), 2 floor plans"},{"key":"Gallery","value":"https://photo.example/galleries/2d6f1c3a-8b4e-4f0a-9c7d-5e1b2a3c4d5e"}]}"#;

/// A mapped vendor's payload and its map: the example photographer of the demo configuration.
const PHOTO_PAYLOAD: &str = r#"{"id":"evt_7Hq2mZ4kLw","type":"order.delivered","createdAt":"2026-11-28T14:05:00Z","data":{"orderId":"2d6f1c3a-8b4e-4f0a-9c7d-5e1b2a3c4d5e","flowUrl":"http://127.0.0.1:8081/flow","tenantId":14,"message":"20 photos are ready for the listing","product":"Photo package L","photographer":"Ann Berg","shootDate":"2026-11-27"}}"#;
const PHOTO_MAP: &str = r#"
event_id = "/id"
order_id = "/data/orderId"
flow_url = "/data/flowUrl"
tenant_id = "/data/tenantId"
flow_token = "/data/flowToken"
state = { from = "/type", values = { "order.accepted" = "InProcess", "order.scheduled" = "InProcess", "order.delivered" = "Completed", "order.cancelled" = "Cancelled" } }
status = "/data/message"
title = "/data/product"
action_text = { value = "Open in Example Photo" }
metadata = { "Photographer" = "/data/photographer", "Shoot date" = "/data/shootDate" }
"#;

/// The photographer's payload grown to ~600 bytes with properties its schema does not declare
/// (`/source`, `/data/gallery`, `/data/items/*/…`): what drift walks when a vendor adds fields.
const PHOTO_DRIFTED: &str = r#"{"id":"evt_7Hq2mZ4kLw","type":"order.delivered","createdAt":"2026-11-28T14:05:00Z","source":"app","data":{"orderId":"2d6f1c3a-8b4e-4f0a-9c7d-5e1b2a3c4d5e","flowUrl":"http://127.0.0.1:8081/flow","tenantId":14,"message":"20 photos are ready for the listing","product":"Photo package L","photographer":"Ann Berg","shootDate":"2026-11-27","gallery":"https://photo.example/galleries/2d6f1c3a","items":[{"sku":"PH-L","count":20,"colour":"full"},{"sku":"FP-2","count":2,"colour":"mono"},{"sku":"DR-1","count":1,"colour":"full"}]}}"#;

/// A fixed clock inside the standard-webhooks tolerance of the signature made at it.
fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_764_331_200)
}

/// A verifier and the headers its own `sign` produced for [`ENVELOPE`].
fn signed(spec: VerifierSpec) -> (Verifier, HeaderMap) {
    let verifier = Verifier::new(spec).expect("a valid verifier spec");
    let headers = verifier
        .sign(ENVELOPE.as_bytes(), "msg_2d6f1c3a", now())
        .into_iter()
        .collect();
    (verifier, headers)
}

fn signatures(c: &mut Criterion) {
    let github = signed(VerifierSpec::Hmac(HmacSpec::github(vec![
        "bench-secret".to_owned(),
    ])));
    let standard = signed(VerifierSpec::StandardWebhooks {
        secrets: vec!["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw".to_owned()],
        tolerance: DEFAULT_TOLERANCE,
    });
    let mut group = c.benchmark_group("verify");
    for (name, (verifier, headers)) in [("hmac-github", github), ("standard-webhooks", standard)] {
        group.bench_function(name, |b| {
            b.iter(|| verifier.verify(black_box(&headers), black_box(ENVELOPE.as_bytes()), now()));
        });
    }
    group.finish();
}

fn validation(c: &mut Criterion) {
    let canonical = compile_canonical().expect("the canonical schema compiles");
    let schemas = VendorSchemas::new(None, Some(Arc::new(canonical)));
    let document: Value = serde_json::from_str(ENVELOPE).expect("the envelope is JSON");
    assert!(
        schemas.violations(&document).is_empty(),
        "the envelope is valid"
    );
    let mut group = c.benchmark_group("envelope");
    group.bench_function("parse", |b| {
        b.iter(|| serde_json::from_slice::<Value>(black_box(ENVELOPE.as_bytes())));
    });
    group.bench_function("validate", |b| {
        b.iter(|| schemas.violations(black_box(&document)));
    });
    group.finish();
}

fn mapping(c: &mut Criterion) {
    let map: MapConfig = toml::from_str(PHOTO_MAP).expect("a vendor map");
    let mapper = Mapper::from_map(&map, 255);
    let payload: Value = serde_json::from_str(PHOTO_PAYLOAD).expect("the payload is JSON");
    assert!(mapper.map(&payload).is_ok(), "the payload maps");
    c.bench_function("map/example-photo", |b| {
        b.iter(|| mapper.map(black_box(&payload)));
    });
}

fn problems(c: &mut Criterion) {
    let violations = vec![
        Violation {
            pointer: "/orderId".to_owned(),
            message: r#""not-a-guid" does not match the order id pattern"#.to_owned(),
        },
        Violation {
            pointer: "/state".to_owned(),
            message: r#""Unknown" is not one of the settable states"#.to_owned(),
        },
    ];
    let mut group = c.benchmark_group("problem");
    group.bench_function("signature-invalid", |b| {
        b.iter(|| {
            let problem = Problem::from(black_box(SignatureError::BadSignature));
            Problem::render(problem.into_response(), black_box("req-7Hq2mZ4kLw"))
        });
    });
    group.bench_function("schema-violation", |b| {
        b.iter(|| {
            let problem = Problem::new(Code::SchemaViolation, "2 violations")
                .with_errors(black_box(violations.clone()));
            Problem::render(problem.into_response(), black_box("req-7Hq2mZ4kLw"))
        });
    });
    group.finish();
}

/// What each accepted webhook of a vendor with a shadow schema costs beyond its live schema:
/// the shadow check (here the vendor's own schema again, which the payload passes) and the
/// drift walk.
fn observing(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/schemas/vendors/example-photo.schema.json"
    );
    let (schema, validator) = compile_file(std::path::Path::new(path)).expect("compiles");
    let declared = Arc::new(DeclaredFields::from_schema(&schema));
    let schemas = VendorSchemas::new(None, None)
        .with_shadow(Some(Arc::new(validator)))
        .with_declared(Some(declared));
    let document: Value = serde_json::from_str(PHOTO_DRIFTED).expect("the payload is JSON");
    assert!(schemas.shadow_violations(&document).is_empty(), "it passes");
    assert_eq!(schemas.undeclared(&document).len(), 3, "three undeclared");
    let plain: Value = serde_json::from_str(PHOTO_PAYLOAD).expect("the payload is JSON");
    let mut group = c.benchmark_group("observe");
    group.bench_function("shadow/example-photo", |b| {
        b.iter(|| schemas.shadow_violations(black_box(&document)));
    });
    group.bench_function("drift/example-photo-600b", |b| {
        b.iter(|| schemas.undeclared(black_box(&document)));
    });
    group.bench_function("drift/example-photo-clean", |b| {
        b.iter(|| schemas.undeclared(black_box(&plain)));
    });
    group.finish();
}

criterion_group!(
    hot_paths, signatures, validation, mapping, observing, problems
);
criterion_main!(hot_paths);
