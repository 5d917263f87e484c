use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Timelike};
use uuid::Uuid;

use super::*;

const GUID: &str = "3f2504e0-4f89-11d3-9a0c-0305e82c3301";

fn guid() -> Uuid {
    Uuid::parse_str(GUID).expect("a GUID")
}

fn at(offset_hours: i32, (h, m, s): (u32, u32, u32), nanos: u32) -> DateTime<FixedOffset> {
    let offset = FixedOffset::east_opt(offset_hours * 3600).expect("an offset");
    let local = NaiveDate::from_ymd_opt(2023, 8, 7)
        .and_then(|d| d.and_hms_nano_opt(h, m, s, nanos))
        .expect("a time");
    offset
        .from_local_datetime(&local)
        .single()
        .expect("one instant")
}

fn date(text: &str) -> DateTime<FixedOffset> {
    text.parse::<FlowDate>()
        .unwrap_or_else(|_| panic!("{text} parses"))
        .0
}

// === requests ===

#[test]
fn requests_are_written_pascal_case_with_nulls_kept() {
    let state = UpdateStateRequest {
        status: "Shot".to_owned(),
        state: "InProcess".to_owned(),
    };
    let state = serde_json::to_string(&state).expect("json");
    assert_eq!(state, r#"{"Status":"Shot","State":"InProcess"}"#);
    let patch = serde_json::to_string(&PatchRequest::default()).expect("json");
    assert_eq!(patch, r#"{"Title":null,"ActionText":null,"Metadata":[]}"#);
    let token = VerifyTokenRequest {
        token: "ft".to_owned(),
    };
    assert_eq!(
        serde_json::to_string(&token).expect("json"),
        r#"{"Token":"ft"}"#
    );
    assert!(
        !format!("{token:?}").contains("ft\""),
        "Debug hides the FlowToken"
    );
}

// === responses ===

#[test]
fn keys_are_read_whatever_their_case() {
    let body = format!(
        r#"{{"ID": 12, "guid": "{GUID}", "TITLE": "Photos", "actionText": "Open",
            "CASEBASEID": 10351, "MarketingIntegratorId": 3, "createddate": "2023-08-07T13:00:39.296Z",
            "Metadata": "[]", "orderStatuses": [{{"iD": 1, "STATUS": "Shot",
            "orderstatetype": "InProcess", "CreatedDate": "2023-08-07T13:00:39Z"}}], "Extra": {{"x": 1}}}}"#
    );
    let order: OrderModel = parse(body.as_bytes()).expect("an order");
    assert_eq!(order.id, Some(12));
    assert_eq!(order.guid, Some(guid()));
    assert_eq!(order.title.as_deref(), Some("Photos"));
    assert_eq!(order.action_text.as_deref(), Some("Open"));
    assert_eq!(order.case_base_id, Some(10351));
    assert_eq!(order.marketing_integrator_id, Some(3));
    assert_eq!(
        order.created_date.map(|d| d.0),
        Some(at(0, (13, 0, 39), 296_000_000))
    );
    assert_eq!(order.metadata.as_deref(), Some("[]"));
    let status = &order.order_statuses[0];
    assert_eq!(status.id, Some(1));
    assert_eq!(status.status.as_deref(), Some("Shot"));
    assert_eq!(status.order_state_type.as_deref(), Some("InProcess"));
    assert_eq!(
        status.created_date.map(|d| d.0),
        Some(at(0, (13, 0, 39), 0))
    );
}

#[test]
fn nulls_and_absent_fields_are_absent() {
    let body =
        br#"{"Id": null, "Guid": null, "Title": null, "OrderStatuses": null, "CreatedDate": null}"#;
    assert_eq!(
        parse::<OrderModel>(body).expect("an order"),
        OrderModel::default()
    );
    assert_eq!(
        parse::<OrderModel>(b"{}").expect("an order"),
        OrderModel::default()
    );
    assert_eq!(
        parse::<TokenModel>(b"{}").expect("a token"),
        TokenModel::default()
    );
}

#[test]
fn a_field_of_the_wrong_type_is_absent_and_the_rest_is_read() {
    let body = br#"{"Id": "12", "Guid": "not-a-guid", "Title": 5, "ActionText": "Open",
        "CaseBaseId": 1.5, "CreatedDate": "yesterday", "ModifiedDate": 20230807,
        "Metadata": [{"Key": "a"}], "OrderStatuses": {"Id": 1}}"#;
    let order: OrderModel = parse(body).expect("an order");
    let expected = OrderModel {
        action_text: Some("Open".to_owned()),
        ..OrderModel::default()
    };
    assert_eq!(order, expected);
}

#[test]
fn status_entries_that_do_not_fit_are_skipped_and_ordinals_become_names() {
    let body = br#"{"OrderStatuses": [7, {"Id": 1, "OrderStateType": 2}, "x",
        {"Id": 2, "OrderStateType": 42}, {"Id": "3", "Status": "kept"}]}"#;
    let order: OrderModel = parse(body).expect("an order");
    let states: Vec<_> = order
        .order_statuses
        .iter()
        .map(|s| s.order_state_type.as_deref())
        .collect();
    assert_eq!(states, [Some("InProcess"), None, None]);
    assert_eq!(order.order_statuses[2].id, None);
    assert_eq!(order.order_statuses[2].status.as_deref(), Some("kept"));
}

#[test]
fn a_body_that_is_not_an_object_is_an_error() {
    assert!(matches!(
        parse::<OrderModel>(b"not json"),
        Err(ModelError::NotJson(_))
    ));
    assert!(matches!(
        parse::<OrderModel>(b""),
        Err(ModelError::NotJson(_))
    ));
    assert!(matches!(
        parse::<OrderModel>(b"[1]"),
        Err(ModelError::NotAnObject)
    ));
    assert!(matches!(
        parse::<OrderModel>(b"null"),
        Err(ModelError::NotAnObject)
    ));
}

#[test]
fn the_token_model_reads_the_broker_and_the_case() {
    let body = br#"{"UserId": 5, "FullName": "Kari Nordmann", "Email": "kari@example.no",
        "BrokerCompanyName": "EM1", "OfficeId": 9, "OfficeName": "Trondheim", "CaseId": 10351,
        "BrokerCompanyOrganizationNumber": "123"}"#;
    let token: TokenModel = parse(body).expect("a token");
    assert_eq!(token.user_id, Some(5));
    assert_eq!(token.full_name.as_deref(), Some("Kari Nordmann"));
    assert_eq!(token.email.as_deref(), Some("kari@example.no"));
    assert_eq!(token.broker_company_name.as_deref(), Some("EM1"));
    assert_eq!(token.office_id, Some(9));
    assert_eq!(token.office_name.as_deref(), Some("Trondheim"));
    assert_eq!(token.case_id, Some(10351));
    assert!(token.order_ids.is_empty());
}

fn order_ids(data: &str) -> Vec<Uuid> {
    let body = format!(r#"{{"UserId": 1, "Data": {data}}}"#);
    parse::<TokenModel>(body.as_bytes())
        .expect("a token")
        .order_ids
}

#[test]
fn order_ids_come_from_data_as_a_dictionary_or_flat() {
    let other = Uuid::new_v4();
    let dictionary = format!(
        r#"{{"a": {{"OrderId": "{GUID}"}}, "b": {{"orderID": "{other}"}}, "c": {{"Note": "x"}}}}"#
    );
    let mut ids = order_ids(&dictionary);
    ids.sort();
    let mut expected = vec![guid(), other];
    expected.sort();
    assert_eq!(ids, expected);
    let upper = GUID.to_uppercase();
    assert_eq!(order_ids(&format!(r#"{{"OrderId": "{upper}"}}"#)), [guid()]);
}

#[test]
fn absent_empty_or_null_data_names_no_order() {
    assert!(order_ids("null").is_empty());
    assert!(order_ids("{}").is_empty());
    assert!(order_ids(r#""text""#).is_empty());
    assert!(order_ids(r#"{"OrderId": null}"#).is_empty());
    assert!(order_ids(r#"{"OrderId": ""}"#).is_empty());
    assert!(order_ids(r#"{"a": {"OrderId": null}}"#).is_empty());
}

#[test]
fn an_order_id_that_is_not_a_guid_still_constrains() {
    assert_eq!(order_ids(r#"{"OrderId": "12345"}"#), [Uuid::nil()]);
    assert_eq!(order_ids(r#"{"a": {"OrderId": 12345}}"#), [Uuid::nil()]);
}

#[test]
fn the_access_token_answer_is_read_and_never_printed() {
    let body = br#"{"access_token": "abc.def", "token_type": "bearer", "expires_in": 1200, "refresh_token": "r"}"#;
    let grant: AccessToken = parse(body).expect("a grant");
    assert_eq!(grant.access_token.as_deref(), Some("abc.def"));
    assert_eq!(grant.token_type.as_deref(), Some("bearer"));
    assert_eq!(grant.expires_in, Some(1200));
    assert!(!format!("{grant:?}").contains("abc.def"));
    let odd: AccessToken =
        parse(br#"{"Access_Token": "x", "expires_in": "soon"}"#).expect("a grant");
    assert_eq!(
        (odd.access_token.as_deref(), odd.expires_in),
        (Some("x"), None)
    );
}

// === dates ===

#[test]
fn dates_with_zero_three_or_seven_fractional_digits() {
    assert_eq!(date("2023-08-07T13:00:39Z"), at(0, (13, 0, 39), 0));
    assert_eq!(
        date("2023-08-07T13:00:39.296Z"),
        at(0, (13, 0, 39), 296_000_000)
    );
    assert_eq!(
        date("2023-08-07T13:00:39.5334824Z"),
        at(0, (13, 0, 39), 533_482_400)
    );
}

#[test]
fn dates_keep_their_offset() {
    let local = date("2023-08-07T11:26:41.5334824+02:00");
    assert_eq!(local, at(2, (11, 26, 41), 533_482_400));
    assert_eq!(local.offset().local_minus_utc(), 7200);
    assert_eq!(local.hour(), 11);
    assert_eq!(date("2023-08-07T11:26:41+0200"), at(2, (11, 26, 41), 0));
}

#[test]
fn dates_without_an_offset_are_utc() {
    assert_eq!(date("2023-08-07T13:00:39"), at(0, (13, 0, 39), 0));
    assert_eq!(
        date("2023-08-07T13:00:39.296"),
        at(0, (13, 0, 39), 296_000_000)
    );
    assert_eq!(
        date("2023-08-07T13:00:39.5334824"),
        at(0, (13, 0, 39), 533_482_400)
    );
}

#[test]
fn text_that_is_not_a_date_is_refused() {
    for text in [
        "",
        "yesterday",
        "2023-08-07",
        "2023-13-07T13:00:39Z",
        "13:00:39",
    ] {
        assert!(text.parse::<FlowDate>().is_err(), "{text}");
    }
}

#[test]
fn dates_are_written_as_rfc_3339() {
    let written = FlowDate(at(2, (11, 26, 41), 533_482_400)).to_string();
    assert_eq!(written, "2023-08-07T11:26:41.533482400+02:00");
    assert_eq!(date(&written), at(2, (11, 26, 41), 533_482_400));
    assert_eq!(
        FlowDate(at(0, (13, 0, 39), 0)).to_string(),
        "2023-08-07T13:00:39Z"
    );
}
