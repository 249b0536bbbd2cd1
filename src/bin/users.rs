//! Lambda function for `/Users`.

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    scim_serverless::runtime::users_function().await
}
