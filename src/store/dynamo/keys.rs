//! Key formats of the single table (documented in `docs/key-design.md`).
//! Every key starts with the tenant, so no query can cross tenants.

use crate::scim::schema::ResourceKind;
use crate::store::UniqueKey;
use crate::tenant::TenantId;

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

fn kind_tag(kind: ResourceKind) -> &'static str {
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

/// `T#{tenant}#K`: the tenant's unique-key markers on `gsi1`.
pub fn marker_collection_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#K")
}

/// `T#{tenant}#X`: the tenant's auxiliary items (email lookups, counters)
/// on `gsi1`.
pub fn auxiliary_collection_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#X")
}

/// Every `gsi1` partition of a tenant: together they hold every item of
/// the tenant, which is how a tenant is deleted without a Scan. A new item
/// type must add its collection here.
pub fn tenant_collections(tenant: &TenantId) -> [String; 4] {
    [
        collection_pk(tenant, ResourceKind::User),
        collection_pk(tenant, ResourceKind::Group),
        marker_collection_pk(tenant),
        auxiliary_collection_pk(tenant),
    ]
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

/// Sort-key prefix of membership edges in a group's partition.
pub const MEMBER_SK_PREFIX: &str = "M#";

/// `M#{member id}`: a membership edge in its group's partition (sorts
/// before the group item `R`, so a partition is emptied edges first).
pub fn member_sk(member_id: &str) -> String {
    format!("{MEMBER_SK_PREFIX}{member_id}")
}

/// `T#{tenant}#C`: the partition of the tenant's resource counters; the
/// sort key is the kind (`U` or `G`).
pub fn counter_pk(tenant: &TenantId) -> String {
    format!("T#{tenant}#C")
}

pub fn counter_sk(kind: ResourceKind) -> &'static str {
    kind_tag(kind)
}

/// `T#{tenant}#UN#{lower-case userName}` / `T#{tenant}#GN#{lower-case displayName}`.
pub fn marker_pk(tenant: &TenantId, key: &UniqueKey) -> String {
    match key {
        UniqueKey::UserName(v) => format!("T#{tenant}#UN#{v}"),
        UniqueKey::GroupDisplayName(v) => format!("T#{tenant}#GN#{v}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
