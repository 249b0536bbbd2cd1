//! The API Gateway Lambda authorizer: bearer token against the path's tenant.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scim_serverless::runtime::authorizer_function().await
}
