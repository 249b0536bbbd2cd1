//! The transaction builder: every item of a `TransactWriteItems` carries
//! its [`Role`], so a cancellation's reasons are explained by what the
//! failed item was for, never by its position.

use aws_sdk_dynamodb::operation::delete_item::DeleteItemError;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, ConditionCheck, Delete, Put, ReturnValuesOnConditionCheckFailure,
    TransactWriteItem, Update,
};

use super::codec::{
    self, ATTR_CENSUS_VERSION, ATTR_COUNT, ATTR_GENERATION, ATTR_GONE, ATTR_GROUPS, ATTR_ID,
    ATTR_INACTIVE, ATTR_LEFT, ATTR_MEMBERSHIPS, ATTR_MODIFIED, ATTR_VERSION, ATTR_WRITER, Item, n,
    s,
};
use super::keys::{self, GSI1_PK, GSI1_SK, PENDING_SK};
use super::{DynamoStore, build_err, sdk_failure};
use crate::scim::schema::ResourceKind;
use crate::store::change::current_actor;
use crate::store::{ManagerLink, Member, Record, StoreError, UniqueKey};
use crate::tenant::TenantId;

/// Attempts of a transaction that another transaction on the same item
/// (a counter shard) cancelled.
const TRANSACTION_ATTEMPTS: u32 = 6;

/// What an item of a transaction is for; decides what its failed
/// condition means.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Role {
    /// A new resource: its id must be free.
    NewResource,
    /// A resource written, deleted or checked at the version read.
    Resource,
    /// A unique-key marker claimed for the resource.
    NewMarker(UniqueKey),
    /// A unique-key marker released, conditional on its holder.
    OldMarker,
    /// An email index item (unconditional).
    Email,
    /// A resource or pending-manager counter (unconditional).
    Counter,
    /// A check that no report waits for one of a new user's names.
    NoneWaiting,
    /// A membership edge deleted by a cascade (unconditional: the step's
    /// condition on the deleted resource's version keeps its edges still).
    Edge,
    /// A membership edge a step writes, conditional on its being live or
    /// not as the step expects: the step counts the edges it really adds
    /// or ends, so a failure means the guess was wrong, never an error.
    ExpectedEdge,
    /// A member's group list and version in a membership step: the member
    /// must exist.
    MemberGroups(String),
    /// The other end of an edge a delete ends: the edge proves it exists,
    /// so a failure means the deleted resource's read is stale.
    Linked,
}

/// Why a transaction did not commit.
pub(super) enum Failure {
    Store(StoreError),
    /// A pending-manager counter of one of the new user's names is positive.
    ReportsWaiting,
    /// A membership edge was not in the state the step expected.
    EdgeMoved,
}

impl Failure {
    /// The failure of a transaction that has no item to fail this way but
    /// as a [`StoreError`].
    pub(super) fn into_store_error(self) -> StoreError {
        match self {
            Failure::Store(e) => e,
            Failure::ReportsWaiting => StoreError::Unavailable(
                "DynamoDB reported waiting reports for a transaction without that check".into(),
            ),
            Failure::EdgeMoved => StoreError::Unavailable(
                "DynamoDB refused a membership edge in a transaction that expects none".into(),
            ),
        }
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Failure::Store(e)
    }
}

impl Role {
    /// What a failed condition on an item of this role means; `existed`
    /// tells whether the item was there (returned for resource items).
    fn failure(&self, existed: bool) -> Failure {
        Failure::Store(match self {
            Role::NewResource => StoreError::Conflict(None),
            Role::Resource if existed => StoreError::VersionMismatch,
            Role::Resource => StoreError::NotFound,
            Role::NewMarker(k) => StoreError::Conflict(Some(k.clone())),
            Role::OldMarker | Role::Linked => StoreError::VersionMismatch,
            Role::MemberGroups(id) => StoreError::UnknownMember(id.clone()),
            Role::NoneWaiting => return Failure::ReportsWaiting,
            Role::ExpectedEdge => return Failure::EdgeMoved,
            Role::Email | Role::Counter | Role::Edge => StoreError::Unavailable(format!(
                "DynamoDB cancelled a transaction on an unconditional {self:?} item"
            )),
        })
    }
}

/// How a membership step changes a resource's group list (`grp`).
#[derive(Clone, Copy)]
pub(super) enum GroupListChange<'g> {
    None,
    Add(&'g str),
    Remove(&'g str),
}

/// The jittered back-off before another attempt of a write that met
/// another transaction on one of its items.
async fn conflict_pause(attempt: u32) {
    let jitter = u64::from(uuid::Uuid::new_v4().as_bytes()[0]) % 20;
    tokio::time::sleep(std::time::Duration::from_millis((20 << attempt) + jitter)).await;
}

/// How a single-item write ended.
enum Single {
    Done,
    /// Its condition failed; `existed`: the item was there.
    Refused {
        existed: bool,
    },
    /// A transaction held the item: worth another attempt.
    Conflict,
    Failed(StoreError),
}

impl Single {
    /// `refused` tells a failed condition (and whether the item existed)
    /// from the operation's other errors.
    fn of<O, E>(
        op: &str,
        result: Result<O, aws_sdk_dynamodb::error::SdkError<E>>,
        refused: impl Fn(&E) -> Option<bool>,
    ) -> Single
    where
        E: aws_sdk_dynamodb::error::ProvideErrorMetadata + std::error::Error + 'static,
    {
        let Err(err) = result else {
            return Single::Done;
        };
        if let Some(existed) = err.as_service_error().and_then(&refused) {
            return Single::Refused { existed };
        }
        if err.as_service_error().and_then(|e| e.code()) == Some("TransactionConflictException") {
            return Single::Conflict;
        }
        Single::Failed(sdk_failure(op, &err))
    }
}

/// The items of one `TransactWriteItems`, each with its role.
#[derive(Clone)]
pub(super) struct Transaction<'t> {
    table: &'t str,
    items: Vec<(Role, TransactWriteItem)>,
}

impl<'t> Transaction<'t> {
    pub(super) fn new(table: &'t str) -> Self {
        Transaction {
            table,
            items: Vec::new(),
        }
    }

    fn push_put(
        &mut self,
        role: Role,
        put: aws_sdk_dynamodb::types::builders::PutBuilder,
    ) -> Result<(), StoreError> {
        let put = put.table_name(self.table).build().map_err(build_err)?;
        self.items
            .push((role, TransactWriteItem::builder().put(put).build()));
        Ok(())
    }

    fn push_delete(&mut self, role: Role, key: Item) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(self.table)
            .set_key(Some(key))
            .build()
            .map_err(build_err)?;
        self.items
            .push((role, TransactWriteItem::builder().delete(delete).build()));
        Ok(())
    }

    /// A new resource item, conditional on its id being free.
    pub(super) fn create_resource(
        &mut self,
        tenant: &TenantId,
        record: &Record,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .set_item(Some(codec::resource_item(tenant, record)?))
            .condition_expression("attribute_not_exists(pk)");
        self.push_put(Role::NewResource, put)
    }

    /// `stored` over the resource item, conditional on `version`.
    pub(super) fn replace_resource(
        &mut self,
        tenant: &TenantId,
        stored: &Record,
        version: u64,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .set_item(Some(codec::resource_item(tenant, stored)?))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_values(":v", n(version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        self.push_put(Role::Resource, put)
    }

    /// A delete of the resource item, conditional on `version`.
    pub(super) fn delete_resource(
        &mut self,
        tenant: &TenantId,
        record: &Record,
        version: u64,
    ) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(self.table)
            .set_key(Some(codec::resource_key(tenant, record.kind, &record.id)))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_values(":v", n(version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        self.items.push((
            Role::Resource,
            TransactWriteItem::builder().delete(delete).build(),
        ));
        Ok(())
    }

    /// A condition that a resource is still at `version`.
    pub(super) fn at_version(
        &mut self,
        tenant: &TenantId,
        record: &Record,
        version: u64,
    ) -> Result<(), StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.table)
            .set_key(Some(codec::resource_key(tenant, record.kind, &record.id)))
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_values(":v", n(version))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        self.items.push((
            Role::Resource,
            TransactWriteItem::builder().condition_check(check).build(),
        ));
        Ok(())
    }

    /// Takes `groups` out of the group list of `record`, at `version`, into
    /// its `left` list, and gives it the next version: the member's side of
    /// ending those memberships before its deletion. `grp` stays true to
    /// the edges (a delete cut short leaves no group listed without its
    /// edge; a stale replace cannot write the old list back), and the
    /// deletion's stream image still names every group (`user.deleted`).
    pub(super) fn leave_groups(
        &mut self,
        tenant: &TenantId,
        record: &Record,
        version: u64,
        groups: &[String],
        now: &str,
    ) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(self.table)
            .set_key(Some(codec::resource_key(tenant, record.kind, &record.id)))
            .update_expression("DELETE #g :g ADD #l :g, #v :one SET #m = :now, #by = :by")
            .condition_expression("#v = :v")
            .expression_attribute_names("#g", ATTR_GROUPS)
            .expression_attribute_names("#l", ATTR_LEFT)
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_names("#m", ATTR_MODIFIED)
            .expression_attribute_names("#by", ATTR_WRITER)
            .expression_attribute_values(":g", AttributeValue::Ss(groups.to_vec()))
            .expression_attribute_values(":by", codec::writer_value(&current_actor()))
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":now", s(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        self.items.push((
            Role::Resource,
            TransactWriteItem::builder().update(update).build(),
        ));
        Ok(())
    }

    /// Claims `k` for resource `id`; fails if another resource holds it.
    pub(super) fn put_marker(
        &mut self,
        tenant: &TenantId,
        k: &UniqueKey,
        id: &str,
    ) -> Result<(), StoreError> {
        let put = Put::builder()
            .set_item(Some(codec::marker_item(tenant, k, id)))
            .condition_expression("attribute_not_exists(pk)");
        self.push_put(Role::NewMarker(k.clone()), put)
    }

    /// Releases `k`, conditional on resource `id` holding it.
    pub(super) fn delete_marker(
        &mut self,
        tenant: &TenantId,
        k: &UniqueKey,
        id: &str,
    ) -> Result<(), StoreError> {
        let delete = Delete::builder()
            .table_name(self.table)
            .set_key(Some(codec::key(
                keys::marker_pk(tenant, k),
                keys::MARKER_SK,
            )))
            .condition_expression("#id = :id")
            .expression_attribute_names("#id", ATTR_ID)
            .expression_attribute_values(":id", s(id))
            .build()
            .map_err(build_err)?;
        self.items.push((
            Role::OldMarker,
            TransactWriteItem::builder().delete(delete).build(),
        ));
        Ok(())
    }

    pub(super) fn put_email(
        &mut self,
        tenant: &TenantId,
        record: &Record,
        email: &str,
    ) -> Result<(), StoreError> {
        let put = Put::builder().set_item(Some(codec::email_item(tenant, record, email)));
        self.push_put(Role::Email, put)
    }

    pub(super) fn delete_email(
        &mut self,
        tenant: &TenantId,
        record: &Record,
        email: &str,
    ) -> Result<(), StoreError> {
        self.push_delete(Role::Email, codec::email_key(tenant, record, email))
    }

    /// Adds `delta` to the counter shard of resource `record` and gives it
    /// a new, random generation (and so the tenant's list of the kind); an
    /// inactive user is added to (or taken from) the shard's inactive
    /// count in the same update.
    pub(super) fn count_by(
        &mut self,
        tenant: &TenantId,
        record: &Record,
        delta: i64,
    ) -> Result<(), StoreError> {
        // 63 random bits: a positive DynamoDB number that does not repeat.
        let generation = (uuid::Uuid::new_v4().as_u64_pair().0 >> 1).max(1);
        let update = Update::builder()
            .set_key(Some(counter_key(tenant, record.kind, &record.id)))
            .expression_attribute_names("#n", ATTR_COUNT)
            .expression_attribute_names("#gen", ATTR_GENERATION)
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":gen", n(generation));
        let update = if record.is_inactive() {
            update
                .update_expression("ADD #n :d, #ni :d, #cv :one SET #gen = :gen")
                .expression_attribute_names("#ni", ATTR_INACTIVE)
                .expression_attribute_names("#cv", ATTR_CENSUS_VERSION)
                .expression_attribute_values(":one", n(1))
        } else {
            update.update_expression("ADD #n :d SET #gen = :gen")
        };
        self.push_counter(update)
    }

    /// Adds `delta` to the census attribute `attribute` (`ni`, `nm`) of
    /// the counter shard of resource `id`, without a new list generation
    /// (the list's ids stay). Nothing when `delta` is 0.
    fn count_census(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        attribute: &str,
        delta: i64,
    ) -> Result<(), StoreError> {
        if delta == 0 {
            return Ok(());
        }
        let update = Update::builder()
            .set_key(Some(counter_key(tenant, kind, id)))
            .update_expression("ADD #c :d, #cv :one")
            .expression_attribute_names("#c", attribute)
            .expression_attribute_names("#cv", ATTR_CENSUS_VERSION)
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":one", n(1));
        self.push_counter(update)
    }

    /// A user's `active` flipped: `delta` is 1 when it became inactive.
    pub(super) fn count_inactive(
        &mut self,
        tenant: &TenantId,
        user_id: &str,
        delta: i64,
    ) -> Result<(), StoreError> {
        self.count_census(tenant, ResourceKind::User, user_id, ATTR_INACTIVE, delta)
    }

    /// A step conditional on resource `id` added (`delta` > 0) or ended
    /// membership edges: counted on that resource's shard, the one shard
    /// update of the step.
    pub(super) fn count_memberships(
        &mut self,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        delta: i64,
    ) -> Result<(), StoreError> {
        self.count_census(tenant, kind, id, ATTR_MEMBERSHIPS, delta)
    }

    fn push_counter(
        &mut self,
        update: aws_sdk_dynamodb::types::builders::UpdateBuilder,
    ) -> Result<(), StoreError> {
        let update = update.table_name(self.table).build().map_err(build_err)?;
        self.items.push((
            Role::Counter,
            TransactWriteItem::builder().update(update).build(),
        ));
        Ok(())
    }

    /// Adds `delta` to the pending-manager counter at `pk`, creating it in
    /// the tenant's auxiliary collection (so a tenant purge finds it).
    fn add_to_counter(
        &mut self,
        tenant: &TenantId,
        pk: String,
        sk: &str,
        delta: i64,
    ) -> Result<(), StoreError> {
        let update = Update::builder()
            .set_key(Some(codec::key(pk.clone(), sk)))
            .update_expression("ADD #n :d SET #g1 = :g1, #s1 = :s1")
            .expression_attribute_names("#n", ATTR_COUNT)
            .expression_attribute_names("#g1", GSI1_PK)
            .expression_attribute_names("#s1", GSI1_SK)
            .expression_attribute_values(":d", n(delta))
            .expression_attribute_values(":g1", s(keys::auxiliary_collection_pk(tenant)))
            .expression_attribute_values(":s1", s(keys::auxiliary_sk(&pk, sk)));
        self.push_counter(update)
    }

    /// Adds `delta` to the number of users waiting for a manager named
    /// `raw` (the pending-manager counter).
    fn count_pending(
        &mut self,
        tenant: &TenantId,
        raw: &str,
        delta: i64,
    ) -> Result<(), StoreError> {
        let pk = keys::pending_reports_pk(tenant, raw);
        self.add_to_counter(tenant, pk, PENDING_SK, delta)
    }

    /// A condition that no user waits for a manager named `name`.
    pub(super) fn none_pending(&mut self, tenant: &TenantId, name: &str) -> Result<(), StoreError> {
        let check = ConditionCheck::builder()
            .table_name(self.table)
            .set_key(Some(codec::key(
                keys::pending_reports_pk(tenant, name),
                PENDING_SK,
            )))
            .condition_expression("attribute_not_exists(#n) OR #n <= :z")
            .expression_attribute_names("#n", ATTR_COUNT)
            .expression_attribute_values(":z", n(0))
            .build()
            .map_err(build_err)?;
        self.items.push((
            Role::NoneWaiting,
            TransactWriteItem::builder().condition_check(check).build(),
        ));
        Ok(())
    }

    /// The pending-counter changes of a change of manager link.
    pub(super) fn pending_moves(
        &mut self,
        tenant: &TenantId,
        before: Option<&ManagerLink>,
        after: Option<&ManagerLink>,
    ) -> Result<(), StoreError> {
        let pending = |l: Option<&ManagerLink>| match l {
            Some(ManagerLink::Pending(raw)) => Some(raw.to_lowercase()),
            _ => None,
        };
        let (old, new) = (pending(before), pending(after));
        if old == new {
            return Ok(());
        }
        if let Some(raw) = old {
            self.count_pending(tenant, &raw, -1)?;
        }
        if let Some(raw) = new {
            self.count_pending(tenant, &raw, 1)?;
        }
        Ok(())
    }

    /// A new version and modification time for a resource that exists, and
    /// the change of its group list that a membership step makes.
    pub(super) fn touch(
        &mut self,
        role: Role,
        tenant: &TenantId,
        kind: ResourceKind,
        id: &str,
        groups: GroupListChange<'_>,
        now: &str,
    ) -> Result<(), StoreError> {
        let (expression, group) = match groups {
            GroupListChange::None => ("ADD #v :one SET #m = :now, #by = :by", None),
            GroupListChange::Add(g) => ("ADD #g :g, #v :one SET #m = :now, #by = :by", Some(g)),
            GroupListChange::Remove(g) => {
                ("DELETE #g :g ADD #v :one SET #m = :now, #by = :by", Some(g))
            }
        };
        let mut update = Update::builder()
            .table_name(self.table)
            .set_key(Some(codec::resource_key(tenant, kind, id)))
            .update_expression(expression)
            .condition_expression("attribute_exists(pk)")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_names("#m", ATTR_MODIFIED)
            .expression_attribute_names("#by", ATTR_WRITER)
            .expression_attribute_values(":one", n(1))
            .expression_attribute_values(":now", s(now))
            .expression_attribute_values(":by", codec::writer_value(&current_actor()));
        if let Some(g) = group {
            update = update
                .expression_attribute_names("#g", ATTR_GROUPS)
                .expression_attribute_values(":g", AttributeValue::Ss(vec![g.to_owned()]));
        }
        self.items.push((
            role,
            TransactWriteItem::builder()
                .update(update.build().map_err(build_err)?)
                .build(),
        ));
        Ok(())
    }

    /// The next version and modification time of a group that must be at
    /// `version` (the first item of a version-chained membership step).
    pub(super) fn next_group_version(
        &mut self,
        tenant: &TenantId,
        group_id: &str,
        version: u64,
        now: &str,
    ) -> Result<(), StoreError> {
        let update = Update::builder()
            .table_name(self.table)
            .set_key(Some(codec::resource_key(
                tenant,
                ResourceKind::Group,
                group_id,
            )))
            .update_expression("SET #v = :next, #m = :now, #by = :by")
            .condition_expression("#v = :v")
            .expression_attribute_names("#v", ATTR_VERSION)
            .expression_attribute_names("#m", ATTR_MODIFIED)
            .expression_attribute_names("#by", ATTR_WRITER)
            .expression_attribute_values(":by", codec::writer_value(&current_actor()))
            .expression_attribute_values(":v", n(version))
            .expression_attribute_values(":next", n(version + 1))
            .expression_attribute_values(":now", s(now))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(build_err)?;
        self.items.push((
            Role::Resource,
            TransactWriteItem::builder().update(update).build(),
        ));
        Ok(())
    }

    /// A live membership edge, written by the step that leaves the group
    /// at `group_version`, conditional on the edge being live already
    /// (`was_live`) or not.
    pub(super) fn put_edge(
        &mut self,
        tenant: &TenantId,
        group_id: &str,
        member: &Member,
        group_version: u64,
        was_live: bool,
    ) -> Result<(), StoreError> {
        let item = codec::edge_item(tenant, group_id, member, group_version);
        self.push_expected_edge(item, was_live)
    }

    /// Ends a membership by a membership write: the edge becomes a
    /// tombstone (its stream record is the removal's event; a delete is
    /// left to cascades, which emit none), conditional on its being live
    /// (`was_live`) or not.
    pub(super) fn tombstone_edge(
        &mut self,
        tenant: &TenantId,
        group_id: &str,
        member: &Member,
        group_version: u64,
        was_live: bool,
    ) -> Result<(), StoreError> {
        let item = codec::tombstone_item(tenant, group_id, member, group_version);
        self.push_expected_edge(item, was_live)
    }

    fn push_expected_edge(&mut self, item: Item, was_live: bool) -> Result<(), StoreError> {
        let put = Put::builder()
            .set_item(Some(item))
            .expression_attribute_names("#gone", ATTR_GONE);
        let put = if was_live {
            put.condition_expression("attribute_exists(pk) AND attribute_not_exists(#gone)")
        } else {
            put.condition_expression("attribute_not_exists(pk) OR #gone = :gone")
                .expression_attribute_values(":gone", AttributeValue::Bool(true))
        };
        self.push_put(Role::ExpectedEdge, put)
    }

    pub(super) fn delete_edge(
        &mut self,
        tenant: &TenantId,
        group_id: &str,
        member_id: &str,
    ) -> Result<(), StoreError> {
        self.push_delete(Role::Edge, codec::edge_key(tenant, group_id, member_id))
    }
}

impl DynamoStore {
    /// Runs a transaction; the role of the first item whose condition
    /// failed explains the failure. A transaction cancelled by a concurrent
    /// one on a shared item (a counter shard) is retried with jittered
    /// back-off.
    pub(super) async fn run(&self, tx: &Transaction<'_>) -> Result<(), Failure> {
        if let [(role, item)] = tx.items.as_slice()
            && item.condition_check().is_none()
        {
            return self.run_single(role, item).await;
        }
        let items: Vec<TransactWriteItem> = tx.items.iter().map(|(_, i)| i.clone()).collect();
        for attempt in 0..TRANSACTION_ATTEMPTS {
            let result = self
                .client
                .transact_write_items()
                .set_transact_items(Some(items.clone()))
                .send()
                .await;
            let err = match result {
                Ok(_) => return Ok(()),
                Err(err) => err,
            };
            let Some(TransactWriteItemsError::TransactionCanceledException(cancel)) =
                err.as_service_error()
            else {
                return Err(sdk_failure("TransactWriteItems", &err).into());
            };
            let reasons = cancel.cancellation_reasons();
            if let Some(((role, _), reason)) = tx
                .items
                .iter()
                .zip(reasons)
                .find(|(_, r)| r.code() == Some("ConditionalCheckFailed"))
            {
                return Err(role.failure(reason.item().is_some()));
            }
            // An item DynamoDB refuses (too large) fails the same way on
            // every attempt.
            if reasons.iter().any(|r| r.code() == Some("ValidationError")) {
                return Err(StoreError::Rejected(
                    "DynamoDB TransactWriteItems refused an item: ValidationError".into(),
                )
                .into());
            }
            if !reasons
                .iter()
                .any(|r| r.code() == Some("TransactionConflict"))
            {
                return Err(sdk_failure("TransactWriteItems", &err).into());
            }
            conflict_pause(attempt).await;
        }
        Err(StoreError::Unavailable(
            "DynamoDB TransactWriteItems kept conflicting; retry later".into(),
        )
        .into())
    }

    /// A transaction of one write as the single-item request it is, with
    /// the same condition: billed once where a transaction bills twice. A
    /// write that meets a transaction on its item is retried like one.
    async fn run_single(&self, role: &Role, item: &TransactWriteItem) -> Result<(), Failure> {
        for attempt in 0..TRANSACTION_ATTEMPTS {
            match self.send_single(item).await {
                Single::Done => return Ok(()),
                // The item the failed condition saw, if any (asked for
                // where the role needs it), tells which failure it is.
                Single::Refused { existed } => return Err(role.failure(existed)),
                Single::Failed(e) => return Err(e.into()),
                Single::Conflict => conflict_pause(attempt).await,
            }
        }
        Err(StoreError::Unavailable(
            "DynamoDB kept reporting a transaction on the item; retry later".into(),
        )
        .into())
    }

    async fn send_single(&self, item: &TransactWriteItem) -> Single {
        if let Some(put) = item.put() {
            let result = self
                .client
                .put_item()
                .table_name(put.table_name())
                .set_item(Some(put.item().clone()))
                .set_condition_expression(put.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(put.expression_attribute_names().cloned())
                .set_expression_attribute_values(put.expression_attribute_values().cloned())
                .set_return_values_on_condition_check_failure(
                    put.return_values_on_condition_check_failure().cloned(),
                )
                .send()
                .await;
            return Single::of("PutItem", result, |e| match e {
                PutItemError::ConditionalCheckFailedException(c) => Some(c.item().is_some()),
                _ => None,
            });
        }
        if let Some(update) = item.update() {
            let result = self
                .client
                .update_item()
                .table_name(update.table_name())
                .set_key(Some(update.key().clone()))
                .update_expression(update.update_expression())
                .set_condition_expression(update.condition_expression().map(str::to_owned))
                .set_expression_attribute_names(update.expression_attribute_names().cloned())
                .set_expression_attribute_values(update.expression_attribute_values().cloned())
                .set_return_values_on_condition_check_failure(
                    update.return_values_on_condition_check_failure().cloned(),
                )
                .send()
                .await;
            return Single::of("UpdateItem", result, |e| match e {
                UpdateItemError::ConditionalCheckFailedException(c) => Some(c.item().is_some()),
                _ => None,
            });
        }
        let Some(delete) = item.delete() else {
            return Single::Failed(StoreError::Unavailable("an empty transaction item".into()));
        };
        let result = self
            .client
            .delete_item()
            .table_name(delete.table_name())
            .set_key(Some(delete.key().clone()))
            .set_condition_expression(delete.condition_expression().map(str::to_owned))
            .set_expression_attribute_names(delete.expression_attribute_names().cloned())
            .set_expression_attribute_values(delete.expression_attribute_values().cloned())
            .set_return_values_on_condition_check_failure(
                delete.return_values_on_condition_check_failure().cloned(),
            )
            .send()
            .await;
        Single::of("DeleteItem", result, |e| match e {
            DeleteItemError::ConditionalCheckFailedException(c) => Some(c.item().is_some()),
            _ => None,
        })
    }

    /// Runs a transaction without a `NoneWaiting` check or an
    /// [`Role::ExpectedEdge`].
    pub(super) async fn commit(&self, tx: &Transaction<'_>) -> Result<(), StoreError> {
        self.run(tx).await.map_err(Failure::into_store_error)
    }
}

/// The key of the counter shard that counts resource `id`.
fn counter_key(tenant: &TenantId, kind: ResourceKind, id: &str) -> Item {
    codec::key(keys::counter_pk(tenant), &keys::counter_sk(kind, id))
}
