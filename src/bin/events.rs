//! Lambda function turning the table's DynamoDB stream into provisioning
//! events on EventBridge.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scim_serverless::runtime::events_function().await
}
