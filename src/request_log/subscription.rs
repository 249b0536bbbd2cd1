//! The `recorder` function's input: a CloudWatch Logs subscription batch
//! (the functions' log lines matching `{ $.type = "scim.request" }`), read
//! back into request records.

use aws_lambda_events::event::cloudwatch_logs::LogsEvent;

use super::record::RequestRecord;
use crate::tenant::TenantId;

/// The records a subscription batch carries. CloudWatch's test message
/// (`CONTROL_MESSAGE`) and any line that is not a record of a valid tenant
/// are skipped: they were not written by the front door.
pub fn records_of(event: &LogsEvent) -> Vec<RequestRecord> {
    let data = &event.aws_logs.data;
    if data.message_type != "DATA_MESSAGE" {
        return Vec::new();
    }
    data.log_events
        .iter()
        .filter_map(|entry| RequestRecord::from_line(&entry.message))
        .filter(|record| TenantId::parse(&record.tenant).is_ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use base64::Engine;
    use serde_json::json;

    use super::*;

    /// A subscription event as CloudWatch Logs sends it: the batch as
    /// JSON, gzipped, base64-encoded.
    fn subscription_event(message_type: &str, messages: &[String]) -> LogsEvent {
        let events: Vec<_> = messages
            .iter()
            .enumerate()
            .map(|(i, m)| json!({"id": i.to_string(), "timestamp": 1_795_348_813_000_i64, "message": m}))
            .collect();
        let batch = json!({
            "messageType": message_type, "owner": "123456789012",
            "logGroup": "/aws/lambda/scim-users", "logStream": "2026/12/07/[$LATEST]abc",
            "subscriptionFilters": ["scim-requests"], "logEvents": events,
        });
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(batch.to_string().as_bytes()).unwrap();
        let data = base64::engine::general_purpose::STANDARD.encode(gz.finish().unwrap());
        // From text, as the runtime reads it: the crate's decoder borrows.
        serde_json::from_str(&json!({"awslogs": {"data": data}}).to_string()).unwrap()
    }

    fn record(tenant: &str) -> RequestRecord {
        RequestRecord {
            time: "2026-12-07T10:00:00.000Z".into(),
            tenant: tenant.into(),
            request_id: "r1".into(),
            token_id: Some("tok_1".into()),
            user_agent: None,
            method: "POST".into(),
            path: "/scim/v2/acme/Users".into(),
            query: None,
            status: 201,
            scim_type: None,
            detail: None,
            duration_ms: 12,
            action: "user.created".into(),
            resource_type: Some("User".into()),
            resource_id: Some("u1".into()),
            target: None,
            change: None,
            matched: None,
        }
    }

    #[test]
    fn records_come_back_from_their_lines_and_nothing_else_does() {
        let acme = record("acme");
        let lines = vec![
            acme.to_line(),
            format!("{}\n", record("globex").to_line()),
            r#"{"level":"INFO","message":"request","tenant":"acme"}"#.to_owned(),
            "not json at all".to_owned(),
            record("Not#A#Tenant").to_line(),
        ];
        let records = records_of(&subscription_event("DATA_MESSAGE", &lines));
        assert_eq!(records, vec![acme, record("globex")]);
    }

    #[test]
    fn the_control_message_carries_no_records() {
        let lines = vec![record("acme").to_line()];
        assert!(records_of(&subscription_event("CONTROL_MESSAGE", &lines)).is_empty());
    }
}
