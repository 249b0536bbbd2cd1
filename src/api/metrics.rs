//! Per-request metrics in CloudWatch Embedded Metric Format (EMF): the
//! request log line carries an `_aws` block naming some of its own fields
//! as metrics, so CloudWatch extracts them from the logs with no API call.
//!
//! Dimensions are the route family (a handful of values) and the status
//! class (`2xx` ... `5xx`); never the tenant or a resource id, whose
//! cardinality is unbounded (each distinct combination is a billed custom
//! metric). Per-tenant views come from Logs Insights on the same lines.

use std::sync::OnceLock;

use serde_json::json;

/// Namespace when `SCIM_METRICS_NAMESPACE` is not set (template.yaml sets
/// `SCIM/<stack name>`).
const DEFAULT_NAMESPACE: &str = "SCIM";

/// The metric fields of one request's log line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMetrics {
    /// `2xx`, `3xx`, `4xx` or `5xx`.
    pub status_class: &'static str,
    /// 1 for a 4xx answer, else 0 (summed: the 4xx count).
    pub errors_4xx: u8,
    /// 1 for a 5xx answer, else 0.
    pub errors_5xx: u8,
}

impl RequestMetrics {
    pub fn of(status: u16) -> RequestMetrics {
        RequestMetrics {
            status_class: match status {
                500.. => "5xx",
                400..=499 => "4xx",
                300..=399 => "3xx",
                _ => "2xx",
            },
            errors_4xx: u8::from((400..500).contains(&status)),
            errors_5xx: u8::from(status >= 500),
        }
    }

    /// The `_aws` metadata (as JSON text; the JSON log writer embeds it as
    /// an object): `requests`, `errors_4xx`, `errors_5xx` (Count) and
    /// `latency_ms` (Milliseconds), by `route` and by `route` and
    /// `status_class`.
    pub fn emf_metadata(&self, timestamp_ms: u128) -> String {
        json!({
            "Timestamp": timestamp_ms as u64,
            "CloudWatchMetrics": [{
                "Namespace": namespace(),
                "Dimensions": [["route"], ["route", "status_class"]],
                "Metrics": [
                    {"Name": "requests", "Unit": "Count"},
                    {"Name": "errors_4xx", "Unit": "Count"},
                    {"Name": "errors_5xx", "Unit": "Count"},
                    {"Name": "latency_ms", "Unit": "Milliseconds"},
                ],
            }],
        })
        .to_string()
    }
}

/// The `_aws` metadata of the line logged when a tenant's breaker trips:
/// `breaker_trips` (Count), without dimensions (the line names the tenant
/// for Logs Insights; the alarm needs only the sum).
pub fn breaker_trip_metadata(timestamp_ms: u128) -> String {
    json!({
        "Timestamp": timestamp_ms as u64,
        "CloudWatchMetrics": [{
            "Namespace": namespace(),
            "Dimensions": [[]],
            "Metrics": [{"Name": "breaker_trips", "Unit": "Count"}],
        }],
    })
    .to_string()
}

fn namespace() -> &'static str {
    static NAMESPACE: OnceLock<String> = OnceLock::new();
    NAMESPACE.get_or_init(|| {
        std::env::var("SCIM_METRICS_NAMESPACE")
            .ok()
            .filter(|n| !n.is_empty())
            .unwrap_or_else(|| DEFAULT_NAMESPACE.to_owned())
    })
}

/// Milliseconds since the Unix epoch, for the EMF `Timestamp`.
pub fn now_ms() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn status_classes_and_error_counts() {
        for (status, class, e4, e5) in [
            (200, "2xx", 0, 0),
            (204, "2xx", 0, 0),
            (304, "3xx", 0, 0),
            (400, "4xx", 1, 0),
            (499, "4xx", 1, 0),
            (500, "5xx", 0, 1),
            (503, "5xx", 0, 1),
        ] {
            assert_eq!(
                RequestMetrics::of(status),
                RequestMetrics {
                    status_class: class,
                    errors_4xx: e4,
                    errors_5xx: e5
                },
                "{status}"
            );
        }
    }

    #[test]
    fn metadata_names_the_line_fields_and_bounded_dimensions() {
        let metadata: serde_json::Value =
            serde_json::from_str(&RequestMetrics::of(200).emf_metadata(1_700_000_000_000)).unwrap();
        assert_eq!(metadata["Timestamp"], 1_700_000_000_000u64);
        let directive = &metadata["CloudWatchMetrics"][0];
        assert_eq!(
            directive["Dimensions"],
            json!([["route"], ["route", "status_class"]])
        );
        let names: Vec<&str> = directive["Metrics"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["Name"].as_str().unwrap())
            .collect();
        assert_eq!(
            names,
            ["requests", "errors_4xx", "errors_5xx", "latency_ms"]
        );
    }
}
