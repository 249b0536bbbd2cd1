//! Key formats of the single table (documented in `docs/key-design.md`).
//! Every key starts with the tenant, so no query can cross tenants.

use crate::scim::schema::ResourceKind;
use crate::store::{ManagerLink, Record, UniqueKey};
use crate::tenant::TenantId;

/// DynamoDB's key limits, for the table and every index: a partition key
/// holds at most 2048 bytes, a sort key at most 1024.
pub const MAX_PARTITION_KEY_BYTES: usize = 2048;
pub const MAX_SORT_KEY_BYTES: usize = 1024;

pub const PK: &str = "pk";
pub const SK: &str = "sk";
pub const GSI1_PK: &str = "gsi1pk";
pub const GSI1_SK: &str = "gsi1sk";
pub const GSI2_PK: &str = "gsi2pk";
pub const GSI2_SK: &str = "gsi2sk";
pub const GSI3_PK: &str = "gsi3pk";
pub const GSI3_SK: &str = "gsi3sk";

/// Sort key of a resource item and of a unique-key marker.
pub const RESOURCE_SK: &str = "R";
pub const MARKER_SK: &str = "K";

/// `U` / `G`: the kind in keys.
pub fn kind_tag(kind: ResourceKind) -> &'static str {
    match kind {
        ResourceKind::User => "U",
        ResourceKind::Group => "G",
    }
}

/// `T#{tenant}#U#{id}` / `T#{tenant}#G#{id}`: a resource's partition.
pub fn resource_pk(tenant: &TenantId, kind: ResourceKind, id: &str) -> String {
    format!("T#{tenant}#{}#{id}", kind_tag(kind))
}

/// `T#{tenant}#U` / `T#{tenant}#G`: the per-tenant collection on `gsi1`.
pub fn collection_pk(tenant: &TenantId, kind: ResourceKind) -> String {
    format!("T#{tenant}#{}", kind_tag(kind))
}

/// `T#{tenant}#K`: unique-key markers on `gsi1`, as the layout before
/// issue 13 wrote them (markers are now found from their resource's
/// document).
pub fn marker_collection_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#K")
}

/// `T#{tenant}#X`: the tenant's auxiliary items on `gsi1`: pending-manager
/// counters (and, as the layout before issue 13 wrote them, email items
/// and the resource counters).
pub fn auxiliary_collection_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#X")
}

/// Every `gsi1` partition of a tenant. Every item of the tenant is in one
/// of them, in the partition of a resource listed in one (email items,
/// membership edges), derived from such a resource's document (its
/// markers), or in the counter partition [`counter_pk`]: that is how a
/// tenant is deleted without a Scan. A new item type must be found one of
/// these ways.
pub fn tenant_collections(tenant: &TenantId) -> [String; 4] {
    [
        collection_pk(tenant, ResourceKind::User),
        collection_pk(tenant, ResourceKind::Group),
        marker_collection_pk(tenant),
        auxiliary_collection_pk(tenant),
    ]
}

/// `{pk}#{sk}`: the `gsi1` sort key of an auxiliary item (a pending-manager
/// counter), unique within the tenant's auxiliary collection.
pub fn auxiliary_sk(pk: &str, sk: &str) -> String {
    format!("{pk}#{sk}")
}

/// `T#{tenant}#UX#{externalId}` / `T#{tenant}#GX#{externalId}`: `gsi2`
/// partition of a resource item with an `externalId`.
pub fn external_id_pk(tenant: &TenantId, kind: ResourceKind, external_id: &str) -> String {
    format!("T#{tenant}#{}X#{external_id}", kind_tag(kind))
}

/// `T#{tenant}#UE#{lower-case email}`: `gsi2` partition of email items.
pub fn email_pk(tenant: &TenantId, email: &str) -> String {
    format!("T#{tenant}#UE#{email}")
}

/// `E#{lower-case email}`: sort key of an email item in its user's partition.
pub fn email_sk(email: &str) -> String {
    format!("E#{email}")
}

/// `T#{tenant}#M#{manager id}`: `gsi3` partition of a manager's direct reports.
pub fn reports_pk(tenant: &TenantId, manager_id: &str) -> String {
    format!("T#{tenant}#M#{manager_id}")
}

/// `T#{tenant}#MP#{lower-case value}`: `gsi3` partition of users whose
/// manager reference matched no user yet.
pub fn pending_reports_pk(tenant: &TenantId, raw: &str) -> String {
    format!("T#{tenant}#MP#{}", raw.to_lowercase())
}

/// Sort key of a pending-manager counter (partition [`pending_reports_pk`]).
pub const PENDING_SK: &str = "N";

/// Sort-key prefix of membership edges in a group's partition.
pub const MEMBER_SK_PREFIX: &str = "M#";

/// `M#{member id}`: a membership edge in its group's partition (sorts
/// before the group item `R`, so a partition is emptied edges first).
pub fn member_sk(member_id: &str) -> String {
    format!("{MEMBER_SK_PREFIX}{member_id}")
}

/// `T#{tenant}#C`: the partition of the tenant's resource counter shards.
pub fn counter_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#C")
}

/// How many shards a tenant's count of one kind is split into: creates and
/// deletes spread over them, so no item is written by every create.
pub const COUNTER_SHARDS: u64 = 16;

/// `U` / `G`: the sort key of the single counter of a kind that the layout
/// before issue 13 wrote; counts read it beside the shards until
/// `scim-admin tenant migrate` replaces it.
pub fn old_counter_sk(kind: ResourceKind) -> &'static str {
    kind_tag(kind)
}

/// `U#{s}` / `G#{s}`: the counter shard of resource `id`, `s` one hex digit
/// of a hash (FNV-1a) of the id, so ids spread evenly whatever their form.
pub fn counter_sk(kind: ResourceKind, id: &str) -> String {
    let hash = id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    shard_sk(kind, hash % COUNTER_SHARDS)
}

/// The sort keys of every counter shard of `kind`.
pub fn counter_shard_sks(kind: ResourceKind) -> impl Iterator<Item = String> {
    (0..COUNTER_SHARDS).map(move |shard| shard_sk(kind, shard))
}

fn shard_sk(kind: ResourceKind, shard: u64) -> String {
    format!("{}#{shard:x}", kind_tag(kind))
}

/// `T#{tenant}#UN#{lower-case userName}` / `T#{tenant}#GN#{lower-case displayName}`.
pub fn marker_pk(tenant: &TenantId, key: &UniqueKey) -> String {
    match key {
        UniqueKey::UserName(v) => format!("T#{tenant}#UN#{v}"),
        UniqueKey::GroupDisplayName(v) => format!("T#{tenant}#GN#{v}"),
    }
}

/// The kind and id a resource partition key (`T#{tenant}#U#{id}`) names:
/// a tenant id holds no `#`, so the field after it is the kind. Resource
/// items carry neither apart, each would cost bytes in every index copy.
pub fn parse_resource_pk(pk: &str) -> Option<(ResourceKind, &str)> {
    let (_, rest) = pk.strip_prefix("T#")?.split_once('#')?;
    match rest.split_once('#')? {
        ("U", id) => Some((ResourceKind::User, id)),
        ("G", id) => Some((ResourceKind::Group, id)),
        _ => None,
    }
}

/// The manager id a direct-reports partition key ([`reports_pk`]) names.
pub fn parse_reports_pk(pk: &str) -> Option<&str> {
    let (_, rest) = pk.strip_prefix("T#")?.split_once('#')?;
    rest.strip_prefix("M#")
}

/// A key built from a value of a record, with the attribute it comes from.
struct BuiltKey {
    attribute: &'static str,
    /// The value as it appears in the key (lower-cased where keys fold case).
    value_bytes: usize,
    key: String,
    limit: usize,
}

/// The first attribute of `record` whose value makes a key longer than
/// DynamoDB accepts, with the most bytes that value may take (as it
/// appears in the key, lower-cased where keys fold case). The keys are
/// built as they are written, for the longest tenant id, so a value is
/// accepted or refused the same way in every tenant and on every store.
pub fn oversized(record: &Record) -> Option<(&'static str, usize)> {
    let tenant = TenantId::parse(&"x".repeat(63)).ok()?;
    let t = &tenant;
    let mut built: Vec<BuiltKey> = Vec::new();
    let mut add = |attribute, value: &str, key: String, limit| {
        built.push(BuiltKey {
            attribute,
            value_bytes: value.len(),
            key,
            limit,
        });
    };
    for k in record.unique_keys() {
        let (UniqueKey::UserName(v) | UniqueKey::GroupDisplayName(v)) = &k;
        // The layout before issue 13 also made the marker's partition key
        // its `gsi1` sort key; the limit stays, so a value is accepted or
        // refused whatever the layout of the tenant.
        add(k.attribute(), v, marker_pk(t, &k), MAX_SORT_KEY_BYTES);
    }
    if let Some(external_id) = record.external_id() {
        let pk = external_id_pk(t, record.kind, external_id);
        add("externalId", external_id, pk, MAX_PARTITION_KEY_BYTES);
        if record.kind == ResourceKind::User {
            // A new user is checked against the pending-manager counter of
            // each of its names; userName and emails have stricter keys.
            let lower = external_id.to_lowercase();
            let pk = pending_reports_pk(t, &lower);
            add("externalId", &lower, pk, MAX_PARTITION_KEY_BYTES);
        }
    }
    let own_pk = resource_pk(t, record.kind, &record.id);
    for email in record.email_keys() {
        let sk = email_sk(&email);
        // The email item's `gsi1` sort key of the layout before issue 13:
        // its limit stays, as the marker's.
        let aux = auxiliary_sk(&own_pk, &sk);
        add("emails.value", &email, aux, MAX_SORT_KEY_BYTES);
        add(
            "emails.value",
            &email,
            email_pk(t, &email),
            MAX_PARTITION_KEY_BYTES,
        );
    }
    match &record.manager {
        Some(ManagerLink::Pending(raw)) => {
            let pk = pending_reports_pk(t, raw);
            let aux = auxiliary_sk(&pk, PENDING_SK);
            add(
                "manager.value",
                &raw.to_lowercase(),
                aux,
                MAX_SORT_KEY_BYTES,
            );
        }
        Some(ManagerLink::Resolved(id)) => {
            add(
                "manager.value",
                id,
                reports_pk(t, id),
                MAX_PARTITION_KEY_BYTES,
            );
        }
        None => {}
    }
    built
        .iter()
        .find(|b| b.key.len() > b.limit)
        .map(|b| (b.attribute, b.limit - (b.key.len() - b.value_bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_shards_spread_ids() {
        let shards: std::collections::BTreeSet<String> = (0..200)
            .map(|_| counter_sk(ResourceKind::User, &uuid::Uuid::new_v4().to_string()))
            .collect();
        let all: std::collections::BTreeSet<String> =
            counter_shard_sks(ResourceKind::User).collect();
        assert_eq!(shards, all);
        assert_eq!(all.len(), 16);
        assert!(all.iter().all(|s| s.starts_with("U#") && s.len() == 3));
        let id = "2819c223-7f76-453a-919d-413861904646";
        assert_eq!(
            counter_sk(ResourceKind::Group, id)[2..],
            counter_sk(ResourceKind::User, id)[2..]
        );
    }

    #[test]
    fn keys_are_tenant_prefixed_and_distinct_per_kind() {
        let t = TenantId::parse("acme").unwrap();
        assert_eq!(resource_pk(&t, ResourceKind::User, "42"), "T#acme#U#42");
        assert_eq!(resource_pk(&t, ResourceKind::Group, "42"), "T#acme#G#42");
        assert_eq!(collection_pk(&t, ResourceKind::User), "T#acme#U");
        assert_eq!(
            marker_pk(&t, &UniqueKey::UserName("bob@x.com".into())),
            "T#acme#UN#bob@x.com"
        );
        assert_eq!(
            marker_pk(&t, &UniqueKey::GroupDisplayName("sales".into())),
            "T#acme#GN#sales"
        );
    }

    #[test]
    fn resource_and_reports_keys_parse_back() {
        let t = TenantId::parse("acme").unwrap();
        let id = "3f0c-x#y";
        for kind in [ResourceKind::User, ResourceKind::Group] {
            assert_eq!(
                parse_resource_pk(&resource_pk(&t, kind, id)),
                Some((kind, id))
            );
        }
        assert_eq!(parse_reports_pk(&reports_pk(&t, id)), Some(id));
        assert_eq!(parse_reports_pk(&pending_reports_pk(&t, "Bob")), None);
        assert_eq!(
            parse_resource_pk(&marker_pk(&t, &UniqueKey::UserName("a".into()))),
            None
        );
        assert_eq!(
            parse_resource_pk(&collection_pk(&t, ResourceKind::User)),
            None
        );
    }

    fn user(user_name: &str) -> Record {
        let doc = serde_json::json!({"userName": user_name, "emails": [{"value": "a@b.c"}]});
        Record::new(ResourceKind::User, uuid::Uuid::new_v4().to_string(), 1, doc)
    }

    #[test]
    fn oversized_checks_keys_as_built_for_the_longest_tenant() {
        // `T#` + 63 + `#UN#` is 69 bytes of the marker's 1024.
        assert_eq!(oversized(&user(&"a".repeat(955))), None);
        assert_eq!(oversized(&user(&"a".repeat(956))), Some(("userName", 955)));
        // `İ` is 2 bytes and lower-cases to 3: 512 of them take 1536.
        assert_eq!(oversized(&user(&"İ".repeat(512))), Some(("userName", 955)));
    }
}
