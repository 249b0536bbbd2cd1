//! Parse + apply of a typical Entra ID user PATCH.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_serverless::scim::patch::PatchRequest;
use scim_serverless::scim::schema::{ENTERPRISE_URN, Registry, ResourceKind, USER_URN};
use serde_json::json;

fn entra_user_patch(c: &mut Criterion) {
    let registry = Registry::default();
    let user = json!({
        "schemas": [USER_URN, ENTERPRISE_URN],
        "id": "2819c223-7f76-453a-919d-413861904646",
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7d6b7b1f1c6e",
        "meta": {"resourceType": "User", "created": "2024-01-01T00:00:00Z",
                 "lastModified": "2024-01-01T00:00:00Z", "version": "W/\"3\""},
        "userName": "jane.doe@contoso.com",
        "name": {"formatted": "Jane Doe", "familyName": "Doe", "givenName": "Jane"},
        "displayName": "Jane Doe",
        "active": true,
        "emails": [{"value": "jane.doe@contoso.com", "type": "work", "primary": true}],
        ENTERPRISE_URN: {"employeeNumber": "1001", "department": "Security", "manager": {"value": "m1"}}
    });
    let body = json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "displayName", "value": "Jane Q. Doe"},
            {"op": "Replace", "path": "name.givenName", "value": "Jane Q."},
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "jq.doe@contoso.com"},
            {"op": "Add", "path": "phoneNumbers[type eq \"mobile\"].value", "value": "+44 7700 900000"},
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department", "value": "Risk"},
            {"op": "Replace", "path": "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager", "value": "m2"}
        ]
    });
    c.bench_function("entra_user_patch_parse_apply", |b| {
        b.iter(|| {
            let request = PatchRequest::parse(black_box(&body), ResourceKind::User, &registry).ok();
            let mut doc = user.clone();
            if let Some(r) = request {
                black_box(r.apply(&mut doc, ResourceKind::User, &registry).ok());
            }
            doc
        })
    });
}

criterion_group!(benches, entra_user_patch);
criterion_main!(benches);
