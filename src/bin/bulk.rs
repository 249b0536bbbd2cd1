//! Lambda function for `/Bulk`: each operation served as the `/Users` or
//! `/Groups` request it stands for.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    scim_serverless::runtime::bulk_function().await
}
