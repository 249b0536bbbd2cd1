//! `/Bulk` (RFC 7644 §3.7), the protocol part: a BulkRequest parsed and
//! checked against the limits before anything runs, the order operations
//! run in so that every `bulkId` is created before it is used (whatever
//! order the client sent), `bulkId:` references replaced by the ids they
//! stand for, and the BulkResponse. Running an operation is the caller's:
//! each goes through exactly the code of the single request it stands for.

use std::cmp::Reverse;
use std::collections::{BTreeSet, BinaryHeap, HashMap};

use serde_json::{Map, Value, json};

use super::error::{ScimError, ScimType};

pub const BULK_REQUEST_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkRequest";
pub const BULK_RESPONSE_URN: &str = "urn:ietf:params:scim:api:messages:2.0:BulkResponse";

/// Most operations one BulkRequest may hold (`maxOperations`): each is one
/// single request's work, and the whole must end well inside API
/// Gateway's 30 s in one Lambda invocation.
pub const MAX_OPERATIONS: usize = 500;
/// Largest BulkRequest body (`maxPayloadSize`).
pub const MAX_PAYLOAD_BYTES: usize = 1024 * 1024;
/// Longest `bulkId`.
const MAX_BULK_ID_CHARS: usize = 128;

const PREFIX: &str = "bulkId:";

/// The method of one operation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BulkMethod {
    Post,
    Put,
    Patch,
    Delete,
}

impl BulkMethod {
    fn parse(text: &str) -> Option<BulkMethod> {
        Some(match text.to_ascii_uppercase().as_str() {
            "POST" => BulkMethod::Post,
            "PUT" => BulkMethod::Put,
            "PATCH" => BulkMethod::Patch,
            "DELETE" => BulkMethod::Delete,
            _ => return None,
        })
    }

    pub fn as_str(self) -> &'static str {
        match self {
            BulkMethod::Post => "POST",
            BulkMethod::Put => "PUT",
            BulkMethod::Patch => "PATCH",
            BulkMethod::Delete => "DELETE",
        }
    }
}

/// One operation as the client sent it.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkOperation {
    pub method: BulkMethod,
    pub bulk_id: Option<String>,
    /// An ETag: the operation's `If-Match`.
    pub version: Option<String>,
    /// `/Users`, `/Groups/{id}`, ... below the Tenant URL.
    pub path: String,
    pub data: Option<Value>,
}

/// A parsed BulkRequest.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkRequest {
    /// Stop after this many errors (`failOnErrors`); none: run every one.
    pub fail_on_errors: Option<usize>,
    pub operations: Vec<BulkOperation>,
}

fn invalid(detail: impl Into<String>) -> ScimError {
    ScimError::bad_request(ScimType::InvalidSyntax, detail)
}

/// `413` with a SCIM body: a request over a limit, refused before any
/// operation runs.
pub fn too_large(detail: impl Into<String>) -> ScimError {
    ScimError::new(413, None, detail)
}

impl BulkRequest {
    /// Parses and checks a BulkRequest body (its size was checked before).
    pub fn parse(body: &[u8]) -> Result<BulkRequest, ScimError> {
        let doc: Value = serde_json::from_slice(body)
            .map_err(|_| invalid("the request body is not valid JSON"))?;
        let doc = doc
            .as_object()
            .ok_or_else(|| invalid("a BulkRequest is a JSON object"))?;
        let declared = doc
            .get("schemas")
            .and_then(Value::as_array)
            .is_some_and(|s| s.iter().any(|u| u == BULK_REQUEST_URN));
        if !declared {
            return Err(invalid(format!("schemas must include {BULK_REQUEST_URN}")));
        }
        let fail_on_errors = match doc.get("failOnErrors") {
            None | Some(Value::Null) => None,
            Some(v) => Some(
                v.as_u64()
                    .filter(|n| *n >= 1)
                    .and_then(|n| usize::try_from(n).ok())
                    .ok_or_else(|| {
                        ScimError::bad_request(
                            ScimType::InvalidValue,
                            "failOnErrors must be a whole number of at least 1",
                        )
                    })?,
            ),
        };
        let ops = doc
            .get("Operations")
            .and_then(Value::as_array)
            .ok_or_else(|| invalid("a BulkRequest has an Operations array"))?;
        if ops.len() > MAX_OPERATIONS {
            return Err(too_large(format!(
                "a BulkRequest holds at most {MAX_OPERATIONS} operations (maxOperations), this one {}",
                ops.len()
            )));
        }
        let mut seen = BTreeSet::new();
        let mut operations = Vec::with_capacity(ops.len());
        for (i, op) in ops.iter().enumerate() {
            let op = parse_operation(op).map_err(|e| ScimError {
                detail: format!("Operations[{i}]: {}", e.detail),
                ..e
            })?;
            if let Some(id) = &op.bulk_id
                && !seen.insert(id.clone())
            {
                return Err(ScimError::bad_request(
                    ScimType::InvalidValue,
                    format!("Operations[{i}]: bulkId {id} is used twice"),
                ));
            }
            operations.push(op);
        }
        Ok(BulkRequest {
            fail_on_errors,
            operations,
        })
    }
}

fn parse_operation(op: &Value) -> Result<BulkOperation, ScimError> {
    let op = op
        .as_object()
        .ok_or_else(|| invalid("an operation is a JSON object"))?;
    let text = |name: &str| -> Result<Option<String>, ScimError> {
        match op.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(invalid(format!("{name} must be a string"))),
        }
    };
    let method = text("method")?
        .as_deref()
        .and_then(BulkMethod::parse)
        .ok_or_else(|| invalid("method must be POST, PUT, PATCH or DELETE"))?;
    let path = text("path")?.ok_or_else(|| invalid("path is required"))?;
    let bulk_id = text("bulkId")?;
    if let Some(id) = &bulk_id
        && (id.is_empty()
            || id.chars().count() > MAX_BULK_ID_CHARS
            || id.chars().any(char::is_control))
    {
        return Err(ScimError::bad_request(
            ScimType::InvalidValue,
            format!("bulkId must be 1-{MAX_BULK_ID_CHARS} characters without control characters"),
        ));
    }
    let (collection, id) = match path.trim_start_matches('/').split_once('/') {
        Some((c, id)) => (c, Some(id)),
        None => (path.trim_start_matches('/'), None),
    };
    let known =
        collection.eq_ignore_ascii_case("Users") || collection.eq_ignore_ascii_case("Groups");
    let shaped = match method {
        BulkMethod::Post => id.is_none(),
        _ => id.is_some_and(|id| !id.is_empty() && !id.contains('/')),
    };
    if !path.starts_with('/') || !known || !shaped {
        return Err(ScimError::bad_request(
            ScimType::InvalidPath,
            match method {
                BulkMethod::Post => "a POST's path is /Users or /Groups",
                _ => "the path of a PUT, PATCH or DELETE is /Users/{id} or /Groups/{id}",
            },
        ));
    }
    if method == BulkMethod::Post && bulk_id.is_none() {
        return Err(invalid("a POST operation needs a bulkId (RFC 7644 §3.7)"));
    }
    let data = op.get("data").filter(|d| !d.is_null()).cloned();
    if method != BulkMethod::Delete && !data.as_ref().is_some_and(Value::is_object) {
        return Err(invalid(format!(
            "a {} operation needs its data as an object",
            method.as_str()
        )));
    }
    Ok(BulkOperation {
        method,
        bulk_id,
        version: text("version")?,
        path,
        data,
    })
}

/// The `bulkId`s an operation refers to, in its path or anywhere in its
/// data (`members[].value`, `manager.value`, a PATCH value).
fn references(op: &BulkOperation) -> BTreeSet<String> {
    fn walk(v: &Value, out: &mut BTreeSet<String>) {
        match v {
            Value::String(s) => {
                if let Some(id) = s.strip_prefix(PREFIX) {
                    out.insert(id.to_owned());
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(v, out)),
            Value::Object(o) => o.values().for_each(|v| walk(v, out)),
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    for segment in op.path.split('/') {
        if let Some(id) = segment.strip_prefix(PREFIX) {
            out.insert(id.to_owned());
        }
    }
    if let Some(d) = &op.data {
        walk(d, &mut out);
    }
    out
}

/// One step of a bulk run, in the order steps run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// Run operation `index` (its references are defined by steps before).
    Run(usize),
    /// Operation `index` cannot run: it names a bulkId no POST of the
    /// request defines, or is part of a circle of references.
    Unresolvable(usize, String),
}

/// The order to run `ops` in: an operation after every POST whose bulkId
/// it names, otherwise in the order sent. Linear in the operations and
/// their references.
pub fn plan(ops: &[BulkOperation]) -> Vec<Step> {
    let defined: HashMap<&str, usize> = ops
        .iter()
        .enumerate()
        .filter(|(_, op)| op.method == BulkMethod::Post)
        .filter_map(|(i, op)| Some((op.bulk_id.as_deref()?, i)))
        .collect();
    let mut steps = Vec::with_capacity(ops.len());
    let mut waiting_on = vec![0usize; ops.len()];
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); ops.len()];
    let mut unknown = vec![None; ops.len()];
    for (i, op) in ops.iter().enumerate() {
        for id in references(op) {
            match defined.get(id.as_str()) {
                Some(&j) if j == i => {
                    unknown[i] = Some(format!("operation refers to its own bulkId {id}"));
                }
                Some(&j) => {
                    waiting_on[i] += 1;
                    dependents[j].push(i);
                }
                None => {
                    unknown[i] = Some(format!(
                        "bulkId {id} is not defined by a POST of this request"
                    ))
                }
            }
        }
    }
    let mut ready: BinaryHeap<Reverse<usize>> = (0..ops.len())
        .filter(|i| waiting_on[*i] == 0)
        .map(Reverse)
        .collect();
    let mut done = vec![false; ops.len()];
    while let Some(Reverse(i)) = ready.pop() {
        done[i] = true;
        steps.push(match unknown[i].take() {
            Some(why) => Step::Unresolvable(i, why),
            None => Step::Run(i),
        });
        for &d in &dependents[i] {
            waiting_on[d] -= 1;
            if waiting_on[d] == 0 {
                ready.push(Reverse(d));
            }
        }
    }
    for (i, finished) in done.iter().enumerate() {
        if !finished {
            steps.push(Step::Unresolvable(
                i,
                "the operation is part of a circle of bulkId references".to_owned(),
            ));
        }
    }
    steps
}

/// `value` with every `bulkId:X` string (and path segment) replaced by the
/// id X was created with; `Err(X)` for one that was not created (its POST
/// failed).
pub fn resolve(value: &Value, created: &HashMap<String, String>) -> Result<Value, String> {
    Ok(match value {
        Value::String(s) => match s.strip_prefix(PREFIX) {
            Some(id) => Value::String(created.get(id).cloned().ok_or_else(|| id.to_owned())?),
            None => value.clone(),
        },
        Value::Array(a) => Value::Array(
            a.iter()
                .map(|v| resolve(v, created))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(o) => Value::Object(
            o.iter()
                .map(|(k, v)| Ok((k.clone(), resolve(v, created)?)))
                .collect::<Result<Map<_, _>, String>>()?,
        ),
        other => other.clone(),
    })
}

/// A path with its `bulkId:X` segments replaced.
pub fn resolve_path(path: &str, created: &HashMap<String, String>) -> Result<String, String> {
    path.split('/')
        .map(|segment| match segment.strip_prefix(PREFIX) {
            Some(id) => created.get(id).cloned().ok_or_else(|| id.to_owned()),
            None => Ok(segment.to_owned()),
        })
        .collect::<Result<Vec<_>, _>>()
        .map(|segments| segments.join("/"))
}

/// What one operation came to.
#[derive(Debug, Clone, PartialEq)]
pub struct BulkResult {
    pub method: BulkMethod,
    pub bulk_id: Option<String>,
    pub version: Option<String>,
    pub location: Option<String>,
    pub status: u16,
    /// The SCIM error of a failed operation.
    pub error: Option<Value>,
}

impl BulkResult {
    /// A result for an operation refused before it ran.
    pub fn refused(op: &BulkOperation, error: &ScimError) -> BulkResult {
        BulkResult {
            method: op.method,
            bulk_id: op.bulk_id.clone(),
            version: None,
            location: None,
            status: error.status,
            error: Some(error.to_json()),
        }
    }

    fn json(&self) -> Value {
        let mut out = json!({"method": self.method.as_str(), "status": self.status.to_string()});
        if let Some(id) = &self.bulk_id {
            out["bulkId"] = json!(id);
        }
        if let Some(v) = &self.version {
            out["version"] = json!(v);
        }
        if let Some(l) = &self.location {
            out["location"] = json!(l);
        }
        if let Some(e) = &self.error {
            out["response"] = e.clone();
        }
        out
    }
}

/// The BulkResponse: the operations that ran (or were refused), in the
/// order the client sent them.
pub fn response(results: &[(usize, BulkResult)]) -> Value {
    let mut ordered: Vec<&(usize, BulkResult)> = results.iter().collect();
    ordered.sort_by_key(|(i, _)| *i);
    json!({
        "schemas": [BULK_RESPONSE_URN],
        "Operations": ordered.iter().map(|(_, r)| r.json()).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn op(method: BulkMethod, bulk_id: Option<&str>, path: &str, data: Value) -> BulkOperation {
        BulkOperation {
            method,
            bulk_id: bulk_id.map(str::to_owned),
            version: None,
            path: path.to_owned(),
            data: Some(data),
        }
    }

    fn request(ops: Value) -> Result<BulkRequest, ScimError> {
        BulkRequest::parse(
            json!({"schemas": [BULK_REQUEST_URN], "Operations": ops})
                .to_string()
                .as_bytes(),
        )
    }

    #[test]
    fn requests_are_checked_before_anything_runs() {
        let ok = request(json!([
            {"method": "post", "bulkId": "a", "path": "/Users", "data": {"userName": "a"}},
            {"method": "DELETE", "path": "/Groups/g1", "version": "W/\"3\""},
        ]))
        .unwrap();
        assert_eq!(ok.operations[0].method, BulkMethod::Post);
        assert_eq!(ok.operations[1].version.as_deref(), Some("W/\"3\""));
        for (ops, scim_type) in [
            (
                json!([{"method": "GET", "path": "/Users"}]),
                ScimType::InvalidSyntax,
            ),
            (
                json!([{"method": "POST", "path": "/Users", "data": {}}]),
                ScimType::InvalidSyntax,
            ),
            (
                json!([{"method": "POST", "bulkId": "a", "path": "/Users/x", "data": {}}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"method": "PATCH", "path": "/Users", "data": {}}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"method": "PUT", "path": "/Bulk/x", "data": {}}]),
                ScimType::InvalidPath,
            ),
            (
                json!([{"method": "PUT", "path": "/Users/x"}]),
                ScimType::InvalidSyntax,
            ),
            (
                json!([
                    {"method": "POST", "bulkId": "a", "path": "/Users", "data": {}},
                    {"method": "POST", "bulkId": "a", "path": "/Groups", "data": {}},
                ]),
                ScimType::InvalidValue,
            ),
        ] {
            let err = request(ops.clone()).unwrap_err();
            assert_eq!((err.status, err.scim_type), (400, Some(scim_type)), "{ops}");
        }
        let too_many: Vec<Value> = (0..=MAX_OPERATIONS)
            .map(|i| json!({"method": "DELETE", "path": format!("/Users/{i}")}))
            .collect();
        assert_eq!(request(Value::Array(too_many)).unwrap_err().status, 413);
        let no_schema = BulkRequest::parse(br#"{"Operations": []}"#).unwrap_err();
        assert_eq!(no_schema.status, 400);
    }

    #[test]
    fn operations_run_after_the_posts_they_refer_to_whatever_the_order() {
        let ops = [
            op(
                BulkMethod::Post,
                Some("g"),
                "/Groups",
                json!({"members": [{"value": "bulkId:u1"}, {"value": "bulkId:u2"}]}),
            ),
            op(
                BulkMethod::Post,
                Some("u2"),
                "/Users",
                json!({"manager": {"value": "bulkId:u1"}}),
            ),
            op(
                BulkMethod::Patch,
                None,
                "/Users/bulkId:u1",
                json!({"Operations": []}),
            ),
            op(
                BulkMethod::Post,
                Some("u1"),
                "/Users",
                json!({"userName": "x"}),
            ),
            op(
                BulkMethod::Post,
                Some("c1"),
                "/Groups",
                json!({"members": [{"value": "bulkId:c2"}]}),
            ),
            op(
                BulkMethod::Post,
                Some("c2"),
                "/Groups",
                json!({"members": [{"value": "bulkId:c1"}]}),
            ),
            op(BulkMethod::Delete, None, "/Users/bulkId:nobody", json!({})),
        ];
        let steps = plan(&ops);
        let ran: Vec<usize> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Run(i) => Some(*i),
                Step::Unresolvable(..) => None,
            })
            .collect();
        assert_eq!(ran, [3, 1, 0, 2]);
        let refused: Vec<usize> = steps
            .iter()
            .filter_map(|s| match s {
                Step::Unresolvable(i, _) => Some(*i),
                Step::Run(_) => None,
            })
            .collect();
        assert_eq!(
            refused,
            [6, 4, 5],
            "unknown first (ready at once), then the circle"
        );
    }

    #[test]
    fn references_are_replaced_by_the_ids_created() {
        let created = HashMap::from([("u1".to_owned(), "id-1".to_owned())]);
        let data = json!({"members": [{"value": "bulkId:u1", "display": "see bulkId:u1"}], "n": 1});
        assert_eq!(
            resolve(&data, &created).unwrap(),
            json!({"members": [{"value": "id-1", "display": "see bulkId:u1"}], "n": 1})
        );
        assert_eq!(
            resolve_path("/Users/bulkId:u1", &created).unwrap(),
            "/Users/id-1"
        );
        assert_eq!(resolve(&json!(["bulkId:u9"]), &created).unwrap_err(), "u9");
    }

    #[test]
    fn the_response_lists_results_in_request_order_with_string_statuses() {
        let r = |status: u16| BulkResult {
            method: BulkMethod::Post,
            bulk_id: Some(format!("b{status}")),
            version: Some("W/\"1\"".into()),
            location: Some("https://x/Users/1".into()),
            status,
            error: None,
        };
        let doc = response(&[(1, r(409)), (0, r(201))]);
        assert_eq!(doc["schemas"][0], BULK_RESPONSE_URN);
        assert_eq!(doc["Operations"][0]["status"], "201");
        assert_eq!(doc["Operations"][1]["bulkId"], "b409");
    }
}
