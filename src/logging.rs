//! Structured logs: JSON lines for Lambda (CloudWatch) and for scim-local
//! when its output is not a terminal, text for a person at a terminal.
//! Log lines carry ids, never tokens or personal data.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::field::MakeExt;
use tracing_subscriber::fmt::MakeWriter;

/// The field holding CloudWatch Embedded Metric Format metadata
/// (`api::metrics`): an object in JSON lines, left out of text lines.
const EMF_FIELD: &str = "_aws";

/// Installs the global subscriber; `RUST_LOG` filters (default `info`).
pub fn init(json: bool) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    let result = if json {
        builder
            .with_writer(EmfLines)
            .json()
            .flatten_event(true)
            .without_time()
            .try_init()
    } else {
        builder
            .with_writer(std::io::stderr)
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
            .try_init()
    };
    // A subscriber may already be installed (tests); keep it.
    drop(result);
}

/// Writes JSON log lines to stderr, turning an `_aws` field (recorded as
/// JSON text, as tracing records every value) into the object EMF needs.
struct EmfLines;

impl<'a> MakeWriter<'a> for EmfLines {
    type Writer = EmfLine;

    fn make_writer(&'a self) -> EmfLine {
        EmfLine(Vec::new())
    }
}

/// One event's line, written to stderr in one piece when dropped.
struct EmfLine(Vec<u8>);

impl Write for EmfLine {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Drop for EmfLine {
    fn drop(&mut self) {
        let line = lift_emf(std::mem::take(&mut self.0));
        let _ = std::io::stderr().write_all(&line);
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
mod tests {
    use super::*;

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
