//! Group membership as clients see it: `members` of a Group and `groups` of
//! a User (both read-only on the other side), built from the store's
//! membership edges, and member ids checked before anything is written.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde_json::{Value, json};

use super::resource::location;
use crate::scim::projection::Projection;
use crate::scim::schema::ResourceKind;
use crate::scim::{ScimError, ScimType};
use crate::store::{Member, Record, Store};
use crate::tenant::TenantId;

/// Most bytes of `members` in one response: API Gateway and Lambda cap
/// responses at 6 MB, and the rest of the document needs room.
pub const MAX_MEMBERS_BYTES: usize = 5_000_000;

/// What one member adds to a response beyond its id and display name
/// (`value`, `$ref` with the Tenant URL, `type`, JSON punctuation).
pub fn member_overhead(base: &str) -> usize {
    base.len() + 64
}

/// `members` of a group response.
pub fn members_json(members: &[Member], base: &str) -> Value {
    Value::Array(
        members
            .iter()
            .map(|m| {
                let mut v = json!({
                    "value": m.id,
                    "$ref": location(base, m.kind, &m.id),
                    "type": m.kind.name(),
                });
                if let Some(d) = &m.display {
                    v["display"] = json!(d);
                }
                v
            })
            .collect(),
    )
}

/// The error for a group whose members do not fit a response.
pub fn too_many_members() -> ScimError {
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "the members of this group do not fit in one response (about {} MB); read the group with excludedAttributes=members, and its members with GET /Groups?filter=members[value eq \"<id>\"] or a user's groups attribute",
            MAX_MEMBERS_BYTES / 1_000_000
        ),
    )
}

/// Members a request names, checked, as read before anything is written.
#[derive(Debug, Default)]
pub struct Resolved {
    pub members: Vec<Member>,
    /// Those of them that were direct members of the group when read: adding
    /// them again changes nothing, so it writes nothing.
    pub present: HashSet<String>,
}

/// The members `ids` name, with their kind and display name: every id must
/// be a user or group of the tenant other than `group_id` itself
/// (`400 invalidValue` otherwise, before anything is written).
pub async fn resolve<S: Store>(
    store: &S,
    tenant: &TenantId,
    group_id: &str,
    ids: &[String],
) -> Result<Resolved, ScimError> {
    let wanted: BTreeSet<&String> = ids.iter().collect();
    if wanted.contains(&group_id.to_owned()) {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            "a group cannot be a member of itself",
        ));
    }
    let wanted: Vec<String> = wanted.into_iter().cloned().collect();
    let mut records = store.get_many(tenant, ResourceKind::User, &wanted).await?;
    let mut found: Vec<Member> = records.iter().map(Member::of).collect();
    let is_user: HashSet<&str> = found.iter().map(|m| m.id.as_str()).collect();
    let rest: Vec<String> = wanted
        .iter()
        .filter(|id| !is_user.contains(id.as_str()))
        .cloned()
        .collect();
    if !rest.is_empty() {
        let groups = store.get_many(tenant, ResourceKind::Group, &rest).await?;
        found.extend(groups.iter().map(Member::of));
        records.extend(groups);
    }
    let known: HashSet<&str> = found.iter().map(|m| m.id.as_str()).collect();
    let unknown: Vec<&String> = wanted
        .iter()
        .filter(|id| !known.contains(id.as_str()))
        .take(5)
        .collect();
    if !unknown.is_empty() {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!(
                "members must be users or groups of this tenant; unknown: {}",
                unknown
                    .iter()
                    .map(|s| s.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
        ));
    }
    let present = records
        .into_iter()
        .filter(|r| r.groups.iter().any(|g| g == group_id))
        .map(|r| r.id)
        .collect();
    Ok(Resolved {
        members: found,
        present,
    })
}

/// After `before` became `after`: when its display name changed, the edges
/// of its memberships carry the new one. Best effort: the write of `after`
/// has succeeded, so a failure here is logged, not reported; the next
/// write of the resource repeats it.
pub async fn refresh_display<S: Store>(
    store: &S,
    tenant: &TenantId,
    before: &Record,
    after: &Record,
) {
    let member = Member::of(after);
    if member.display == Member::of(before).display || after.groups.is_empty() {
        return;
    }
    if let Err(e) = store.refresh_member(tenant, &member, &after.groups).await {
        tracing::warn!(error = %e, "refreshing membership display names failed");
    }
}

/// `groups` of each of `records` (users), when the projection returns
/// them: the group ids come with the records, the display names from one
/// batched read of the groups.
pub async fn groups_of<S: Store>(
    store: &S,
    tenant: &TenantId,
    base: &str,
    records: &[Record],
    projection: &Projection,
) -> Result<BTreeMap<String, Value>, ScimError> {
    let ids: BTreeSet<&String> = records.iter().flat_map(|r| &r.groups).collect();
    if ids.is_empty() || !projection.includes("groups") {
        return Ok(BTreeMap::new());
    }
    let ids: Vec<String> = ids.into_iter().cloned().collect();
    let names: BTreeMap<String, Option<String>> = store
        .get_many(tenant, ResourceKind::Group, &ids)
        .await?
        .into_iter()
        .map(|g| {
            let name = g.document.get("displayName").and_then(Value::as_str);
            (g.id.clone(), name.map(str::to_owned))
        })
        .collect();
    Ok(records
        .iter()
        .filter(|r| !r.groups.is_empty())
        .map(|r| {
            let refs = r
                .groups
                .iter()
                .filter_map(|g| {
                    let name = names.get(g)?;
                    let mut v = json!({
                        "value": g,
                        "$ref": location(base, ResourceKind::Group, g),
                        "type": "direct",
                    });
                    if let Some(n) = name {
                        v["display"] = json!(n);
                    }
                    Some(v)
                })
                .collect();
            (r.id.clone(), Value::Array(refs))
        })
        .collect())
}
