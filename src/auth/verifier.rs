//! Token verification with a short per-container cache, shared by the
//! Lambda authorizer and the local server.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AuthError;
use super::source::TokenSource;
use super::token::{Refusal, TokenMatch, TokenSet, bearer_token};
use crate::tenant::TenantId;
use crate::tenant::settings::TenantPolicy;
use time::OffsetDateTime;

/// Bound on cached tenants: tenant ids come from unauthenticated paths, so
/// the cache must not grow without limit.
const MAX_CACHED_TENANTS: usize = 10_000;

/// The outcome of checking a request's credentials for a tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// The token belongs to the tenant; `token_id` names it for audit
    /// logs, `policy` is what the tenant's settings decide for the request.
    Allowed {
        tenant: TenantId,
        token_id: String,
        policy: TenantPolicy,
    },
    /// A token of this tenant that is expired or revoked: refused like
    /// any other, but the request can be recorded under the tenant.
    Refused {
        tenant: TenantId,
        token_id: String,
        reason: Refusal,
    },
    /// Missing, malformed, unknown or foreign token, or unknown tenant.
    Denied,
}

struct Entry {
    fetched: Instant,
    tokens: Option<TokenSet>,
}

/// Verifies bearer tokens against a [`TokenSource`], caching each tenant's
/// token set for `ttl` so a warm container rarely calls the source. A token
/// issued or revoked takes effect within `ttl`.
pub struct Verifier<S> {
    source: S,
    ttl: Duration,
    cache: Mutex<HashMap<TenantId, Entry>>,
}

impl<S: TokenSource> Verifier<S> {
    pub fn new(source: S, ttl: Duration) -> Self {
        Verifier {
            source,
            ttl,
            cache: Mutex::new(HashMap::new()),
        }
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    /// Checks an `Authorization` header value for `tenant`. Source failures
    /// are errors, never an allow: the caller answers 503.
    pub async fn verify(
        &self,
        tenant: &TenantId,
        authorization: Option<&str>,
    ) -> Result<Verdict, AuthError> {
        let Some(token) = authorization.and_then(bearer_token) else {
            return Ok(Verdict::Denied);
        };
        let tokens = self.tokens(tenant).await?;
        let Some(set) = tokens else {
            return Ok(Verdict::Denied);
        };
        Ok(match set.classify(token, OffsetDateTime::now_utc()) {
            TokenMatch::Valid(id) => Verdict::Allowed {
                tenant: tenant.clone(),
                token_id: id.to_owned(),
                policy: set.policy(),
            },
            TokenMatch::Refused(id, reason) => Verdict::Refused {
                tenant: tenant.clone(),
                token_id: id.to_owned(),
                reason,
            },
            TokenMatch::Unknown => Verdict::Denied,
        })
    }

    /// The tenant's token set (with its settings), from the cache when it
    /// is fresh.
    pub async fn token_set(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        self.tokens(tenant).await
    }

    async fn tokens(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
        if let Some(hit) = self.cached(tenant) {
            return Ok(hit);
        }
        let tokens = self.source.load(tenant).await?;
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_CACHED_TENANTS {
                let ttl = self.ttl;
                cache.retain(|_, e| e.fetched.elapsed() < ttl);
                if cache.len() >= MAX_CACHED_TENANTS {
                    cache.clear();
                }
            }
            cache.insert(
                tenant.clone(),
                Entry {
                    fetched: Instant::now(),
                    tokens: tokens.clone(),
                },
            );
        }
        Ok(tokens)
    }

    fn cached(&self, tenant: &TenantId) -> Option<Option<TokenSet>> {
        let cache = self.cache.lock().ok()?;
        let entry = cache.get(tenant)?;
        (entry.fetched.elapsed() < self.ttl).then(|| entry.tokens.clone())
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    use super::*;
    use crate::auth::source::{MemoryTokenSource, TokenStore};
    use crate::auth::token::{IssuedToken, issue};

    /// Counts loads, and fails them on demand.
    #[derive(Clone, Default)]
    struct Counting {
        inner: MemoryTokenSource,
        loads: Arc<AtomicUsize>,
        fail: Arc<std::sync::atomic::AtomicBool>,
    }

    impl TokenSource for Counting {
        async fn load(&self, tenant: &TenantId) -> Result<Option<TokenSet>, AuthError> {
            self.loads.fetch_add(1, Ordering::SeqCst);
            if self.fail.load(Ordering::SeqCst) {
                return Err(AuthError::Unavailable("down".into()));
            }
            self.inner.load(tenant).await
        }
    }

    fn tenant(s: &str) -> TenantId {
        TenantId::parse(s).unwrap()
    }

    /// Makes `token` the only token of `tenant`.
    async fn grant(source: &Counting, tenant_id: &str, token: &IssuedToken) {
        let set = TokenSet::of(vec![token.record.clone()]);
        source.inner.save(&tenant(tenant_id), &set).await.unwrap();
    }

    #[tokio::test]
    async fn allows_own_token_denies_others_and_foreign_tenants() {
        let source = Counting::default();
        let a = issue(None, "t").unwrap();
        let b = issue(None, "t").unwrap();
        grant(&source, "a", &a).await;
        grant(&source, "b", &b).await;
        let v = Verifier::new(source, Duration::from_secs(60));
        let header = format!("Bearer {}", a.plain);
        assert_eq!(
            v.verify(&tenant("a"), Some(&header)).await.unwrap(),
            Verdict::Allowed {
                tenant: tenant("a"),
                token_id: a.record.id.clone(),
                policy: Default::default(),
            }
        );
        assert_eq!(
            v.verify(&tenant("b"), Some(&header)).await.unwrap(),
            Verdict::Denied
        );
        assert_eq!(
            v.verify(&tenant("nobody"), Some(&header)).await.unwrap(),
            Verdict::Denied
        );
        assert_eq!(v.verify(&tenant("a"), None).await.unwrap(), Verdict::Denied);
        assert_eq!(
            v.verify(&tenant("a"), Some(&a.plain)).await.unwrap(),
            Verdict::Denied,
            "token without the Bearer scheme"
        );
    }

    #[tokio::test]
    async fn caches_within_ttl_and_reloads_after() {
        let source = Counting::default();
        let t = issue(None, "t").unwrap();
        grant(&source, "a", &t).await;
        let loads = source.loads.clone();
        let v = Verifier::new(source.clone(), Duration::from_millis(200));
        let header = format!("Bearer {}", t.plain);
        for _ in 0..5 {
            assert!(matches!(
                v.verify(&tenant("a"), Some(&header)).await.unwrap(),
                Verdict::Allowed { .. }
            ));
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        // Revoked at the source: still cached, then refused after the TTL.
        source
            .inner
            .save(&tenant("a"), &TokenSet::default())
            .await
            .unwrap();
        assert!(matches!(
            v.verify(&tenant("a"), Some(&header)).await.unwrap(),
            Verdict::Allowed { .. }
        ));
        tokio::time::sleep(Duration::from_millis(250)).await;
        assert_eq!(
            v.verify(&tenant("a"), Some(&header)).await.unwrap(),
            Verdict::Denied
        );
        assert_eq!(loads.load(Ordering::SeqCst), 2);
    }

    #[tokio::test]
    async fn source_failure_is_an_error_not_an_allow_and_is_not_cached() {
        let source = Counting::default();
        let t = issue(None, "t").unwrap();
        grant(&source, "a", &t).await;
        source.fail.store(true, Ordering::SeqCst);
        let v = Verifier::new(source.clone(), Duration::from_secs(60));
        let header = format!("Bearer {}", t.plain);
        assert!(matches!(
            v.verify(&tenant("a"), Some(&header)).await,
            Err(AuthError::Unavailable(_))
        ));
        source.fail.store(false, Ordering::SeqCst);
        assert!(matches!(
            v.verify(&tenant("a"), Some(&header)).await.unwrap(),
            Verdict::Allowed { .. }
        ));
    }
}
