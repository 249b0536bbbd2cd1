//! Lists and searches (`GET /Users`, `POST /Users/.search`): which reads a
//! filter needs, and index or cursor paging over the result. Everything is
//! in id order, the order of the store's per-tenant index, so pages are
//! stable whatever `count` is; with `sortBy`, the matches (at most
//! `MAX_SORTED`) are ordered in memory and paged the same two ways.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::request::ScimRequest;
use super::response::ScimResponse;
use crate::scim::filter::{Filter, IndexTerm};
use crate::scim::list::{Cursor, ListPage, Paging};
use crate::scim::projection::Projection;
use crate::scim::schema::{Registry, ResourceKind};
use crate::scim::sort::{MAX_SORTED, Sort, too_many_to_sort};
use crate::scim::{ScimError, ScimType};
use crate::store::{Census, Lookup, Record, Store, UniqueKey};
use crate::tenant::TenantId;

/// `SEARCH_REQUEST_URN` names the body of `POST /.search`.
pub const SEARCH_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:SearchRequest";

/// Resources read per store request when a filter must be evaluated on
/// every resource.
const SCAN_PAGE: usize = 500;

/// Limits of list requests, from configuration.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ListSettings {
    pub default_count: u64,
    pub max_count: u64,
    /// Most resources a filter without a key lookup examines before the
    /// request is refused with `400 tooMany`.
    pub scan_limit: usize,
}

/// A list request, from query parameters or a `.search` body, parsed.
#[derive(Debug, Clone)]
pub struct ListQuery {
    pub filter: Option<Filter>,
    pub projection: Projection,
    pub paging: Paging,
    /// Under cursor paging, the id the page starts after (from a validated
    /// cursor).
    after: Option<String>,
    /// `sortBy` / `sortOrder`; without, lists are in id order.
    pub sort: Option<Sort>,
}

impl ListQuery {
    /// From `GET` query parameters.
    pub fn from_params(
        req: &ScimRequest,
        kind: ResourceKind,
        registry: &Registry,
        settings: &ListSettings,
    ) -> Result<ListQuery, ScimError> {
        let p = |name| req.query_param(name);
        Self::parse(
            [p("filter"), p("attributes"), p("excludedAttributes")],
            [p("startIndex"), p("count"), p("cursor")],
            [p("sortBy"), p("sortOrder")],
            kind,
            registry,
            settings,
        )
    }

    /// From a `POST /.search` body (RFC 7644 §3.4.3): the same parameters
    /// as JSON, `attributes` as arrays or comma-separated strings, numbers
    /// as numbers or strings.
    pub fn from_search(
        body: &Value,
        kind: ResourceKind,
        registry: &Registry,
        settings: &ListSettings,
    ) -> Result<ListQuery, ScimError> {
        let obj = body.as_object().ok_or_else(|| {
            ScimError::bad_request(ScimType::InvalidSyntax, "a SearchRequest must be an object")
        })?;
        let field = |name: &str| -> Result<Option<String>, ScimError> {
            let value = obj
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v);
            Ok(match value {
                None | Some(Value::Null) => None,
                Some(Value::String(s)) => Some(s.clone()),
                Some(Value::Number(n)) => Some(n.to_string()),
                Some(Value::Array(items)) => Some(
                    items
                        .iter()
                        .map(|i| i.as_str().map(str::to_owned))
                        .collect::<Option<Vec<_>>>()
                        .ok_or_else(|| {
                            ScimError::bad_request(
                                ScimType::InvalidValue,
                                format!("'{name}' must hold strings"),
                            )
                        })?
                        .join(","),
                ),
                Some(_) => {
                    return Err(ScimError::bad_request(
                        ScimType::InvalidValue,
                        format!("'{name}' has the wrong type"),
                    ));
                }
            })
        };
        let (filter, attributes, excluded) = (
            field("filter")?,
            field("attributes")?,
            field("excludedAttributes")?,
        );
        let (start, count, cursor) = (field("startIndex")?, field("count")?, field("cursor")?);
        let (sort_by, sort_order) = (field("sortBy")?, field("sortOrder")?);
        Self::parse(
            [
                filter.as_deref(),
                attributes.as_deref(),
                excluded.as_deref(),
            ],
            [start.as_deref(), count.as_deref(), cursor.as_deref()],
            [sort_by.as_deref(), sort_order.as_deref()],
            kind,
            registry,
            settings,
        )
    }

    fn parse(
        [filter, attributes, excluded]: [Option<&str>; 3],
        [start, count, cursor]: [Option<&str>; 3],
        [sort_by, sort_order]: [Option<&str>; 2],
        kind: ResourceKind,
        registry: &Registry,
        settings: &ListSettings,
    ) -> Result<ListQuery, ScimError> {
        let filter = filter
            .filter(|f| !f.trim().is_empty())
            .map(|f| Filter::parse(f, kind, registry))
            .transpose()?;
        let paging = Paging::parse(
            start,
            count,
            cursor,
            settings.default_count,
            settings.max_count,
        )?;
        let sort = Sort::parse(sort_by, sort_order, kind)?;
        let after = match &paging {
            Paging::Cursor {
                cursor: Some(c), ..
            } => {
                Some(Cursor::decode(c, &cursor_scope(kind, filter.as_ref(), sort.as_ref()))?.after)
            }
            _ => None,
        };
        Ok(ListQuery {
            filter,
            projection: Projection::parse(attributes, excluded, kind, registry)?,
            paging,
            after,
            sort,
        })
    }
}

/// What a cursor is bound to: the resource type, the filter (in its
/// canonical form, so spacing does not matter) and the sort.
fn cursor_scope(kind: ResourceKind, filter: Option<&Filter>, sort: Option<&Sort>) -> String {
    let base = match filter {
        Some(f) => format!("{}|{f}", kind.name()),
        None => format!("{}|", kind.name()),
    };
    match sort {
        Some(s) => format!("{base}|{}", s.describe()),
        None => base,
    }
}

/// The member id of a `members[value eq ...]` / `members.value eq` term that
/// every match of `filter` satisfies (directly or under `and`).
fn member_term(filter: &Filter, kind: ResourceKind) -> Option<String> {
    match filter {
        Filter::And(a, b) => member_term(a, kind).or_else(|| member_term(b, kind)),
        f => match f.index_term(kind) {
            Some(IndexTerm::MemberValue(id)) => Some(id),
            _ => None,
        },
    }
}

/// A stored document as filters see it: with its `id`, and with `member`
/// (a group found by that member) in `members`.
fn filterable(record: &Record, member: Option<&str>) -> Value {
    let mut doc = record.document.clone();
    if let Some(obj) = doc.as_object_mut() {
        obj.insert("id".to_owned(), Value::String(record.id.clone()));
        if let Some(m) = member {
            obj.insert("members".to_owned(), serde_json::json!([{"value": m}]));
        }
    }
    doc
}

/// One page of records and what the ListResponse says about it.
#[derive(Debug, Clone)]
pub struct RecordPage {
    pub records: Vec<Record>,
    pub total_results: u64,
    pub start_index: Option<u64>,
    pub next_cursor: Option<String>,
}

/// Most bytes of `Resources` in one list response: API Gateway and Lambda
/// cap responses at 6 MB, and a truncated body or a `502` would leave the
/// client with nothing to act on.
pub const MAX_LIST_BYTES: usize = 5_000_000;

impl RecordPage {
    /// The ListResponse of this page, with the records rendered as
    /// `resources` (in the same order); `400 tooMany` when they would not
    /// fit in a response.
    pub fn response(self, resources: Vec<Value>) -> Result<ScimResponse, ScimError> {
        let mut size = ByteCount(0);
        for resource in &resources {
            // Writing to a counter cannot fail.
            let _ = serde_json::to_writer(&mut size, resource);
            if size.0 > MAX_LIST_BYTES {
                return Err(too_large(resources.len()));
            }
        }
        Ok(ScimResponse::ok(
            ListPage {
                resources,
                total_results: self.total_results,
                start_index: self.start_index,
                next_cursor: self.next_cursor,
            }
            .to_json(),
        ))
    }
}

/// The error for a page whose resources do not fit in one response.
fn too_large(count: usize) -> ScimError {
    ScimError::bad_request(
        ScimType::TooMany,
        format!(
            "these {count} resources do not fit in one response (about {} MB); ask for fewer with a smaller count, or leave out large attributes with excludedAttributes (groups, members)",
            MAX_LIST_BYTES / 1_000_000
        ),
    )
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::io::Write for ByteCount {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0 += buf.len();
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where index pages of a tenant's unfiltered list ended, so the next page
/// (`startIndex` = last + 1, how Okta imports) starts with a keyed read
/// instead of reading through every earlier id. A position is remembered
/// with the list generation it was read at and used only while the list
/// still has that generation (read with the count, which every page reads
/// anyway): after any create or delete it no longer applies. Per process;
/// old entries are dropped to bound memory.
#[derive(Debug, Default)]
pub struct PageHints {
    entries: Mutex<HashMap<HintKey, (String, Instant)>>,
}

/// A position in one generation of a tenant's list of one kind.
type HintKey = (TenantId, ResourceKind, u64, u64);

const HINT_TTL: Duration = Duration::from_secs(300);
const MAX_HINTS: usize = 4096;

impl PageHints {
    fn get(
        &self,
        tenant: &TenantId,
        kind: ResourceKind,
        at: Census,
        position: u64,
    ) -> Option<String> {
        let entries = self.entries.lock().ok()?;
        let (id, _) = entries.get(&(tenant.clone(), kind, at.generation, position))?;
        Some(id.clone())
    }

    fn put(&self, tenant: &TenantId, kind: ResourceKind, at: Census, position: u64, id: &str) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_HINTS {
                entries.retain(|_, (_, added)| added.elapsed() < HINT_TTL);
                if entries.len() >= MAX_HINTS {
                    entries.clear();
                }
            }
            entries.insert(
                (tenant.clone(), kind, at.generation, position),
                (id.to_owned(), Instant::now()),
            );
        }
    }
}

/// Answers a list request with the fewest store reads: a key lookup when
/// the filter has one, a bounded scan when it has not, the counter and one
/// page read when there is no filter.
pub async fn list<S: Store>(
    store: &S,
    tenant: &TenantId,
    kind: ResourceKind,
    registry: &Registry,
    settings: &ListSettings,
    hints: &PageHints,
    query: &ListQuery,
) -> Result<RecordPage, ScimError> {
    let scope = cursor_scope(kind, query.filter.as_ref(), query.sort.as_ref());
    let after = query.after.as_deref();
    if let Some(sort) = &query.sort {
        let matches = match &query.filter {
            Some(filter) => matching(store, tenant, kind, registry, settings, filter).await?,
            None => {
                let total = store.count(tenant, kind).await?.total;
                if total > MAX_SORTED as u64 {
                    return Err(too_many_to_sort(total));
                }
                let all = Paging::Index {
                    start_index: 1,
                    count: MAX_SORTED as u64,
                };
                unfiltered(store, tenant, kind, hints, &all, None, &scope)
                    .await?
                    .records
            }
        };
        return sorted_page(matches, sort, &query.paging, after, &scope);
    }
    let Some(filter) = &query.filter else {
        return unfiltered(store, tenant, kind, hints, &query.paging, after, &scope).await;
    };
    let matches = matching(store, tenant, kind, registry, settings, filter).await?;
    Ok(page_of(matches, &query.paging, after, &scope))
}

/// Every resource matching `filter`, in id order.
async fn matching<S: Store>(
    store: &S,
    tenant: &TenantId,
    kind: ResourceKind,
    registry: &Registry,
    settings: &ListSettings,
    filter: &Filter,
) -> Result<Vec<Record>, ScimError> {
    // Members live apart from group documents: a filter may name them only
    // by one member id (the key it is then answered by), and each candidate
    // is evaluated as having that member.
    let (term, member) = if filter.mentions("members") {
        let id = member_term(filter, kind).ok_or_else(|| {
            ScimError::bad_request(
                ScimType::InvalidFilter,
                "members can be filtered only by members[value eq \"<id>\"] or members.value eq \"<id>\"",
            )
        })?;
        (Some(IndexTerm::MemberValue(id.clone())), Some(id))
    } else {
        (filter.index_term(kind), None)
    };
    let member = member.as_deref();
    let candidates = match &term {
        Some(term) => by_key(store, tenant, kind, term).await?,
        None => scan(store, tenant, kind, filter, registry, settings.scan_limit).await?,
    };
    let mut matches: Vec<Record> = candidates
        .into_iter()
        .filter(|r| filter.matches(&filterable(r, member), kind, registry))
        .collect();
    matches.sort_by(|a, b| a.id.cmp(&b.id));
    matches.dedup_by(|a, b| a.id == b.id);
    Ok(matches)
}

/// A page of `matches` in `sort`'s order (at most [`MAX_SORTED`] of them).
/// A cursor names the position and the id of the last record it showed
/// (`{position}_{id}`): the next page starts after that record wherever it
/// is now, or at the position when it is gone.
fn sorted_page(
    matches: Vec<Record>,
    sort: &Sort,
    paging: &Paging,
    after: Option<&str>,
    scope: &str,
) -> Result<RecordPage, ScimError> {
    if matches.len() > MAX_SORTED {
        return Err(too_many_to_sort(matches.len() as u64));
    }
    let mut keyed: Vec<(Option<String>, Record)> = matches
        .into_iter()
        .map(|r| (sort.value(&r.document), r))
        .collect();
    keyed.sort_by(|a, b| sort.compare((&a.0, &a.1.id), (&b.0, &b.1.id)));
    let records: Vec<Record> = keyed.into_iter().map(|(_, r)| r).collect();
    let total_results = records.len() as u64;
    let count = usize::try_from(paging.count()).unwrap_or(usize::MAX);
    Ok(match paging {
        Paging::Index { start_index, .. } => {
            let skip = usize::try_from(start_index - 1).unwrap_or(usize::MAX);
            RecordPage {
                records: records.into_iter().skip(skip).take(count).collect(),
                total_results,
                start_index: Some(*start_index),
                next_cursor: None,
            }
        }
        Paging::Cursor { .. } => {
            let start = after.map_or(0, |a| {
                let (position, id) = a.split_once('_').unwrap_or((a, ""));
                records
                    .iter()
                    .position(|r| r.id == id)
                    .map_or_else(|| position.parse().unwrap_or(0), |i| i + 1)
            });
            let page: Vec<Record> = records.iter().skip(start).take(count).cloned().collect();
            let end = start + page.len();
            let next_cursor = match page.last() {
                Some(last) if end < records.len() => Some(
                    Cursor {
                        after: format!("{end}_{}", last.id),
                    }
                    .encode(scope),
                ),
                _ => None,
            };
            RecordPage {
                records: page,
                total_results,
                start_index: None,
                next_cursor,
            }
        }
    })
}

async fn unfiltered<S: Store>(
    store: &S,
    tenant: &TenantId,
    kind: ResourceKind,
    hints: &PageHints,
    paging: &Paging,
    after: Option<&str>,
    scope: &str,
) -> Result<RecordPage, ScimError> {
    let census = store.count(tenant, kind).await?;
    let total_results = census.total;
    let count = usize::try_from(paging.count()).unwrap_or(usize::MAX);
    match paging {
        Paging::Index { start_index, .. } => {
            let start_index = *start_index;
            let after = match start_index {
                1 => None,
                _ if count == 0 || start_index > total_results => {
                    return Ok(RecordPage {
                        records: Vec::new(),
                        total_results,
                        start_index: Some(start_index),
                        next_cursor: None,
                    });
                }
                s => match hints.get(tenant, kind, census, s - 1) {
                    Some(id) => Some(id),
                    None => match store.id_at(tenant, kind, s - 1).await? {
                        Some(id) => Some(id),
                        None => {
                            return Ok(RecordPage {
                                records: Vec::new(),
                                total_results,
                                start_index: Some(start_index),
                                next_cursor: None,
                            });
                        }
                    },
                },
            };
            let records = if count == 0 {
                Vec::new()
            } else {
                let page = store.list(tenant, kind, after.as_deref(), count).await?;
                if let (true, Some(last)) = (page.more, page.records.last()) {
                    let end = start_index + page.records.len() as u64 - 1;
                    hints.put(tenant, kind, census, end, &last.id);
                }
                page.records
            };
            Ok(RecordPage {
                records,
                total_results,
                start_index: Some(start_index),
                next_cursor: None,
            })
        }
        Paging::Cursor { .. } => {
            if count == 0 {
                return Ok(RecordPage {
                    records: Vec::new(),
                    total_results,
                    start_index: None,
                    next_cursor: None,
                });
            }
            let page = store.list(tenant, kind, after, count).await?;
            let next_cursor = match (page.more, page.records.last()) {
                (true, Some(last)) => Some(
                    Cursor {
                        after: last.id.clone(),
                    }
                    .encode(scope),
                ),
                _ => None,
            };
            Ok(RecordPage {
                records: page.records,
                total_results,
                start_index: None,
                next_cursor,
            })
        }
    }
}

/// The candidates of a filter with an equality on a keyed attribute.
async fn by_key<S: Store>(
    store: &S,
    tenant: &TenantId,
    kind: ResourceKind,
    term: &IndexTerm,
) -> Result<Vec<Record>, ScimError> {
    let unique = |key: UniqueKey| async move {
        match store.find_unique(tenant, &key).await? {
            Some(id) => {
                Ok::<_, ScimError>(store.get(tenant, kind, &id).await?.into_iter().collect())
            }
            None => Ok(Vec::new()),
        }
    };
    let find = |lookup: Lookup| async move { store.find(tenant, kind, &lookup).await };
    Ok(match term {
        IndexTerm::Id(id) => store.get(tenant, kind, id).await?.into_iter().collect(),
        IndexTerm::UserName(v) => unique(UniqueKey::UserName(v.to_lowercase())).await?,
        IndexTerm::DisplayName(v) => unique(UniqueKey::GroupDisplayName(v.to_lowercase())).await?,
        IndexTerm::ExternalId(v) => find(Lookup::ExternalId(v.clone())).await?,
        IndexTerm::EmailValue(v) => find(Lookup::Email(v.clone())).await?,
        IndexTerm::ManagerValue(v) => {
            let mut found = find(Lookup::DirectReports(v.clone())).await?;
            found.extend(find(Lookup::PendingManager(v.clone())).await?);
            found
        }
        IndexTerm::MemberValue(id) => {
            // The member's own record lists the groups it belongs to.
            let member = match store.get(tenant, ResourceKind::User, id).await? {
                Some(user) => Some(user),
                None => store.get(tenant, ResourceKind::Group, id).await?,
            };
            match member {
                Some(m) if !m.groups.is_empty() => store.get_many(tenant, kind, &m.groups).await?,
                _ => Vec::new(),
            }
        }
    })
}

/// Every resource of the kind, read page by page, as long as no more than
/// `limit` are examined.
async fn scan<S: Store>(
    store: &S,
    tenant: &TenantId,
    kind: ResourceKind,
    filter: &Filter,
    registry: &Registry,
    limit: usize,
) -> Result<Vec<Record>, ScimError> {
    let mut matches = Vec::new();
    let mut examined = 0usize;
    let mut after: Option<String> = None;
    loop {
        let page = store
            .list(tenant, kind, after.as_deref(), SCAN_PAGE)
            .await?;
        examined += page.records.len();
        after = page.records.last().map(|r| r.id.clone());
        matches.extend(
            page.records
                .into_iter()
                .filter(|r| filter.matches(&filterable(r, None), kind, registry)),
        );
        if examined > limit {
            return Err(ScimError::bad_request(
                ScimType::TooMany,
                format!(
                    "this filter must examine more than {limit} {}s; filter by an indexed attribute (id, externalId, userName, emails.value, manager.value) or combine one with 'and'",
                    kind.name()
                ),
            ));
        }
        if !page.more {
            return Ok(matches);
        }
    }
}

/// Pages a complete, id-ordered result.
fn page_of(matches: Vec<Record>, paging: &Paging, after: Option<&str>, scope: &str) -> RecordPage {
    let total_results = matches.len() as u64;
    let count = usize::try_from(paging.count()).unwrap_or(usize::MAX);
    match paging {
        Paging::Index { start_index, .. } => {
            let skip = usize::try_from(start_index - 1).unwrap_or(usize::MAX);
            RecordPage {
                records: matches.into_iter().skip(skip).take(count).collect(),
                total_results,
                start_index: Some(*start_index),
                next_cursor: None,
            }
        }
        Paging::Cursor { .. } => {
            let mut rest: Vec<Record> = matches
                .into_iter()
                .filter(|r| after.is_none_or(|a| r.id.as_str() > a))
                .collect();
            let more = rest.len() > count;
            rest.truncate(count);
            let next_cursor = match (more, rest.last()) {
                (true, Some(last)) => Some(
                    Cursor {
                        after: last.id.clone(),
                    }
                    .encode(scope),
                ),
                _ => None,
            };
            RecordPage {
                records: rest,
                total_results,
                start_index: None,
                next_cursor,
            }
        }
    }
}
