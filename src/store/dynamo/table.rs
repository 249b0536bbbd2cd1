//! The table's key schema, one definition for `template.yaml` (a test keeps
//! them equal), table creation for the local server, operators and tests.

use std::time::Duration;

use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::types::{
    AttributeDefinition, BillingMode, GlobalSecondaryIndex, KeySchemaElement, KeyType, Projection,
    ProjectionType, ScalarAttributeType, StreamSpecification, StreamViewType, TableStatus,
    TimeToLiveSpecification,
};

use crate::store::StoreError;

/// A key of the table or of an index: (partition key, sort key).
pub type KeyPair = (&'static str, &'static str);

/// The table's primary key.
pub const TABLE_KEY: KeyPair = ("pk", "sk");

/// Global secondary indexes, all projecting every attribute: `gsi1` lists a
/// tenant's resources of one type; `gsi2` and `gsi3` are reserved overloaded
/// lookup indexes (secondary ids; reverse relations) used by the Users and
/// Groups endpoints.
pub const INDEXES: [(&str, KeyPair); 3] = [
    ("gsi1", ("gsi1pk", "gsi1sk")),
    ("gsi2", ("gsi2pk", "gsi2sk")),
    ("gsi3", ("gsi3pk", "gsi3sk")),
];

/// The attribute DynamoDB's TTL reads (epoch seconds): membership
/// tombstones expire by it.
pub const TTL_ATTRIBUTE: &str = "ttl";

/// The table's stream: old and new images, what the `events` function
/// derives events from.
pub const STREAM_VIEW: &str = "NEW_AND_OLD_IMAGES";

fn key_schema((hash, range): KeyPair) -> Result<Vec<KeySchemaElement>, StoreError> {
    let element = |name: &str, ty| {
        KeySchemaElement::builder()
            .attribute_name(name)
            .key_type(ty)
            .build()
            .map_err(|e| StoreError::Unavailable(e.to_string()))
    };
    Ok(vec![
        element(hash, KeyType::Hash)?,
        element(range, KeyType::Range)?,
    ])
}

/// Creates the table (on-demand, with its indexes, its stream and TTL on
/// [`TTL_ATTRIBUTE`]) and waits until it is active. An existing table is
/// left as it is.
pub async fn create_table(client: &Client, name: &str) -> Result<(), StoreError> {
    let mut attributes = vec![TABLE_KEY.0, TABLE_KEY.1];
    for (_, (h, r)) in INDEXES {
        attributes.extend([h, r]);
    }
    let mut request = client
        .create_table()
        .table_name(name)
        .billing_mode(BillingMode::PayPerRequest)
        .set_key_schema(Some(key_schema(TABLE_KEY)?))
        .stream_specification(
            StreamSpecification::builder()
                .stream_enabled(true)
                .stream_view_type(StreamViewType::from(STREAM_VIEW))
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        );
    for a in attributes {
        request = request.attribute_definitions(
            AttributeDefinition::builder()
                .attribute_name(a)
                .attribute_type(ScalarAttributeType::S)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        );
    }
    for (index, key) in INDEXES {
        request = request.global_secondary_indexes(
            GlobalSecondaryIndex::builder()
                .index_name(index)
                .set_key_schema(Some(key_schema(key)?))
                .projection(
                    Projection::builder()
                        .projection_type(ProjectionType::All)
                        .build(),
                )
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        );
    }
    match request.send().await {
        Ok(_) => {}
        Err(err)
            if err
                .as_service_error()
                .is_some_and(|e| e.is_resource_in_use_exception()) =>
        {
            return wait_active(client, name).await;
        }
        Err(err) => return Err(super::sdk_failure("CreateTable", &err)),
    }
    wait_active(client, name).await?;
    client
        .update_time_to_live()
        .table_name(name)
        .time_to_live_specification(
            TimeToLiveSpecification::builder()
                .enabled(true)
                .attribute_name(TTL_ATTRIBUTE)
                .build()
                .map_err(|e| StoreError::Unavailable(e.to_string()))?,
        )
        .send()
        .await
        .map_err(|e| super::sdk_failure("UpdateTimeToLive", &e))?;
    Ok(())
}

async fn wait_active(client: &Client, name: &str) -> Result<(), StoreError> {
    for _ in 0..120 {
        let described = client
            .describe_table()
            .table_name(name)
            .send()
            .await
            .map_err(|e| super::sdk_failure("DescribeTable", &e))?;
        if described.table().and_then(|t| t.table_status()) == Some(&TableStatus::Active) {
            return Ok(());
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(StoreError::Unavailable(format!(
        "table {name} did not become active"
    )))
}
