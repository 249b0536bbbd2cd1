//! Lambda function for the `schemas` route family (discovery, no storage).

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    scim_serverless::runtime::discovery_function().await
}
