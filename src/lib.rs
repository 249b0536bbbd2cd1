//! A serverless SCIM 2.0 service provider: the protocol (`scim`), storage
//! (`store`), HTTP (`api`) and tenant tokens (`auth`), shared by the Lambda
//! binaries and the local server in `src/bin/`.

pub mod admin;
pub mod api;
pub mod auth;
pub mod config;
pub mod events;
pub mod logging;
pub mod request_log;
pub mod runtime;
pub mod scim;
pub mod store;
pub mod tenant;
