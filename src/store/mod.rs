//! Storage: the [`Store`] port and its adapters, `memory` (embedded) and
//! `dynamo` (production). Both pass the contract suite in `tests/`.

pub mod change;
pub mod dynamo;
pub mod memory;
pub mod ops;

use std::future::Future;

use serde_json::Value;

use crate::scim::schema::ResourceKind;
use crate::scim::{ScimError, ScimType};
use crate::tenant::TenantId;

pub use dynamo::DynamoStore;
pub use memory::MemoryStore;

/// A value that must be unique within a tenant, compared case-insensitively
/// (RFC 7643: `userName` is case-insensitive; Entra matches group
/// `displayName` the same way). Enforced by a marker item written in the
/// same transaction as the resource, never by a check through an index.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum UniqueKey {
    UserName(String),
    GroupDisplayName(String),
}

impl UniqueKey {
    /// The keys a resource document claims.
    pub fn for_document(kind: ResourceKind, document: &Value) -> Vec<UniqueKey> {
        let field = match kind {
            ResourceKind::User => "userName",
            ResourceKind::Group => "displayName",
        };
        let Some(value) = document.get(field).and_then(Value::as_str) else {
            return Vec::new();
        };
        let folded = value.to_lowercase();
        vec![match kind {
            ResourceKind::User => UniqueKey::UserName(folded),
            ResourceKind::Group => UniqueKey::GroupDisplayName(folded),
        }]
    }

    /// The attribute name, for `409 uniqueness` details.
    pub fn attribute(&self) -> &'static str {
        match self {
            UniqueKey::UserName(_) => "userName",
            UniqueKey::GroupDisplayName(_) => "displayName",
        }
    }
}

/// Where a user's manager reference points. Identity providers provision
/// managers in any order, so a reference may name a user that does not
/// exist yet; it stays `Pending` (the value as sent) until that user is
/// provisioned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ManagerLink {
    /// The id of a user of the same tenant.
    Resolved(String),
    /// The value as sent (an id, externalId or email) that matched no user.
    Pending(String),
}

/// A stored resource: its document and the version every write is
/// conditional on (also its ETag).
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    pub kind: ResourceKind,
    pub id: String,
    pub version: u64,
    pub document: Value,
    /// Users only: the manager reference, indexed for direct reports.
    pub manager: Option<ManagerLink>,
    /// Ids of the groups this resource is a direct member of, sorted:
    /// maintained by the store with the membership edges (read-only for
    /// writers; a replace keeps what is stored).
    pub groups: Vec<String>,
}

/// A member of a group, as its membership edge records it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub id: String,
    /// User or Group.
    pub kind: ResourceKind,
    /// The member's display name when the edge was written (kept current
    /// when a user is renamed).
    pub display: Option<String>,
}

impl Member {
    /// Distinct members in id order: the order both adapters write steps
    /// in, without naming a member twice in one transaction.
    pub fn distinct(members: &[Member]) -> Vec<Member> {
        let mut members = members.to_vec();
        members.sort_by(|a, b| a.id.cmp(&b.id));
        members.dedup_by(|a, b| a.id == b.id);
        members
    }

    /// The member form of a stored resource.
    pub fn of(record: &Record) -> Member {
        let name = |field: &str| record.document.get(field).and_then(Value::as_str);
        Member {
            id: record.id.clone(),
            kind: record.kind,
            display: name("displayName")
                .or_else(|| name("userName"))
                .map(str::to_owned),
        }
    }
}

/// Most membership edges written in one atomic step: an edge and its
/// member's group list are two of DynamoDB's 100 items per transaction, the
/// group's version is one more and the counter shard that counts the
/// step's edges the last.
pub const MEMBERS_PER_TRANSACTION: usize = 49;

/// Longest value (bytes) of an attribute that is part of a key: DynamoDB
/// caps partition keys at 2048 bytes and sort keys at 1024.
pub const MAX_KEY_VALUE_BYTES: usize = 1024;

/// Largest stored document (bytes of JSON): a DynamoDB item holds at most
/// 400 KB, and the item's keys and attributes need room beside it.
pub const MAX_DOCUMENT_BYTES: usize = 350_000;

/// Most email addresses of one user that are indexed (each is one item
/// written in the user's transaction, which DynamoDB caps at 100 items).
pub const MAX_INDEXED_EMAILS: usize = 20;

impl Record {
    /// A record without a manager reference.
    pub fn new(kind: ResourceKind, id: impl Into<String>, version: u64, document: Value) -> Self {
        Record {
            kind,
            id: id.into(),
            version,
            document,
            manager: None,
            groups: Vec::new(),
        }
    }

    pub fn unique_keys(&self) -> Vec<UniqueKey> {
        UniqueKey::for_document(self.kind, &self.document)
    }

    /// `externalId`, compared exactly (RFC 7643: `caseExact`).
    pub fn external_id(&self) -> Option<&str> {
        self.document.get("externalId").and_then(Value::as_str)
    }

    /// The user's email addresses, lower-cased and without duplicates, in
    /// document order, at most [`MAX_INDEXED_EMAILS`].
    pub fn email_keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = Vec::new();
        if self.kind != ResourceKind::User {
            return keys;
        }
        let emails = self.document.get("emails").and_then(Value::as_array);
        for email in emails.into_iter().flatten() {
            if let Some(v) = email.get("value").and_then(Value::as_str) {
                let folded = v.to_lowercase();
                if !keys.contains(&folded) && keys.len() < MAX_INDEXED_EMAILS {
                    keys.push(folded);
                }
            }
        }
        keys
    }

    /// Why this record cannot be stored: a document too large for one
    /// item, a keyed value too long for a key (checked on the keys as
    /// DynamoDB would store them, on every store alike) or holding a
    /// control character (C0, DEL, C1: invisible in every console and log,
    /// and a NUL ends strings in many consumers), or more emails than are
    /// indexed. `None` when it can.
    pub fn key_problem(&self) -> Option<String> {
        let size = serde_json::to_vec(&self.document).map_or(usize::MAX, |v| v.len());
        if size > MAX_DOCUMENT_BYTES {
            return Some(format!(
                "the resource is {size} bytes; at most {MAX_DOCUMENT_BYTES} are stored"
            ));
        }
        let too_long = |v: &str| v.len() > MAX_KEY_VALUE_BYTES;
        let controlled = |v: &str| v.chars().any(char::is_control);
        let keyed = ["userName", "displayName", "externalId"];
        for field in keyed {
            if self
                .document
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(controlled)
            {
                return Some(format!("{field} contains a control character"));
            }
            if self
                .document
                .get(field)
                .and_then(Value::as_str)
                .is_some_and(too_long)
            {
                return Some(format!(
                    "{field} is longer than {MAX_KEY_VALUE_BYTES} bytes"
                ));
            }
        }
        let emails = self.document.get("emails").and_then(Value::as_array);
        let emails: Vec<&str> = emails
            .into_iter()
            .flatten()
            .filter_map(|e| e.get("value").and_then(Value::as_str))
            .collect();
        if emails.iter().any(|e| controlled(e)) {
            return Some("an email contains a control character".to_owned());
        }
        if emails.iter().any(|e| too_long(e)) {
            return Some(format!(
                "an email is longer than {MAX_KEY_VALUE_BYTES} bytes"
            ));
        }
        if emails.len() > MAX_INDEXED_EMAILS {
            return Some(format!("a user has at most {MAX_INDEXED_EMAILS} emails"));
        }
        if let Some(ManagerLink::Pending(v) | ManagerLink::Resolved(v)) = &self.manager
            && too_long(v)
        {
            return Some(format!(
                "manager.value is longer than {MAX_KEY_VALUE_BYTES} bytes"
            ));
        }
        dynamo::keys::oversized(self).map(|(attribute, max)| {
            format!(
                "{attribute} is too long: at most {max} bytes (lower-cased) fit in a storage key"
            )
        })
    }

    /// The values by which a pending manager reference may name this user:
    /// externalId, userName and email addresses, lower-cased and without
    /// duplicates (pending references are indexed lower-cased; the exact
    /// rules are applied when one is resolved).
    pub fn reference_names(&self) -> Vec<String> {
        let mut names: Vec<String> = Vec::new();
        if self.kind != ResourceKind::User {
            return names;
        }
        let user_name = self.document.get("userName").and_then(Value::as_str);
        let singles = self.external_id().into_iter().chain(user_name);
        for name in singles.map(str::to_lowercase).chain(self.email_keys()) {
            if !names.contains(&name) {
                names.push(name);
            }
        }
        names
    }

    /// Whether this is a user whose `active` is false. Normalisation stores
    /// the boolean, but Entra sends `"False"`, so a record that was not
    /// normalised (an earlier release's, a test's) is read the same way;
    /// an absent `active` means active (RFC 7643 gives no default, and
    /// every identity provider treats a user without it as enabled).
    pub fn is_inactive(&self) -> bool {
        if self.kind != ResourceKind::User {
            return false;
        }
        match self.document.get("active") {
            Some(Value::Bool(active)) => !active,
            Some(Value::String(text)) => text.eq_ignore_ascii_case("false"),
            _ => false,
        }
    }

    /// Whether this record is found by `lookup`: the one definition both
    /// adapters index by.
    pub fn matches(&self, lookup: &Lookup) -> bool {
        match lookup {
            Lookup::ExternalId(v) => self.external_id() == Some(v.as_str()),
            Lookup::Email(v) => self.email_keys().contains(&v.to_lowercase()),
            Lookup::DirectReports(id) => self.manager == Some(ManagerLink::Resolved(id.clone())),
            Lookup::PendingManager(raw) => matches!(
                &self.manager,
                Some(ManagerLink::Pending(p)) if p.to_lowercase() == raw.to_lowercase()
            ),
        }
    }
}

/// What a create learnt on the way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Created {
    /// Users wait for this user as their manager: their pending reference
    /// is one of its [`Record::reference_names`]. Learnt within the create
    /// transaction, so a create with nobody waiting costs no read.
    pub reports_waiting: bool,
}

/// A secondary key a resource is found by without a Scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// `externalId eq` (exact).
    ExternalId(String),
    /// `emails.value eq` (any case).
    Email(String),
    /// Users whose manager is the user with this id.
    DirectReports(String),
    /// Users whose unresolved manager reference is this value (any case).
    PendingManager(String),
}

/// One page of a tenant's resources in id order.
#[derive(Debug, Clone, PartialEq)]
pub struct Page {
    pub records: Vec<Record>,
    /// Whether resources follow the last one of this page.
    pub more: bool,
}

impl Page {
    /// A page of `limit` from up to `limit + 1` records read: one more than
    /// asked for tells whether more follow.
    pub fn of_overfetched(mut records: Vec<Record>, limit: usize) -> Page {
        let more = records.len() > limit;
        records.truncate(limit);
        Page { records, more }
    }
}

/// What each step of a membership change requires of its group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupCondition {
    /// That it is at this version: a request that pinned the version
    /// (`If-Match`), or that writes the group's document after its member
    /// steps or derives them from the members it read.
    At(u64),
    /// Only that it exists: adding and removing given members commutes
    /// with other writers, so such a step is retried on the group's
    /// current version instead of failing. `seen` is the version the
    /// request read, the first guess (each step records the group's exact
    /// version after it on its membership edges).
    Exists { seen: u64 },
}

/// The size of a tenant's list of one kind and which contents it has.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Census {
    /// How many resources the list holds.
    pub total: u64,
    /// A new value at every create and delete of the kind, never an
    /// earlier one (random, so not after a tenant purge either; 0 while the
    /// tenant never had one): two reads with the same generation saw the
    /// same ids, so a position found in one holds in the other.
    pub generation: u64,
}

/// A tenant's exact counts, for the operator's health view.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct TenantCensus {
    pub users: u64,
    /// Users whose `active` is false ([`Record::is_inactive`]).
    pub inactive_users: u64,
    pub groups: u64,
    /// Membership edges: one per member (user or group) of each group.
    pub memberships: u64,
}

/// Why a store operation did not happen. Nothing is half-written in any case.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum StoreError {
    #[error("resource not found")]
    NotFound,
    /// Another writer changed the resource since it was read.
    #[error("resource was modified concurrently")]
    VersionMismatch,
    /// The resource id or a unique value is taken.
    #[error("{} is already taken", .0.as_ref().map_or("id", |k| k.attribute()))]
    Conflict(Option<UniqueKey>),
    /// The backend failed or throttled: retry later.
    #[error("store unavailable: {0}")]
    Unavailable(String),
    /// An item could not be decoded.
    #[error("corrupt item: {0}")]
    Corrupt(String),
    /// A member to add is neither a user nor a group of the tenant.
    #[error("{0} is not a user or group of this tenant")]
    UnknownMember(String),
    /// The backend refused the request as invalid (DynamoDB's
    /// `ValidationException`: a value too large for a key or an item).
    /// Retrying cannot help, so it is the client's `400`, never a `503`.
    #[error("request refused by the store: {0}")]
    Rejected(String),
}

/// Storage failures as clients see them: a lost race the caller did not
/// retry is `412`, a taken unique value `409 uniqueness`, a backend
/// failure `503` (the detail holds only an error code, never data). The
/// backend's reason travels as the error's `cause`, which the front door
/// logs once per request.
impl From<StoreError> for ScimError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::NotFound => ScimError::not_found("resource not found"),
            StoreError::VersionMismatch => ScimError::new(
                412,
                None,
                "the resource was modified since it was read; read it again",
            ),
            StoreError::Conflict(key) => ScimError::new(
                409,
                Some(ScimType::Uniqueness),
                match key {
                    Some(k) => format!("{} is already taken in this tenant", k.attribute()),
                    None => "a resource with this id already exists".to_owned(),
                },
            ),
            StoreError::Unavailable(cause) => ScimError::new(
                503,
                None,
                "the store is temporarily unavailable; retry later",
            )
            .with_cause(cause),
            StoreError::Corrupt(what) => {
                ScimError::new(500, None, "a stored resource is unreadable")
                    .with_cause(format!("corrupt item: {what}"))
            }
            StoreError::UnknownMember(id) => ScimError::bad_request(
                ScimType::InvalidValue,
                format!("member {id} is not a user or group of this tenant"),
            ),
            StoreError::Rejected(_) => ScimError::bad_request(
                ScimType::InvalidValue,
                "a value of the request is too large to be stored",
            ),
        }
    }
}

/// The storage port. Every write is atomic and conditional: on the
/// resource not existing (create) or on the version read (replace, delete).
pub trait Store: Send + Sync + 'static {
    /// Stores a new resource and its unique keys; `record.version` is its
    /// first version.
    fn create(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> impl Future<Output = Result<Created, StoreError>> + Send;

    /// Reads a resource (strongly consistent).
    fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
    ) -> impl Future<Output = Result<Option<Record>, StoreError>> + Send;

    /// Replaces `previous` by `next` if the stored version is still
    /// `previous.version`, moving unique keys that changed.
    fn replace(
        &self,
        tenant: &TenantId,
        previous: &Record,
        next: &Record,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes `record`, its unique keys and every membership edge it is
    /// part of (a group's members, the groups it belongs to), if its
    /// version is unchanged. Memberships are removed first, in steps, each
    /// conditional on the version; the resource goes last, so a delete that
    /// fails half-way leaves the resource in place and a retry finishes it.
    fn delete(
        &self,
        tenant: &TenantId,
        record: &Record,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// Deletes up to `limit` items of the tenant, of every kind, and
    /// returns how many it deleted: 0 once nothing is left (on DynamoDB,
    /// in a tenant not yet migrated from the layout before issue 13, a
    /// marker found both in its old `gsi1` collection and from its
    /// resource may be counted by two calls). Operators call
    /// it until it returns 0; an interrupted purge is resumed by calling it
    /// again.
    fn purge_tenant(
        &self,
        tenant: &TenantId,
        limit: usize,
    ) -> impl Future<Output = Result<usize, StoreError>> + Send;

    /// The id holding a unique key, if any.
    fn find_unique(
        &self,
        tenant: &TenantId,
        key: &UniqueKey,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The resources found by a secondary key, in id order. Served by an
    /// index, which DynamoDB updates eventually (typically within a second).
    fn find(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        lookup: &Lookup,
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;

    /// Up to `limit` resources of a kind in id order, starting after the id
    /// `after` (from the first when `None`).
    fn list(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        after: Option<&str>,
        limit: usize,
    ) -> impl Future<Output = Result<Page, StoreError>> + Send;

    /// The id of the `position`-th resource (1-based) in id order, reading
    /// ids only; `None` when there are fewer. Index paging starts after it.
    fn id_at(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        position: u64,
    ) -> impl Future<Output = Result<Option<String>, StoreError>> + Send;

    /// The resources of `ids` that exist (strongly consistent), in id order.
    fn get_many(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        ids: &[String],
    ) -> impl Future<Output = Result<Vec<Record>, StoreError>> + Send;

    /// The members of a group, in id order, as long as their ids and display
    /// names add up to at most `max_bytes` (`None` when the list is longer:
    /// the caller answers with an error instead of an oversized response).
    fn members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        max_bytes: usize,
    ) -> impl Future<Output = Result<Option<Vec<Member>>, StoreError>> + Send;

    /// Makes `members` members of the group (adding one twice changes
    /// nothing) and returns the condition a following step needs. Written
    /// in steps of [`MEMBERS_PER_TRANSACTION`]; each step writes the edges,
    /// the members' group lists and a new group version atomically,
    /// conditional on every member existing (`UnknownMember`) and on the
    /// group meeting `condition` (`NotFound`, `VersionMismatch`): at
    /// [`GroupCondition::At`] each step requires the version the step
    /// before left, so no step applies to a group another writer changed
    /// meanwhile. The steps before a failed one stay. Nothing to write
    /// checks and writes nothing.
    fn add_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        members: &[Member],
    ) -> impl Future<Output = Result<GroupCondition, StoreError>> + Send;

    /// Ends the memberships of `ids` in the group; ids that are not members
    /// are ignored. Same conditions, steps and atomicity as
    /// [`Store::add_members`].
    fn remove_members(
        &self,
        tenant: &TenantId,
        group_id: &str,
        condition: GroupCondition,
        ids: &[String],
    ) -> impl Future<Output = Result<GroupCondition, StoreError>> + Send;

    /// Rewrites the display name that the edges of `member` in `groups`
    /// carry (after a rename); an edge that is gone is skipped.
    fn refresh_member(
        &self,
        tenant: &TenantId,
        member: &Member,
        groups: &[String],
    ) -> impl Future<Output = Result<(), StoreError>> + Send;

    /// How many resources of a kind the tenant has, and the generation of
    /// that list: a counter item kept in the same transactions as creates
    /// and deletes, so no items are counted.
    fn count(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
    ) -> impl Future<Output = Result<Census, StoreError>> + Send;

    /// Exact counts for the operator's health view, strongly consistent.
    /// On DynamoDB they are kept in the counter shards by the same
    /// transactions as the changes they count; a tenant written before
    /// they were has them only once `scim-admin tenant migrate` has run
    /// (until then `inactiveUsers` and `memberships` count only the
    /// changes since the upgrade, floored at 0).
    fn tenant_census(
        &self,
        tenant: &TenantId,
    ) -> impl Future<Output = Result<TenantCensus, StoreError>> + Send;
}
