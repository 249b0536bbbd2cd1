//! Filter cost on the hot paths: Entra ID's matching filter, a complex RFC
//! filter, and evaluating a filter against a user.

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use scim_serverless::scim::filter::Filter;
use scim_serverless::scim::schema::{ENTERPRISE_URN, Registry, ResourceKind};
use serde_json::json;

const ENTRA: &str = r#"userName eq "8b8c6f1e-2d4a-4c53-9a0e-3f7d2b1c9e44""#;
const COMPLEX: &str = r#"userType eq "Employee" and (emails[type eq "work" and value co "@example.com"] or urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value eq "26118915") and not (meta.lastModified lt "2011-05-13T04:42:34Z") and active eq "True""#;

fn filters(c: &mut Criterion) {
    let registry = Registry::default();
    let user = json!({
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "Bjensen@Example.com",
        "userType": "Employee",
        "active": true,
        "emails": [
            {"value": "babs@jensen.org", "type": "home"},
            {"value": "bjensen@example.com", "type": "work", "primary": true}
        ],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T06:42:34+02:00"},
        ENTERPRISE_URN: {"manager": {"value": "26118915"}}
    });
    c.bench_function("parse entra userName eq", |b| {
        b.iter(|| Filter::parse(black_box(ENTRA), ResourceKind::User, &registry))
    });
    c.bench_function("parse complex", |b| {
        b.iter(|| Filter::parse(black_box(COMPLEX), ResourceKind::User, &registry))
    });
    let complex = Filter::parse(COMPLEX, ResourceKind::User, &registry).unwrap();
    assert!(complex.matches(&user, ResourceKind::User, &registry));
    c.bench_function("match complex against user", |b| {
        b.iter(|| black_box(&complex).matches(black_box(&user), ResourceKind::User, &registry))
    });
    let entra = Filter::parse(
        r#"userName eq "bjensen@example.com""#,
        ResourceKind::User,
        &registry,
    )
    .unwrap();
    c.bench_function("match userName eq against user", |b| {
        b.iter(|| black_box(&entra).matches(black_box(&user), ResourceKind::User, &registry))
    });
}

criterion_group!(benches, filters);
criterion_main!(benches);
