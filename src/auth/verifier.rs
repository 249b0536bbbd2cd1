//! Token verification with a short per-container cache, shared by the
//! Lambda authorizer and the local server.

use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::AuthError;
use super::cache::Lru;
use super::source::TokenSource;
use super::token::{Refusal, TokenMatch, TokenSet, bearer_token};
use crate::tenant::TenantId;
use crate::tenant::settings::TenantPolicy;
use time::OffsetDateTime;

/// Bound on cached tenants with a token set, and apart from them on
/// remembered unknown tenant ids: ids come from unauthenticated paths, so
/// neither may grow without limit, and a flood of unknown ids (each only
/// displacing the least recently used unknown one) never evicts a real
/// tenant.
const MAX_CACHED_TENANTS: usize = 10_000;
const MAX_UNKNOWN_TENANTS: usize = 10_000;

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

/// What the verifier remembers: tenants with a token set, and tenant ids
/// found to have none, each bounded and least-recently-used first out.
struct Caches {
    known: Lru<TenantId, Entry>,
    unknown: Lru<TenantId, Instant>,
}

/// Verifies bearer tokens against a [`TokenSource`], caching each tenant's
/// token set for `ttl` so a warm container rarely calls the source. A token
/// issued or revoked takes effect within `ttl`.
pub struct Verifier<S> {
    source: S,
    ttl: Duration,
    cache: Mutex<Caches>,
}

impl<S: TokenSource> Verifier<S> {
    pub fn new(source: S, ttl: Duration) -> Self {
        Verifier {
            source,
            ttl,
            cache: Mutex::new(Caches {
                known: Lru::new(MAX_CACHED_TENANTS),
                unknown: Lru::new(MAX_UNKNOWN_TENANTS),
            }),
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
            let now = Instant::now();
            match &tokens {
                Some(_) => {
                    cache.unknown.remove(tenant);
                    cache.known.insert(
                        tenant.clone(),
                        Entry {
                            fetched: now,
                            tokens: tokens.clone(),
                        },
                    );
                }
                None => {
                    cache.known.remove(tenant);
                    cache.unknown.insert(tenant.clone(), now);
                }
            }
        }
        Ok(tokens)
    }

    fn cached(&self, tenant: &TenantId) -> Option<Option<TokenSet>> {
        let mut cache = self.cache.lock().ok()?;
        if let Some(entry) = cache.known.get(tenant) {
            return (entry.fetched.elapsed() < self.ttl).then(|| entry.tokens.clone());
        }
        let fetched = *cache.unknown.get(tenant)?;
        (fetched.elapsed() < self.ttl).then_some(None)
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

    /// A flood of well-formed tokens for 20,000 tenant ids that do not
    /// exist fills only the bounded memory of unknown tenants: the real
    /// tenant's cached token set stays, and it is never loaded again
    /// within its lifetime.
    #[tokio::test]
    async fn a_flood_of_unknown_tenants_never_evicts_a_real_one() {
        let source = Counting::default();
        let real = issue(None, "t").unwrap();
        grant(&source, "real", &real).await;
        let v = Verifier::new(source.clone(), Duration::from_secs(600));
        let header = format!("Bearer {}", real.plain);
        let allowed = |verdict: Verdict| matches!(verdict, Verdict::Allowed { .. });
        assert!(allowed(
            v.verify(&tenant("real"), Some(&header)).await.unwrap()
        ));
        let flood = format!("Bearer {}", issue(None, "t").unwrap().plain);
        for i in 0..20_000 {
            let ghost = tenant(&format!("ghost-{i}"));
            assert_eq!(
                v.verify(&ghost, Some(&flood)).await.unwrap(),
                Verdict::Denied
            );
        }
        let loads = source.loads.load(Ordering::SeqCst);
        assert_eq!(loads, 20_001, "each unknown id looked up once");
        assert!(allowed(
            v.verify(&tenant("real"), Some(&header)).await.unwrap()
        ));
        assert_eq!(
            source.loads.load(Ordering::SeqCst),
            loads,
            "the real tenant came from the cache"
        );
        // The most recent unknown ids are still remembered.
        v.verify(&tenant("ghost-19999"), Some(&flood))
            .await
            .unwrap();
        assert_eq!(source.loads.load(Ordering::SeqCst), loads);
        let cache = v.cache.lock().unwrap();
        assert!(cache.unknown.len() <= MAX_UNKNOWN_TENANTS);
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
