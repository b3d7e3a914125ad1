//! Log output through `tracing`: human text on a terminal, or JSON lines for log shippers.
//!
//! A JSON line holds the event's fields flattened (`message`, `product`, `status`,
//! `duration_ms`...), `timestamp`, `level`, `target`, the `service` that wrote it, and the
//! innermost span's fields under `span` (for a request: `request_id`, `method`, `endpoint`,
//! `operation`; for a queue item: `queue`, `consumer`).

use std::fmt;
use std::io::IsTerminal;

use tracing::{Event, Subscriber};
use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::FmtContext;
use tracing_subscriber::fmt::format::{self, FormatEvent, FormatFields, Writer};
use tracing_subscriber::registry::LookupSpan;

use crate::config::LogFormat;

/// Installs the global log subscriber of `service` writing to stderr, filtered by `filter`
/// (EnvFilter syntax, e.g. `info` or `info,pvs_queue=debug`). Calling it again is harmless:
/// only the first call installs a subscriber.
pub fn init(service: &'static str, format: LogFormat, filter: &str) {
    let filter = EnvFilter::try_new(filter).unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    // `try_init` fails only when a subscriber is already installed, which is fine.
    let _ = match format {
        LogFormat::Text => builder
            .with_ansi(std::io::stderr().is_terminal())
            .try_init(),
        // `json()` makes span fields JSON; the event format puts the service first.
        LogFormat::Json => builder
            .json()
            .event_format(WithService {
                service,
                inner: format::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            })
            .try_init(),
    };
}

/// A JSON event format that puts `"service":"<name>"` first in every line.
struct WithService<F> {
    service: &'static str,
    inner: F,
}

impl<S, N, F> FormatEvent<S, N> for WithService<F>
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
    F: FormatEvent<S, N>,
{
    fn format_event(
        &self,
        ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut line = String::new();
        self.inner
            .format_event(ctx, Writer::new(&mut line), event)?;
        match line.strip_prefix('{') {
            Some(rest) => {
                let name = serde_json::Value::from(self.service);
                write!(writer, "{{\"service\":{name},{rest}")
            }
            None => writer.write_str(&line),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::{Arc, Mutex};

    /// A writer collecting what the subscriber writes.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<u8>>>);

    impl std::io::Write for Sink {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn json_lines_name_the_service_and_the_span() {
        let sink = Sink::default();
        let writer = sink.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .json()
            .event_format(WithService {
                service: "renderer",
                inner: format::format()
                    .json()
                    .flatten_event(true)
                    .with_current_span(true)
                    .with_span_list(false),
            })
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            let span = tracing::info_span!("request", request_id = "abc-1");
            span.in_scope(|| tracing::info!(product = "P1", duration_ms = 12.5, "done"));
        });
        let text = String::from_utf8(sink.0.lock().unwrap().clone()).unwrap();
        let line: serde_json::Value = serde_json::from_str(text.trim()).expect(&text);
        assert!(text.starts_with("{\"service\":\"renderer\","), "{text}");
        assert_eq!(line["service"], "renderer");
        assert_eq!(line["message"], "done");
        assert_eq!(line["product"], "P1");
        assert_eq!(line["duration_ms"], 12.5);
        assert_eq!(line["span"]["request_id"], "abc-1");
        assert_eq!(line["level"], "INFO");
    }
}
