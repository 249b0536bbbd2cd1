//! Deployment configuration, read once at start-up from the environment
//! (set by `template.yaml`, `events/env.json` or the local server's flags).

use std::time::Duration;

use crate::auth::source::TENANT_PLACEHOLDER;
use crate::scim::schema::{ENTERPRISE_URN, ExtensionConfig, GROUP_URN, USER_URN};

pub const DEFAULT_TABLE_NAME: &str = "scim";
pub const DEFAULT_SECRET_NAME_PATTERN: &str = "scim/tenants/{tenant}";
pub const DEFAULT_TOKEN_CACHE_TTL_SECS: u64 = 60;
/// How long request records are kept, in days (WorkOS keeps 30).
pub const DEFAULT_REQUEST_LOG_TTL_DAYS: u64 = 30;
const SECONDS_PER_DAY: u64 = 86_400;
/// Most resources a filter without a key lookup may examine before the
/// request is refused with `400 tooMany` (a Lambda must not time out).
pub const DEFAULT_FILTER_SCAN_LIMIT: usize = 10_000;

/// Time limits of every AWS SDK call. The operation limit (all attempts
/// with their back-off) stays below what the caller waits: API Gateway
/// gives the authorizer 10 s and the functions 29 s, and a hung connection
/// must end as a 503 with its cause logged, not as the caller's timeout.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AwsTimeouts {
    /// `SCIM_AWS_CONNECT_TIMEOUT_MS`: establishing a connection.
    pub connect: Duration,
    /// `SCIM_AWS_ATTEMPT_TIMEOUT_MS`: one attempt, connection included.
    pub attempt: Duration,
    /// `SCIM_AWS_OPERATION_TIMEOUT_MS`: one call, retries included.
    pub operation: Duration,
}

impl Default for AwsTimeouts {
    fn default() -> Self {
        AwsTimeouts {
            connect: Duration::from_millis(1_000),
            attempt: Duration::from_millis(2_000),
            operation: Duration::from_millis(5_000),
        }
    }
}

impl AwsTimeouts {
    /// The SDK's form of these limits.
    pub fn sdk(&self) -> aws_config::timeout::TimeoutConfig {
        aws_config::timeout::TimeoutConfig::builder()
            .connect_timeout(self.connect)
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.operation)
            .build()
    }
}

/// Why the configuration cannot be used; the process refuses to start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("{name} is invalid: {reason}")]
    Invalid { name: &'static str, reason: String },
}

fn invalid(name: &'static str, reason: impl Into<String>) -> ConfigError {
    ConfigError::Invalid {
        name,
        reason: reason.into(),
    }
}

/// Everything configurable, with production defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// `SCIM_TABLE_NAME`.
    pub table_name: String,
    /// `SCIM_SECRET_NAME_PATTERN`: secret name of a tenant, `{tenant}` replaced.
    pub secret_name_pattern: String,
    /// `SCIM_TOKEN_CACHE_TTL_SECS`: how long a warm container trusts a
    /// tenant's token set; issue and revoke take effect within it.
    pub token_cache_ttl: Duration,
    /// `SCIM_EXTENSION_URN` and `SCIM_EXTENSION_ATTRIBUTES` (comma-separated).
    pub extension: ExtensionConfig,
    /// `SCIM_PUBLIC_BASE_URL`: origin (and base path) clients use, when it
    /// differs from the `Host` header (custom domains).
    pub public_base_url: Option<String>,
    /// `SCIM_FILTER_SCAN_LIMIT`: see [`DEFAULT_FILTER_SCAN_LIMIT`].
    pub filter_scan_limit: usize,
    /// `SCIM_AWS_*_TIMEOUT_MS`: see [`AwsTimeouts`].
    pub aws_timeouts: AwsTimeouts,
    /// `SCIM_REQUEST_LOG_TTL_DAYS`: how long request records are kept.
    pub request_log_retention: Duration,
    /// `SCIM_REQUEST_LOG_VALUES` (`masked` or `full`): how request records
    /// show personal values.
    pub request_log_values: crate::request_log::LogValues,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            table_name: DEFAULT_TABLE_NAME.to_owned(),
            secret_name_pattern: DEFAULT_SECRET_NAME_PATTERN.to_owned(),
            token_cache_ttl: Duration::from_secs(DEFAULT_TOKEN_CACHE_TTL_SECS),
            extension: ExtensionConfig::default(),
            public_base_url: None,
            filter_scan_limit: DEFAULT_FILTER_SCAN_LIMIT,
            aws_timeouts: AwsTimeouts::default(),
            request_log_retention: Duration::from_secs(
                DEFAULT_REQUEST_LOG_TTL_DAYS * SECONDS_PER_DAY,
            ),
            request_log_values: crate::request_log::LogValues::default(),
        }
    }
}

impl Config {
    /// Reads the process environment.
    pub fn from_env() -> Result<Self, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Reads configuration through `lookup`; unset or empty means default.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let get = |name: &str| lookup(name).filter(|v| !v.trim().is_empty());
        let mut config = Config::default();
        if let Some(v) = get("SCIM_TABLE_NAME") {
            config.table_name = v;
        }
        if let Some(v) = get("SCIM_SECRET_NAME_PATTERN") {
            if !v.contains(TENANT_PLACEHOLDER) {
                return Err(invalid("SCIM_SECRET_NAME_PATTERN", "must contain {tenant}"));
            }
            config.secret_name_pattern = v;
        }
        if let Some(v) = get("SCIM_TOKEN_CACHE_TTL_SECS") {
            let secs: u64 = v
                .trim()
                .parse()
                .map_err(|_| invalid("SCIM_TOKEN_CACHE_TTL_SECS", "must be whole seconds"))?;
            config.token_cache_ttl = Duration::from_secs(secs);
        }
        if let Some(v) = get("SCIM_REQUEST_LOG_TTL_DAYS") {
            let days: u64 = v
                .trim()
                .parse()
                .ok()
                .filter(|d| (1..=3650).contains(d))
                .ok_or_else(|| {
                    invalid(
                        "SCIM_REQUEST_LOG_TTL_DAYS",
                        "must be whole days from 1 to 3650",
                    )
                })?;
            config.request_log_retention = Duration::from_secs(days * SECONDS_PER_DAY);
        }
        if let Some(v) = get("SCIM_REQUEST_LOG_VALUES") {
            config.request_log_values = crate::request_log::LogValues::parse(&v)
                .ok_or_else(|| invalid("SCIM_REQUEST_LOG_VALUES", "must be masked or full"))?;
        }
        if let Some(v) = get("SCIM_EXTENSION_URN") {
            let core = [USER_URN, GROUP_URN, ENTERPRISE_URN];
            if !v.starts_with("urn:") || core.iter().any(|c| c.eq_ignore_ascii_case(&v)) {
                return Err(invalid(
                    "SCIM_EXTENSION_URN",
                    "must be a urn: of its own, not a core schema",
                ));
            }
            config.extension.urn = v;
        }
        if let Some(v) = get("SCIM_EXTENSION_ATTRIBUTES") {
            config.extension.attributes = parse_attribute_names(&v)?;
        }
        if let Some(v) = get("SCIM_PUBLIC_BASE_URL") {
            if !(v.starts_with("https://") || v.starts_with("http://")) {
                return Err(invalid("SCIM_PUBLIC_BASE_URL", "must be an http(s) URL"));
            }
            config.public_base_url = Some(v.trim_end_matches('/').to_owned());
        }
        if let Some(v) = get("SCIM_FILTER_SCAN_LIMIT") {
            config.filter_scan_limit =
                v.trim().parse().ok().filter(|n| *n > 0).ok_or_else(|| {
                    invalid("SCIM_FILTER_SCAN_LIMIT", "must be a positive integer")
                })?;
        }
        let millis = |name: &'static str, default: Duration| match get(name) {
            None => Ok(default),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(Duration::from_millis)
                .ok_or_else(|| invalid(name, "must be a positive number of milliseconds")),
        };
        let defaults = AwsTimeouts::default();
        config.aws_timeouts = AwsTimeouts {
            connect: millis("SCIM_AWS_CONNECT_TIMEOUT_MS", defaults.connect)?,
            attempt: millis("SCIM_AWS_ATTEMPT_TIMEOUT_MS", defaults.attempt)?,
            operation: millis("SCIM_AWS_OPERATION_TIMEOUT_MS", defaults.operation)?,
        };
        let t = config.aws_timeouts;
        if t.connect > t.attempt || t.attempt > t.operation {
            return Err(invalid(
                "SCIM_AWS_OPERATION_TIMEOUT_MS",
                "timeouts must grow: connect <= attempt <= operation",
            ));
        }
        Ok(config)
    }
}

fn parse_attribute_names(list: &str) -> Result<Vec<String>, ConfigError> {
    let mut names: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !valid {
            return Err(invalid(
                "SCIM_EXTENSION_ATTRIBUTES",
                format!("'{name}' is not an attribute name"),
            ));
        }
        if names.iter().any(|n| n.eq_ignore_ascii_case(name)) {
            return Err(invalid(
                "SCIM_EXTENSION_ATTRIBUTES",
                format!("'{name}' is listed twice"),
            ));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn config(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let map: HashMap<String, String> = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Config::from_lookup(|name| map.get(name).cloned())
    }

    #[test]
    fn defaults_when_unset_or_empty() {
        assert_eq!(config(&[]).unwrap(), Config::default());
        assert_eq!(
            config(&[("SCIM_TABLE_NAME", " ")]).unwrap(),
            Config::default()
        );
        assert_eq!(
            Config::default().extension.attributes,
            [
                "gender",
                "academicTitle",
                "employeeType",
                "city",
                "office",
                "businessUnit",
                "grade"
            ]
        );
    }

    #[test]
    fn reads_every_variable() {
        let c = config(&[
            ("SCIM_TABLE_NAME", "t"),
            ("SCIM_SECRET_NAME_PATTERN", "p/{tenant}/x"),
            ("SCIM_TOKEN_CACHE_TTL_SECS", "5"),
            ("SCIM_EXTENSION_URN", "urn:example:ext:2.0:User"),
            ("SCIM_EXTENSION_ATTRIBUTES", "badge, shoeSize"),
            ("SCIM_PUBLIC_BASE_URL", "https://scim.example.com/"),
            ("SCIM_AWS_CONNECT_TIMEOUT_MS", "100"),
            ("SCIM_AWS_ATTEMPT_TIMEOUT_MS", "300"),
            ("SCIM_AWS_OPERATION_TIMEOUT_MS", "900"),
        ])
        .unwrap();
        assert_eq!(
            c.aws_timeouts,
            AwsTimeouts {
                connect: Duration::from_millis(100),
                attempt: Duration::from_millis(300),
                operation: Duration::from_millis(900),
            }
        );
        assert_eq!(c.table_name, "t");
        assert_eq!(c.secret_name_pattern, "p/{tenant}/x");
        assert_eq!(c.token_cache_ttl, Duration::from_secs(5));
        assert_eq!(c.extension.urn, "urn:example:ext:2.0:User");
        assert_eq!(c.extension.attributes, ["badge", "shoeSize"]);
        assert_eq!(
            c.public_base_url.as_deref(),
            Some("https://scim.example.com")
        );
    }

    #[test]
    fn every_aws_call_ends_before_api_gateway_gives_up() {
        let t = Config::default().aws_timeouts;
        assert!(
            t.operation < Duration::from_secs(10),
            "the authorizer's limit"
        );
        assert!(t.connect <= t.attempt && t.attempt <= t.operation);
    }

    #[test]
    fn rejects_invalid_values() {
        for vars in [
            [("SCIM_SECRET_NAME_PATTERN", "no-placeholder")],
            [("SCIM_TOKEN_CACHE_TTL_SECS", "soon")],
            [("SCIM_EXTENSION_URN", USER_URN)],
            [("SCIM_EXTENSION_URN", "vendor")],
            [("SCIM_EXTENSION_ATTRIBUTES", "a,b c")],
            [("SCIM_EXTENSION_ATTRIBUTES", "a,A")],
            [("SCIM_PUBLIC_BASE_URL", "ftp://x")],
            [("SCIM_AWS_OPERATION_TIMEOUT_MS", "0")],
            [("SCIM_AWS_ATTEMPT_TIMEOUT_MS", "soon")],
            [("SCIM_AWS_OPERATION_TIMEOUT_MS", "1500")],
        ] {
            assert!(config(&vars).is_err(), "{vars:?}");
        }
    }
}
