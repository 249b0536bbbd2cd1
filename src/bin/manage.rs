//! Lambda function for the management API (`/manage/v1`, IAM-authorized)
//! and the schedule that advances tenant deletions.

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    scim_serverless::runtime::manage_function().await
}
