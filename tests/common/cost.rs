//! A DynamoDB cost meter: an SDK interceptor that prices every request the
//! store makes by DynamoDB's documented capacity rules, so a test can hold
//! each SCIM operation to a budget of request units (what on-demand bills).
//!
//! Sizes are exact, not estimated: before a write the meter reads the old
//! image of every item the request names, after it the new image, with a
//! client of its own that is not metered (consistent `BatchGetItem`). The
//! rules it applies (DynamoDB Developer Guide, "Read/write capacity units",
//! "Item sizes", "Global secondary indexes: provisioned throughput"):
//!
//! - item size: for each attribute, the UTF-8 length of its name plus its
//!   value: string and binary by length, a number 1 byte per 2 significant
//!   digits + 1, boolean and null 1, a set the sum of its elements, a list or
//!   map 3 bytes plus 1 per element plus the elements (map keys included);
//! - a write costs 1 unit per started KB of the larger of the old and the new
//!   image (at least 1; a write that changes nothing still costs); inside
//!   `TransactWriteItems` twice; a `ConditionCheck` costs like a
//!   transactional write of the checked item; `BatchWriteItem` per item;
//! - every global secondary index whose key attributes the old or the new
//!   image has: an entry put, deleted or (when a projected attribute
//!   changed) updated costs 1 unit per started KB of the index entry (the
//!   table key, the index key and the projected attributes, read from the
//!   table's description, so the meter follows `table.rs`); a changed index
//!   key is a delete plus a put; index writes are not doubled by a
//!   transaction (they are applied after it commits);
//! - a read costs 1 unit per started 4 KB (`GetItem` and each item of
//!   `BatchGetItem` / `TransactGetItems` on its own, `Query` on the summed
//!   size of the entries it read, rounded once), half when eventually
//!   consistent, twice in a transaction, and a read that finds nothing costs
//!   the minimum; an index `Query` reads entries at their projected size;
//! - a cancelled transaction costs its table writes and checks (nothing
//!   changed, so no index write).

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::{Arc, Mutex};

use super::http_api::Api;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::config::interceptors::{
    BeforeSerializationInterceptorContextRef, FinalizerInterceptorContextRef,
};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_dynamodb::operation::batch_get_item::{BatchGetItemInput, BatchGetItemOutput};
use aws_sdk_dynamodb::operation::batch_write_item::{BatchWriteItemInput, BatchWriteItemOutput};
use aws_sdk_dynamodb::operation::delete_item::DeleteItemInput;
use aws_sdk_dynamodb::operation::get_item::{GetItemInput, GetItemOutput};
use aws_sdk_dynamodb::operation::put_item::PutItemInput;
use aws_sdk_dynamodb::operation::query::{QueryInput, QueryOutput};
use aws_sdk_dynamodb::operation::transact_get_items::{
    TransactGetItemsInput, TransactGetItemsOutput,
};
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsInput;
use aws_sdk_dynamodb::operation::update_item::UpdateItemInput;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes, ProjectionType};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_types::config_bag::{Storable, StoreReplace};
use scim_serverless::api::Routes;
use scim_serverless::store::DynamoStore;
use scim_serverless::store::dynamo::table::create_table;
use serde_json::Value;

type Item = HashMap<String, AttributeValue>;

/// An item's primary key, rendered `pk`/`sk`.
pub type ItemKey = (String, String);

pub const WRITE_UNIT: usize = 1024;
pub const READ_UNIT: usize = 4096;

/// What a measured stretch of requests cost.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Cost {
    /// DynamoDB requests by operation name.
    pub requests: BTreeMap<String, usize>,
    /// Write request units of table items (transactions counted twice).
    pub table_write_units: f64,
    /// Write request units of index entries.
    pub index_write_units: f64,
    pub read_units: f64,
    /// Every item key a `Put`, `Update` or `Delete` named.
    pub written: BTreeSet<ItemKey>,
}

impl Cost {
    pub fn request_count(&self) -> usize {
        self.requests.values().sum()
    }

    pub fn write_units(&self) -> f64 {
        self.table_write_units + self.index_write_units
    }

    fn add(&mut self, other: Cost) {
        for (op, n) in other.requests {
            *self.requests.entry(op).or_default() += n;
        }
        self.table_write_units += other.table_write_units;
        self.index_write_units += other.index_write_units;
        self.read_units += other.read_units;
        self.written.extend(other.written);
    }
}

/// A global secondary index as the meter prices it.
#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub keys: [String; 2],
    /// `None`: every attribute; otherwise the projected non-key attributes.
    pub projected: Option<BTreeSet<String>>,
}

#[derive(Debug)]
pub struct Layout {
    pub table: String,
    pub key: [String; 2],
    pub indexes: Vec<Index>,
}

/// The meter: install it on a client with [`metered_dynamo_store`], read
/// and reset it with [`CostMeter::take`].
#[derive(Debug, Clone)]
pub struct CostMeter {
    layout: Arc<Layout>,
    /// Reads images; not metered.
    probe: Client,
    cost: Arc<Mutex<Cost>>,
}

/// A write the request makes, as the meter prices it.
#[derive(Debug, Clone, Copy, PartialEq)]
enum WriteKind {
    Write,
    Check,
}

/// What `read_before_execution` learned, for `read_after_execution`.
#[derive(Debug)]
struct Pending {
    op: String,
    transactional: bool,
    writes: Vec<(ItemKey, WriteKind, Option<Item>)>,
    read: Option<ReadRequest>,
}

impl Storable for Pending {
    type Storer = StoreReplace<Self>;
}

#[derive(Debug)]
enum ReadRequest {
    Get {
        consistent: bool,
        projected: bool,
        key: ItemKey,
    },
    Batch {
        consistent: bool,
        keys: Vec<ItemKey>,
    },
    Transact {
        keys: Vec<ItemKey>,
    },
    Query {
        consistent: bool,
        projected: bool,
        index: Option<String>,
    },
}

fn string(v: Option<&AttributeValue>) -> String {
    v.and_then(|v| v.as_s().ok()).cloned().unwrap_or_default()
}

/// DynamoDB's size of a number: 1 byte per 2 significant digits, plus 1.
pub fn number_size(n: &str) -> usize {
    let mantissa = n.split(['e', 'E']).next().unwrap_or_default();
    let digits: String = mantissa.chars().filter(char::is_ascii_digit).collect();
    let significant = digits.trim_start_matches('0').trim_end_matches('0').len();
    significant.div_ceil(2) + 1
}

fn value_size(v: &AttributeValue) -> usize {
    match v {
        AttributeValue::S(s) => s.len(),
        AttributeValue::N(n) => number_size(n),
        AttributeValue::B(b) => b.as_ref().len(),
        AttributeValue::Bool(_) | AttributeValue::Null(_) => 1,
        AttributeValue::Ss(set) => set.iter().map(String::len).sum(),
        AttributeValue::Ns(set) => set.iter().map(|n| number_size(n)).sum(),
        AttributeValue::Bs(set) => set.iter().map(|b| b.as_ref().len()).sum(),
        AttributeValue::L(list) => 3 + list.iter().map(|v| 1 + value_size(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(k, v)| 1 + k.len() + value_size(v))
                .sum::<usize>()
        }
        _ => panic!("the cost meter does not know the attribute type of {v:?}"),
    }
}

/// An item's size by DynamoDB's rules: attribute names plus values.
pub fn item_size(item: &Item) -> usize {
    item.iter().map(|(k, v)| k.len() + value_size(v)).sum()
}

pub fn units(size: usize, unit: usize) -> f64 {
    size.div_ceil(unit).max(1) as f64
}

impl Layout {
    fn item_key(&self, item: &Item) -> ItemKey {
        (
            string(item.get(&self.key[0])),
            string(item.get(&self.key[1])),
        )
    }

    fn key_map(&self, key: &ItemKey) -> Item {
        HashMap::from([
            (self.key[0].clone(), AttributeValue::S(key.0.clone())),
            (self.key[1].clone(), AttributeValue::S(key.1.clone())),
        ])
    }

    /// The entry `item` has in `index`, if it has the index's keys.
    fn entry(&self, index: &Index, item: &Item) -> Option<Item> {
        if !index.keys.iter().all(|k| item.contains_key(k)) {
            return None;
        }
        Some(
            item.iter()
                .filter(|(name, _)| {
                    self.key.contains(name)
                        || index.keys.contains(name)
                        || index.projected.as_ref().is_none_or(|p| p.contains(*name))
                })
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        )
    }

    /// Index write units of one item going from `old` to `new`.
    pub fn index_writes(&self, old: Option<&Item>, new: Option<&Item>) -> f64 {
        let mut total = 0.0;
        for index in &self.indexes {
            let before = old.and_then(|i| self.entry(index, i));
            let after = new.and_then(|i| self.entry(index, i));
            let key_of = |e: &Item| index.keys.clone().map(|k| e.get(&k).cloned());
            total += match (before, after) {
                (None, None) => 0.0,
                (Some(b), None) => units(item_size(&b), WRITE_UNIT),
                (None, Some(a)) => units(item_size(&a), WRITE_UNIT),
                (Some(b), Some(a)) if key_of(&b) != key_of(&a) => {
                    units(item_size(&b), WRITE_UNIT) + units(item_size(&a), WRITE_UNIT)
                }
                (Some(b), Some(a)) if b == a => 0.0,
                (Some(b), Some(a)) => units(item_size(&b).max(item_size(&a)), WRITE_UNIT),
            };
        }
        total
    }
}

fn consistency(consistent: bool) -> f64 {
    if consistent { 1.0 } else { 0.5 }
}

impl CostMeter {
    /// Returns the cost so far and starts again from zero.
    pub fn take(&self) -> Cost {
        std::mem::take(&mut *self.cost.lock().unwrap())
    }

    /// Sends one request through `api`, expects `want`, and returns its
    /// body with what that request alone cost.
    pub async fn request<R: Routes>(
        &self,
        api: &Api<R>,
        method: &str,
        path: &str,
        body: Option<Value>,
        want: u16,
    ) -> (Value, Cost) {
        self.take();
        let reply = api.call(method, path, body).await.expect(want);
        (reply.body, self.take())
    }

    /// Current images of `keys` (absent items left out), read with the
    /// unmetered client. Blocks: interceptors are synchronous, and the
    /// tests run on the multi-threaded runtime.
    fn images(&self, keys: &[ItemKey]) -> HashMap<ItemKey, Item> {
        let unique: BTreeSet<&ItemKey> = keys.iter().collect();
        let unique: Vec<&ItemKey> = unique.into_iter().collect();
        let mut found = HashMap::new();
        for chunk in unique.chunks(100) {
            let mut request = KeysAndAttributes::builder().consistent_read(true);
            for key in chunk {
                request = request.keys(self.layout.key_map(key));
            }
            let mut pending =
                HashMap::from([(self.layout.table.clone(), request.build().unwrap())]);
            while !pending.is_empty() {
                let out = tokio::task::block_in_place(|| {
                    tokio::runtime::Handle::current()
                        .block_on(
                            self.probe
                                .batch_get_item()
                                .set_request_items(Some(pending.clone()))
                                .send(),
                        )
                        .expect("the cost meter reads item images")
                });
                for item in out
                    .responses()
                    .into_iter()
                    .flat_map(|r| r.values())
                    .flatten()
                {
                    found.insert(self.layout.item_key(item), item.clone());
                }
                pending = out.unprocessed_keys().cloned().unwrap_or_default();
            }
        }
        found
    }

    fn image(&self, key: &ItemKey) -> Option<Item> {
        self.images(std::slice::from_ref(key)).remove(key)
    }

    fn pending(
        &self,
        input: &aws_smithy_runtime_api::client::interceptors::context::Input,
    ) -> Pending {
        let layout = &self.layout;
        let debug = format!("{input:?}");
        let op = debug
            .split([' ', '{', '(', ':'])
            .find_map(|w| w.strip_suffix("Input").filter(|n| !n.is_empty()))
            .unwrap_or("unknown")
            .to_owned();
        let mut pending = Pending {
            op,
            transactional: false,
            writes: Vec::new(),
            read: None,
        };
        let write = |key: ItemKey, kind| (key, kind, None);
        if let Some(i) = input.downcast_ref::<GetItemInput>() {
            pending.read = Some(ReadRequest::Get {
                consistent: i.consistent_read() == Some(true),
                projected: i.projection_expression().is_some(),
                key: layout.item_key(i.key().unwrap()),
            });
        } else if let Some(i) = input.downcast_ref::<BatchGetItemInput>() {
            let request = &i.request_items().unwrap()[&layout.table];
            pending.read = Some(ReadRequest::Batch {
                consistent: request.consistent_read() == Some(true),
                keys: request.keys().iter().map(|k| layout.item_key(k)).collect(),
            });
        } else if let Some(i) = input.downcast_ref::<TransactGetItemsInput>() {
            pending.read = Some(ReadRequest::Transact {
                keys: i
                    .transact_items()
                    .iter()
                    .filter_map(|t| t.get())
                    .map(|g| layout.item_key(g.key()))
                    .collect(),
            });
        } else if let Some(i) = input.downcast_ref::<QueryInput>() {
            pending.read = Some(ReadRequest::Query {
                consistent: i.consistent_read() == Some(true),
                projected: i.projection_expression().is_some(),
                index: i.index_name().map(str::to_owned),
            });
        } else if let Some(i) = input.downcast_ref::<PutItemInput>() {
            pending
                .writes
                .push(write(layout.item_key(i.item().unwrap()), WriteKind::Write));
        } else if let Some(i) = input.downcast_ref::<UpdateItemInput>() {
            pending
                .writes
                .push(write(layout.item_key(i.key().unwrap()), WriteKind::Write));
        } else if let Some(i) = input.downcast_ref::<DeleteItemInput>() {
            pending
                .writes
                .push(write(layout.item_key(i.key().unwrap()), WriteKind::Write));
        } else if let Some(i) = input.downcast_ref::<BatchWriteItemInput>() {
            for request in i.request_items().unwrap().values().flatten() {
                let key = match (request.put_request(), request.delete_request()) {
                    (Some(put), _) => layout.item_key(put.item()),
                    (_, Some(delete)) => layout.item_key(delete.key()),
                    _ => continue,
                };
                pending.writes.push(write(key, WriteKind::Write));
            }
        } else if let Some(i) = input.downcast_ref::<TransactWriteItemsInput>() {
            pending.transactional = true;
            for t in i.transact_items() {
                let (key, kind) = if let Some(put) = t.put() {
                    (layout.item_key(put.item()), WriteKind::Write)
                } else if let Some(update) = t.update() {
                    (layout.item_key(update.key()), WriteKind::Write)
                } else if let Some(delete) = t.delete() {
                    (layout.item_key(delete.key()), WriteKind::Write)
                } else if let Some(check) = t.condition_check() {
                    (layout.item_key(check.key()), WriteKind::Check)
                } else {
                    continue;
                };
                pending.writes.push(write(key, kind));
            }
        }
        if !pending.writes.is_empty() {
            let keys: Vec<ItemKey> = pending.writes.iter().map(|w| w.0.clone()).collect();
            let old = self.images(&keys);
            for w in &mut pending.writes {
                w.2 = old.get(&w.0).cloned();
            }
        }
        pending
    }

    fn read_units(
        &self,
        read: &ReadRequest,
        output: Option<&aws_smithy_runtime_api::client::interceptors::context::Output>,
    ) -> f64 {
        let full = |key: &ItemKey| self.image(key).map_or(0, |i| item_size(&i));
        match read {
            ReadRequest::Get {
                consistent,
                projected,
                key,
            } => {
                let size = if *projected {
                    full(key)
                } else {
                    output
                        .and_then(|o| o.downcast_ref::<GetItemOutput>())
                        .and_then(GetItemOutput::item)
                        .map_or(0, item_size)
                };
                units(size, READ_UNIT) * consistency(*consistent)
            }
            ReadRequest::Batch { consistent, keys } => {
                let out = output.and_then(|o| o.downcast_ref::<BatchGetItemOutput>());
                let found: HashMap<ItemKey, usize> = out
                    .and_then(BatchGetItemOutput::responses)
                    .into_iter()
                    .flat_map(|r| r.values())
                    .flatten()
                    .map(|item| {
                        let key = self.layout.item_key(item);
                        let size = full(&key);
                        (key, size)
                    })
                    .collect();
                let unprocessed: BTreeSet<ItemKey> = out
                    .and_then(BatchGetItemOutput::unprocessed_keys)
                    .into_iter()
                    .flat_map(|r| r.values())
                    .flat_map(|k| k.keys())
                    .map(|k| self.layout.item_key(k))
                    .collect();
                keys.iter()
                    .filter(|k| !unprocessed.contains(*k))
                    .map(|k| units(found.get(k).copied().unwrap_or(0), READ_UNIT))
                    .sum::<f64>()
                    * consistency(*consistent)
            }
            ReadRequest::Transact { keys } => {
                let out = output.and_then(|o| o.downcast_ref::<TransactGetItemsOutput>());
                let responses = out
                    .map(TransactGetItemsOutput::responses)
                    .unwrap_or_default();
                (0..keys.len())
                    .map(|n| {
                        let size = responses
                            .get(n)
                            .and_then(|r| r.item())
                            .map_or(0, |i| full(&self.layout.item_key(i)));
                        units(size, READ_UNIT) * 2.0
                    })
                    .sum()
            }
            ReadRequest::Query {
                consistent,
                projected,
                index,
            } => {
                let items = output
                    .and_then(|o| o.downcast_ref::<QueryOutput>())
                    .map(QueryOutput::items)
                    .unwrap_or_default();
                let index = index.as_ref().map(|name| {
                    self.layout
                        .indexes
                        .iter()
                        .find(|i| &i.name == name)
                        .unwrap()
                });
                let size: usize = items
                    .iter()
                    .map(|item| {
                        if !*projected {
                            return item_size(item);
                        }
                        let image = self.image(&self.layout.item_key(item)).unwrap_or_default();
                        match index {
                            Some(index) => self
                                .layout
                                .entry(index, &image)
                                .map_or(item_size(item), |e| item_size(&e)),
                            None => item_size(&image),
                        }
                    })
                    .sum();
                units(size, READ_UNIT) * consistency(*consistent)
            }
        }
    }

    fn settle(
        &self,
        pending: &Pending,
        output: Option<&aws_smithy_runtime_api::client::interceptors::context::Output>,
    ) -> Cost {
        let mut cost = Cost::default();
        cost.requests.insert(pending.op.clone(), 1);
        if let Some(read) = &pending.read {
            cost.read_units = self.read_units(read, output);
        }
        if pending.writes.is_empty() {
            return cost;
        }
        let unprocessed: BTreeSet<ItemKey> = output
            .and_then(|o| o.downcast_ref::<BatchWriteItemOutput>())
            .and_then(BatchWriteItemOutput::unprocessed_items)
            .into_iter()
            .flat_map(|r| r.values())
            .flatten()
            .filter_map(|w| match (w.put_request(), w.delete_request()) {
                (Some(p), _) => Some(self.layout.item_key(p.item())),
                (_, Some(d)) => Some(self.layout.item_key(d.key())),
                _ => None,
            })
            .collect();
        let keys: Vec<ItemKey> = pending.writes.iter().map(|w| w.0.clone()).collect();
        let new = self.images(&keys);
        let factor = if pending.transactional { 2.0 } else { 1.0 };
        for (key, kind, old) in &pending.writes {
            if unprocessed.contains(key) {
                continue;
            }
            let after = new.get(key);
            let size = old
                .as_ref()
                .map_or(0, item_size)
                .max(after.map_or(0, item_size));
            let table_units = units(size, WRITE_UNIT) * factor;
            cost.table_write_units += table_units;
            let mut index_units = 0.0;
            if *kind == WriteKind::Write {
                cost.written.insert(key.clone());
                index_units = self.layout.index_writes(old.as_ref(), after);
                cost.index_write_units += index_units;
            }
            if std::env::var_os("SCIM_COST_TRACE").is_some() {
                eprintln!(
                    "cost: {} {:?} {}|{} {kind:?} {size} B: {table_units} + index {index_units}",
                    pending.op, key.0, key.1, factor
                );
            }
        }
        cost
    }
}

impl Intercept for CostMeter {
    fn name(&self) -> &'static str {
        "CostMeter"
    }

    fn read_before_execution(
        &self,
        context: &BeforeSerializationInterceptorContextRef<'_>,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let pending = self.pending(context.input());
        cfg.interceptor_state().store_put(pending);
        Ok(())
    }

    fn read_after_execution(
        &self,
        context: &FinalizerInterceptorContextRef<'_>,
        _rc: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let Some(pending) = cfg.load::<Pending>() else {
            return Ok(());
        };
        let output = context.output_or_error().and_then(Result::ok);
        let cost = self.settle(pending, output);
        self.cost.lock().unwrap().add(cost);
        Ok(())
    }
}

/// The table's layout as DynamoDB describes it (keys, indexes, projections).
async fn describe(client: &Client, table: &str) -> Layout {
    let described = client
        .describe_table()
        .table_name(table)
        .send()
        .await
        .expect("describe the test table");
    let t = described.table().unwrap();
    let key_names = |schema: &[aws_sdk_dynamodb::types::KeySchemaElement]| {
        let mut names = schema.to_vec();
        names.sort_by_key(|k| k.key_type().as_str() != "HASH");
        [
            names[0].attribute_name().to_owned(),
            names[1].attribute_name().to_owned(),
        ]
    };
    let indexes = t
        .global_secondary_indexes()
        .iter()
        .map(|g| {
            let projection = g.projection().unwrap();
            Index {
                name: g.index_name().unwrap().to_owned(),
                keys: key_names(g.key_schema()),
                projected: match projection.projection_type() {
                    Some(ProjectionType::All) => None,
                    _ => Some(projection.non_key_attributes().iter().cloned().collect()),
                },
            }
        })
        .collect();
    Layout {
        table: table.to_owned(),
        key: key_names(t.key_schema()),
        indexes,
    }
}

/// A DynamoDB Local store whose requests are priced by a [`CostMeter`].
pub async fn metered_dynamo_store() -> Option<(DynamoStore, CostMeter)> {
    let config = super::aws_config("AWS_ENDPOINT_URL_DYNAMODB").await?;
    let probe = Client::new(&config);
    create_table(&probe, super::TEST_TABLE)
        .await
        .expect("create the test table on DynamoDB Local");
    let meter = CostMeter {
        layout: Arc::new(describe(&probe, super::TEST_TABLE).await),
        probe,
        cost: Arc::default(),
    };
    let client = Client::from_conf(
        aws_sdk_dynamodb::config::Builder::from(&config)
            .interceptor(meter.clone())
            .build(),
    );
    Some((DynamoStore::new(client, super::TEST_TABLE), meter))
}
