//! Lambda function writing the request log: the functions' request
//! records, delivered by a CloudWatch Logs subscription.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scim_serverless::runtime::recorder_function().await
}
