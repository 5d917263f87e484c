use super::*;
use chrono::Utc;

use crate::order::Broker;

fn tenants() -> Tenants {
    let entry = |name: &str, tenant_id, base: &str| Entry {
        name: name.to_owned(),
        tenant_id,
        base: normalise_base_url(base).expect("a base URL"),
    };
    Tenants {
        routes: RoutingTable {
            entries: vec![
                entry("em1", Some(14), "https://em1.webtopsolutions.com/flow"),
                entry("em2", Some(15), "https://em2.webtopsolutions.com/flow/"),
                entry("test-a", Some(99), "http://127.0.0.1:8081/a/flow"),
                entry("test-b", Some(99), "http://127.0.0.1:8081/b/flow"),
                entry("anon", None, "http://127.0.0.1:8082/flow"),
            ],
        },
        flows: BTreeMap::new(),
    }
}

fn claim(flow_url: Option<&'static str>, tenant_id: Option<i64>) -> Claim<'static> {
    Claim {
        vendor: "photo",
        flow_url,
        tenant_id,
    }
}

fn binding(tenant: &str, vendor: &str) -> Binding {
    Binding {
        tenant: tenant.to_owned(),
        vendor: vendor.to_owned(),
        case_id: None,
        broker: Broker::default(),
        token_hash: [0; 32],
        bound_at: Utc::now(),
    }
}

#[test]
fn a_flow_url_routes_only_to_a_configured_tenant() {
    let t = tenants();
    let none = VendorRouting::default();
    let url = Some("https://EM2.webtopsolutions.com/flow");
    assert_eq!(t.resolve(claim(url, None), none, None), Ok("em2".into()));
    let evil = Some("https://em1.webtopsolutions.com.evil.example/flow");
    assert_eq!(
        t.resolve(claim(evil, None), none, None),
        Err(RouteError::UnknownFlowUrl)
    );
    // A fallback never rescues a flowUrl that names no configured Flow.
    let fallback = VendorRouting {
        fallback: Some("em1"),
        allowed: None,
    };
    assert_eq!(
        t.resolve(claim(evil, None), fallback, None),
        Err(RouteError::UnknownFlowUrl)
    );
}

#[test]
fn a_tenant_id_must_match_and_routes_only_when_unique() {
    let t = tenants();
    let none = VendorRouting::default();
    let em1 = Some("https://em1.webtopsolutions.com/flow");
    assert_eq!(
        t.resolve(claim(em1, Some(15)), none, None),
        Err(RouteError::TenantIdMismatch {
            tenant: "em1".into(),
            given: 15
        })
    );
    assert_eq!(
        t.resolve(claim(None, Some(15)), none, None),
        Ok("em2".into())
    );
    // Two tenants share 99: the id alone cannot route.
    assert_eq!(
        t.resolve(claim(None, Some(99)), none, None),
        Err(RouteError::Unresolved)
    );
    // A tenant without an id accepts any id once something else routed to it.
    let anon = Some("http://127.0.0.1:8082/flow");
    assert_eq!(
        t.resolve(claim(anon, Some(5)), none, None),
        Ok("anon".into())
    );
}

#[test]
fn the_binding_then_the_fallback_decide_when_the_payload_does_not() {
    let t = tenants();
    let fallback = VendorRouting {
        fallback: Some("em1"),
        allowed: None,
    };
    let bound = binding("em2", "photo");
    assert_eq!(
        t.resolve(claim(None, None), fallback, Some(&bound)),
        Ok("em2".into())
    );
    assert_eq!(
        t.resolve(claim(None, None), fallback, None),
        Ok("em1".into())
    );
    assert_eq!(
        t.resolve(claim(None, None), VendorRouting::default(), None),
        Err(RouteError::Unresolved)
    );
}

#[test]
fn a_bound_order_stays_with_its_tenant_and_its_vendor() {
    let t = tenants();
    let none = VendorRouting::default();
    let bound = binding("em2", "photo");
    let em1 = Some("https://em1.webtopsolutions.com/flow");
    assert_eq!(
        t.resolve(claim(em1, None), none, Some(&bound)),
        Err(RouteError::BoundElsewhere)
    );
    let other = Claim {
        vendor: "print",
        ..claim(None, None)
    };
    assert_eq!(
        t.resolve(other, none, Some(&bound)),
        Err(RouteError::OtherVendor)
    );
}

#[test]
fn the_allow_list_applies_whatever_routes() {
    let t = tenants();
    let allowed = ["em1".to_owned()];
    let only_em1 = VendorRouting {
        fallback: None,
        allowed: Some(&allowed),
    };
    let em2 = Some("https://em2.webtopsolutions.com/flow");
    assert_eq!(
        t.resolve(claim(em2, None), only_em1, None),
        Err(RouteError::NotAllowed("em2".into()))
    );
    let bound = binding("em2", "photo");
    assert_eq!(
        t.resolve(claim(None, None), only_em1, Some(&bound)),
        Err(RouteError::NotAllowed("em2".into()))
    );
}
