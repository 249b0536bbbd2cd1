//! Structured logs: JSON lines for Lambda (CloudWatch) and for scim-local
//! when its output is not a terminal, text for a person at a terminal.
//! Log lines carry ids, never tokens, request bodies or personal data.

use std::io::Write;

use tracing::{Level, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::layer::SubscriberExt;

/// Targets of this service's own code (the library and its binaries): the
/// only ones allowed to log below `info`.
const OWN_TARGETS: &str = "scim_";

/// The field holding CloudWatch Embedded Metric Format metadata
/// (`api::metrics`): an object in JSON lines, left out of text lines.
const EMF_FIELD: &str = "_aws";

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
        .with_target(false);
    if json {
        Box::new(
            builder
                .with_writer(EmfLines(writer))
                .json()
                .flatten_event(true)
                .with_span_list(false)
                .without_time()
                .finish()
                .with(dependencies_at_most_info),
        )
    } else {
        Box::new(
            builder
                .with_writer(writer)
                .fmt_fields(
                    tracing_subscriber::fmt::format::debug_fn(|writer, field, value| {
                        match field.name() {
                            EMF_FIELD => Ok(()),
                            "message" => write!(writer, "{value:?}"),
                            name => write!(writer, "{name}={value:?}"),
                        }
                    })
                    .delimited(" "),
                )
                .finish()
                .with(dependencies_at_most_info),
        )
    }
}

/// Writes JSON log lines to `W`, turning an `_aws` field (recorded as
/// JSON text, as tracing records every value) into the object EMF needs.
struct EmfLines<W>(W);

impl<'a, W: MakeWriter<'a>> MakeWriter<'a> for EmfLines<W> {
    type Writer = EmfLine<W::Writer>;

    fn make_writer(&'a self) -> Self::Writer {
        EmfLine(Vec::new(), self.0.make_writer())
    }
}

/// One event's line, written in one piece when dropped.
struct EmfLine<O: Write>(Vec<u8>, O);

impl<O: Write> Write for EmfLine<O> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<O: Write> Drop for EmfLine<O> {
    fn drop(&mut self) {
        let line = lift_emf(std::mem::take(&mut self.0));
        let _ = self.1.write_all(&line);
    }
}

/// `{"_aws":"{\"Timestamp\":...}"}` becomes `{"_aws":{"Timestamp":...}}`;
/// any other line is returned unchanged.
fn lift_emf(line: Vec<u8>) -> Vec<u8> {
    let marker = format!("\"{EMF_FIELD}\":\"");
    if !line
        .windows(marker.len())
        .any(|window| window == marker.as_bytes())
    {
        return line;
    }
    let Ok(serde_json::Value::Object(mut fields)) = serde_json::from_slice(&line) else {
        return line;
    };
    let Some(metadata) = fields
        .get(EMF_FIELD)
        .and_then(serde_json::Value::as_str)
        .and_then(|text| serde_json::from_str::<serde_json::Value>(text).ok())
    else {
        return line;
    };
    fields.insert(EMF_FIELD.to_owned(), metadata);
    let mut lifted = serde_json::to_vec(&fields).unwrap_or(line);
    lifted.push(b'\n');
    lifted
}

#[cfg(test)]
pub(crate) mod tests {
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

    #[test]
    fn emf_metadata_becomes_an_object_and_other_lines_stay() {
        let line = br#"{"level":"INFO","status":200,"_aws":"{\"Timestamp\":1}","message":"request"}
"#
        .to_vec();
        let lifted: serde_json::Value = serde_json::from_slice(&lift_emf(line)).unwrap();
        assert_eq!(lifted["_aws"]["Timestamp"], 1);
        assert_eq!(lifted["status"], 200);
        assert_eq!(lifted["message"], "request");
        let plain = br#"{"level":"INFO","message":"started"}
"#
        .to_vec();
        assert_eq!(lift_emf(plain.clone()), plain);
    }
}
