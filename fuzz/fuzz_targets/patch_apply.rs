//! PATCH parse + apply on arbitrary JSON must never panic, and a failed
//! PATCH must leave the resource untouched.
#![no_main]

use libfuzzer_sys::fuzz_target;
use scim_serverless::scim::patch::PatchRequest;
use scim_serverless::scim::schema::{ENTERPRISE_URN, GROUP_URN, Registry, ResourceKind, USER_URN};
use serde_json::{Value, json};

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<Value>(data) else {
        return;
    };
    let registry = Registry::default();
    let user = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": "u1",
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z"},
        "userName": "jane",
        "name": {"givenName": "Jane", "familyName": "Doe"},
        "active": true,
        "emails": [{"value": "j@work", "type": "work", "primary": true}, {"value": "j@home", "type": "home"}],
        "addresses": [{"locality": "Leeds", "type": "work"}],
        ENTERPRISE_URN: {"department": "Sec", "manager": {"value": "m1"}}
    });
    let group = json!({"schemas": [GROUP_URN], "id": "g1", "displayName": "G"});
    for (kind, resource) in [(ResourceKind::User, user), (ResourceKind::Group, group)] {
        let Ok(request) = PatchRequest::parse(&body, kind, &registry) else {
            continue;
        };
        let mut doc = resource.clone();
        if request.apply(&mut doc, kind, &registry).is_err() {
            assert_eq!(doc, resource);
        }
    }
});
