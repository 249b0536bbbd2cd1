//! Parses arbitrary UTF-8 as a User and as a Group filter. Parsing must never
//! panic; a filter that parses must print canonical text that parses back to
//! the same filter, and must evaluate without panicking.

#![no_main]

use std::sync::LazyLock;

use libfuzzer_sys::fuzz_target;
use scim_serverless::scim::filter::{Filter, MAX_FILTER_LEN};
use scim_serverless::scim::schema::{ENTERPRISE_URN, Registry, ResourceKind};
use serde_json::{Value, json};

static REGISTRY: LazyLock<Registry> = LazyLock::new(Registry::default);

static USER: LazyLock<Value> = LazyLock::new(|| {
    json!({
        "id": "2819c223-7f76-453a-919d-413861904646",
        "userName": "bjensen@example.com",
        "name": {"givenName": "Barbara", "familyName": "Jensen"},
        "active": true,
        "emails": [
            {"value": "bjensen@example.com", "type": "work", "primary": true},
            {"value": "babs@jensen.org", "type": "home"}
        ],
        "meta": {"created": "2010-01-23T04:56:22Z", "lastModified": "2011-05-13T04:42:34+02:00"},
        ENTERPRISE_URN: {"department": "Tours", "manager": {"value": "26118915"}},
        "members": [{"value": "2819c223"}],
        "displayName": "Tour Guides"
    })
});

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for kind in [ResourceKind::User, ResourceKind::Group] {
        let Ok(filter) = Filter::parse(text, kind, &REGISTRY) else {
            continue;
        };
        let printed = filter.to_string();
        if printed.len() <= MAX_FILTER_LEN {
            assert_eq!(
                Filter::parse(&printed, kind, &REGISTRY).as_ref(),
                Ok(&filter),
                "{text:?} printed as {printed:?}"
            );
        }
        filter.matches(&USER, kind, &REGISTRY);
        filter.index_term(kind);
    }
});
