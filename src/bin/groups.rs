//! Lambda function for `/Groups`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    scim_serverless::runtime::groups_function().await
}
