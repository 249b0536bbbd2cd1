//! Structured logs: JSON lines for Lambda (CloudWatch), text locally.
//! Log lines carry ids, never tokens, request bodies or personal data.

use tracing::{Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Targets of this service's own code (the library and its binaries): the
/// only ones allowed to log below `info`.
const OWN_TARGETS: &str = "scim_";

/// Installs the global subscriber; `RUST_LOG` filters (default `info`).
pub fn init(json: bool) {
    let directives = std::env::var("RUST_LOG").unwrap_or_default();
    // A subscriber may already be installed (tests); keep it.
    drop(tracing::subscriber::set_global_default(subscriber(
        json,
        &directives,
        std::io::stderr,
    )));
}

/// The subscriber `init` installs, writing to `writer`. `directives` are
/// `RUST_LOG`'s (empty or invalid: `info`), but whatever they say, other
/// crates log at most at `info`: below it they print what must never reach
/// a log (`lambda_runtime` the raw event with its `Authorization` header at
/// `trace`, the AWS SDK whole requests and responses, items included).
pub fn subscriber<W>(json: bool, directives: &str, writer: W) -> Box<dyn Subscriber + Send + Sync>
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    let filter = EnvFilter::try_new(directives)
        .ok()
        .filter(|_| !directives.trim().is_empty())
        .unwrap_or_else(|| EnvFilter::new("info"));
    let dependencies_at_most_info =
        filter_fn(|meta| meta.target().starts_with(OWN_TARGETS) || *meta.level() <= Level::INFO);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(writer);
    if json {
        Box::new(
            builder
                .json()
                .flatten_event(true)
                .with_span_list(false)
                .without_time()
                .finish()
                .with(dependencies_at_most_info),
        )
    } else {
        Box::new(builder.finish().with(dependencies_at_most_info))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    /// A log sink tests can read back.
    #[derive(Clone, Default)]
    pub(crate) struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Captured {
        pub(crate) fn text(&self) -> String {
            String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
        }
    }

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    impl<'w> MakeWriter<'w> for Captured {
        type Writer = Captured;

        fn make_writer(&'w self) -> Self::Writer {
            self.clone()
        }
    }

    const TOKEN: &str = "scim_s3cr3tTokenThatMustNeverBeLogged";

    /// What the Lambda runtime and the SDK log below `info`.
    fn log_dependency_secrets() {
        tracing::trace!(
            target: "lambda_runtime::layers::api_response",
            body = %format!("{{\"headers\":{{\"authorization\":\"Bearer {TOKEN}\"}}}}"),
            "raw JSON event received from Lambda"
        );
        tracing::trace!(target: "aws_smithy_runtime::client::orchestrator", request = TOKEN, "transmitting request");
        tracing::debug!(target: "lambda_http", body = TOKEN, "request");
    }

    #[test]
    fn no_level_lets_dependencies_print_tokens_or_bodies() {
        for json in [true, false] {
            for directives in [
                "trace",
                "lambda_runtime=trace,aws_smithy_runtime=trace",
                "debug",
                "",
            ] {
                let sink = Captured::default();
                tracing::subscriber::with_default(
                    subscriber(json, directives, sink.clone()),
                    || {
                        log_dependency_secrets();
                        tracing::info!(target: "lambda_runtime", "dependency info stays");
                        tracing::trace!("own trace line");
                    },
                );
                let text = sink.text();
                assert!(!text.contains(TOKEN), "{directives:?} json={json}: {text}");
                assert!(text.contains("dependency info stays"), "{directives:?}");
                assert_eq!(
                    text.contains("own trace line"),
                    directives == "trace",
                    "own code follows RUST_LOG ({directives:?})"
                );
            }
        }
    }
}
