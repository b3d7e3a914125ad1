//! Metrics in the Prometheus text exposition format (version 0.0.4), served on `GET /metrics`.
//!
//! A [`Metrics`] value belongs to one service. It counts the HTTP requests it sees, per
//! endpoint (the route that matched, e.g. `/ows`), OGC operation (`GetMap`, `GetTile`...) and
//! status, with a latency histogram per endpoint and operation. Everything else (queue
//! depths, items per stage, cache hits, GDAL's block cache) comes from [`Collector`]s that the
//! service registers: functions asked for their current [`Family`]s at each scrape.
//!
//! The text format is written by hand: a few dozen lines instead of a metrics framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

/// The `Content-Type` of the text exposition format.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// The upper bounds (seconds) of the request latency histogram's buckets.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// What a metric family measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A count that only goes up (reset when the process restarts).
    Counter,
    /// A value that goes up and down.
    Gauge,
    /// Observations in buckets, with their sum and count (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// Observations as a sum and a count only (`_sum`, `_count`).
    Summary,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
            Kind::Summary => "summary",
        }
    }
}

/// One sample: a value under a set of labels. `suffix` is put after the family's name
/// (`_bucket`, `_sum`, `_count` for histograms and summaries, empty otherwise).
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// Appended to the family name.
    pub suffix: &'static str,
    /// Label names and values.
    pub labels: Vec<(&'static str, String)>,
    /// The value.
    pub value: f64,
}

impl Sample {
    /// A sample without a suffix.
    pub fn new(labels: Vec<(&'static str, String)>, value: f64) -> Self {
        Self {
            suffix: "",
            labels,
            value,
        }
    }
}

/// A metric family: a name, its help text, its kind and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// The metric name (`pvs_queue_length`).
    pub name: &'static str,
    /// One line saying what it measures.
    pub help: &'static str,
    /// Its kind.
    pub kind: Kind,
    /// Its samples.
    pub samples: Vec<Sample>,
}

impl Family {
    /// A family with no samples yet.
    pub fn new(name: &'static str, help: &'static str, kind: Kind) -> Self {
        Self {
            name,
            help,
            kind,
            samples: Vec::new(),
        }
    }

    /// Adds a sample without a suffix.
    pub fn with(mut self, labels: Vec<(&'static str, String)>, value: f64) -> Self {
        self.samples.push(Sample::new(labels, value));
        self
    }

    /// Appends the family in the text format.
    fn write(&self, out: &mut String) {
        let _ = writeln!(out, "# HELP {} {}", self.name, escape_help(self.help));
        let _ = writeln!(out, "# TYPE {} {}", self.name, self.kind.name());
        for sample in &self.samples {
            out.push_str(self.name);
            out.push_str(sample.suffix);
            if !sample.labels.is_empty() {
                out.push('{');
                for (i, (name, value)) in sample.labels.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    let _ = write!(out, "{name}=\"{}\"", escape_label(value));
                }
                out.push('}');
            }
            let _ = writeln!(out, " {}", number(sample.value));
        }
    }
}

/// `\` and line feeds escaped, as HELP lines need.
fn escape_help(text: &str) -> String {
    text.replace('\\', "\\\\").replace('\n', "\\n")
}

/// `\`, `"` and line feeds escaped, as label values need.
fn escape_label(text: &str) -> String {
    text.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A sample value: integers without a fraction, infinities as `+Inf`/`-Inf`.
fn number(value: f64) -> String {
    if value.is_nan() {
        "NaN".to_owned()
    } else if value.is_infinite() {
        if value > 0.0 { "+Inf" } else { "-Inf" }.to_owned()
    } else if value.fract() == 0.0 && value.abs() < 1e15 {
        format!("{value:.0}")
    } else {
        format!("{value}")
    }
}

/// A histogram with fixed buckets, safe to observe from many threads.
#[derive(Debug)]
pub struct Histogram {
    bounds: &'static [f64],
    /// Per bucket (not cumulative), plus one for observations above every bound.
    counts: Vec<AtomicU64>,
    /// The sum of observations, in nanoseconds.
    sum_nanos: AtomicU64,
}

impl Histogram {
    /// An empty histogram with these bucket upper bounds (seconds, ascending).
    pub fn new(bounds: &'static [f64]) -> Self {
        Self {
            bounds,
            counts: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum_nanos: AtomicU64::new(0),
        }
    }

    /// Records one duration.
    pub fn observe(&self, duration: Duration) {
        let seconds = duration.as_secs_f64();
        let bucket = self
            .bounds
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(self.bounds.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(duration.as_nanos()).unwrap_or(u64::MAX);
        self.sum_nanos.fetch_add(nanos, Ordering::Relaxed);
    }

    /// The `_bucket` (cumulative, with `le`), `_sum` and `_count` samples under `labels`.
    pub fn samples(&self, labels: &[(&'static str, String)]) -> Vec<Sample> {
        let mut out = Vec::with_capacity(self.bounds.len() + 3);
        let mut cumulative = 0;
        for (i, count) in self.counts.iter().enumerate() {
            cumulative += count.load(Ordering::Relaxed);
            let le = self
                .bounds
                .get(i)
                .map_or_else(|| "+Inf".to_owned(), |b| b.to_string());
            let mut with_le = labels.to_vec();
            with_le.push(("le", le));
            out.push(Sample {
                suffix: "_bucket",
                labels: with_le,
                value: cumulative as f64,
            });
        }
        out.push(Sample {
            suffix: "_sum",
            labels: labels.to_vec(),
            value: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9,
        });
        out.push(Sample {
            suffix: "_count",
            labels: labels.to_vec(),
            value: cumulative as f64,
        });
        out
    }
}

/// A source of metric families, asked at every scrape (e.g. queue depths from Redis). It
/// should answer quickly; one whose backend fails returns the families it could fill (a
/// gauge such as `pvs_queue_up` says whether the backend answered).
pub type Collector =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Vec<Family>> + Send>> + Send + Sync>;

/// The request counts and latencies of one endpoint and operation.
#[derive(Debug)]
struct Route {
    by_status: Mutex<BTreeMap<u16, u64>>,
    latency: Histogram,
}

/// One service's metrics: its HTTP requests and its collectors. Cheap to clone (shared).
#[derive(Clone)]
pub struct Metrics {
    inner: Arc<Inner>,
}

struct Inner {
    service: &'static str,
    /// Per endpoint, per operation. Looked up on every request (a read lock, no
    /// allocation); written once per new endpoint and operation.
    routes: RwLock<BTreeMap<String, BTreeMap<&'static str, Arc<Route>>>>,
    in_flight: AtomicU64,
    collectors: Mutex<Vec<Collector>>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics")
            .field("service", &self.inner.service)
            .finish_non_exhaustive()
    }
}

impl Metrics {
    /// The metrics of `service` (`renderer`, `cache`...), with no requests counted yet.
    pub fn new(service: &'static str) -> Self {
        Self {
            inner: Arc::new(Inner {
                service,
                routes: RwLock::new(BTreeMap::new()),
                in_flight: AtomicU64::new(0),
                collectors: Mutex::new(Vec::new()),
            }),
        }
    }

    /// The service's name.
    pub fn service(&self) -> &'static str {
        self.inner.service
    }

    /// Adds a collector, asked for its families at every scrape.
    pub fn collect<F, Fut>(&self, collector: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Vec<Family>> + Send + 'static,
    {
        self.inner
            .collectors
            .lock()
            .expect("the collectors lock is never poisoned")
            .push(Arc::new(move || Box::pin(collector()) as Pin<Box<_>>));
    }

    /// Counts a request that started in the in-flight gauge, until the guard is dropped
    /// (when the request is answered, or abandoned by its client).
    pub(crate) fn request_started(&self) -> InFlight {
        self.inner.in_flight.fetch_add(1, Ordering::Relaxed);
        InFlight(self.inner.clone())
    }

    /// Counts a finished request of `endpoint` and `operation` with its status and duration.
    pub(crate) fn request_finished(
        &self,
        endpoint: &str,
        operation: &'static str,
        status: u16,
        duration: Duration,
    ) {
        let known = self
            .inner
            .routes
            .read()
            .expect("the routes lock is never poisoned")
            .get(endpoint)
            .and_then(|operations| operations.get(operation))
            .cloned();
        let route = known.unwrap_or_else(|| {
            self.inner
                .routes
                .write()
                .expect("the routes lock is never poisoned")
                .entry(endpoint.to_owned())
                .or_default()
                .entry(operation)
                .or_insert_with(|| {
                    Arc::new(Route {
                        by_status: Mutex::new(BTreeMap::new()),
                        latency: Histogram::new(&LATENCY_BUCKETS),
                    })
                })
                .clone()
        });
        *route
            .by_status
            .lock()
            .expect("the status lock is never poisoned")
            .entry(status)
            .or_default() += 1;
        route.latency.observe(duration);
    }

    /// Every family: the service's own, then the collectors', in the text format.
    pub async fn render(&self) -> String {
        let collectors: Vec<Collector> = self
            .inner
            .collectors
            .lock()
            .expect("the collectors lock is never poisoned")
            .clone();
        let mut families = self.own_families();
        for families_of in futures::future::join_all(collectors.iter().map(|c| c())).await {
            families.extend(families_of);
        }
        let mut out = String::new();
        for family in &families {
            family.write(&mut out);
        }
        out
    }

    fn own_families(&self) -> Vec<Family> {
        let info = Family::new(
            "pvs_build_info",
            "The service and the pvs version answering; always 1.",
            Kind::Gauge,
        )
        .with(
            vec![
                ("service", self.inner.service.to_owned()),
                ("version", env!("CARGO_PKG_VERSION").to_owned()),
            ],
            1.0,
        );
        let in_flight = Family::new(
            "pvs_http_requests_in_flight",
            "HTTP requests being answered now.",
            Kind::Gauge,
        )
        .with(
            Vec::new(),
            self.inner.in_flight.load(Ordering::Relaxed) as f64,
        );
        let mut requests = Family::new(
            "pvs_http_requests_total",
            "HTTP requests answered, by endpoint (route), OGC operation and status.",
            Kind::Counter,
        );
        let mut latency = Family::new(
            "pvs_http_request_duration_seconds",
            "Time to answer HTTP requests (until the response headers), by endpoint and OGC operation.",
            Kind::Histogram,
        );
        let routes: Vec<(String, &'static str, Arc<Route>)> = self
            .inner
            .routes
            .read()
            .expect("the routes lock is never poisoned")
            .iter()
            .flat_map(|(endpoint, operations)| {
                operations
                    .iter()
                    .map(|(operation, route)| (endpoint.clone(), *operation, route.clone()))
            })
            .collect();
        for (endpoint, operation, route) in routes {
            let labels = vec![("endpoint", endpoint), ("operation", operation.to_owned())];
            for (status, count) in route
                .by_status
                .lock()
                .expect("the status lock is never poisoned")
                .iter()
            {
                let mut with_status = labels.clone();
                with_status.push(("status", status.to_string()));
                requests
                    .samples
                    .push(Sample::new(with_status, *count as f64));
            }
            latency.samples.extend(route.latency.samples(&labels));
        }
        vec![info, in_flight, requests, latency]
    }
}

/// A request being answered: counted in `pvs_http_requests_in_flight` while it lives.
pub(crate) struct InFlight(Arc<Inner>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

/// The OGC operations counted by name; any other `REQUEST` value counts as `other`.
const OPERATIONS: [&str; 8] = [
    "GetCapabilities",
    "GetMap",
    "GetFeatureInfo",
    "GetLegendGraphic",
    "GetTile",
    "DescribeCoverage",
    "DescribeEOCoverageSet",
    "GetCoverage",
];

/// The operation a request asks for, from a bounded set (label values must not grow with
/// what clients send): the `REQUEST` parameter (any case) of OGC KVP requests; `GetTile` and
/// `GetCapabilities` for RESTful WMTS and XYZ tiles; `TileJSON`; else `none`.
pub fn operation(path: &str, query: Option<&str>) -> &'static str {
    if let Some(query) = query {
        let request = url::form_urlencoded::parse(query.as_bytes())
            .find(|(k, _)| k.eq_ignore_ascii_case("request"))
            .map(|(_, v)| v);
        if let Some(request) = request {
            return OPERATIONS
                .iter()
                .find(|op| op.eq_ignore_ascii_case(&request))
                .copied()
                .unwrap_or("other");
        }
    }
    let ends_with = |suffix: &str| {
        path.len() >= suffix.len()
            && path.as_bytes()[path.len() - suffix.len()..].eq_ignore_ascii_case(suffix.as_bytes())
    };
    let starts_with = |prefix: &str| {
        path.len() >= prefix.len()
            && path.as_bytes()[..prefix.len()].eq_ignore_ascii_case(prefix.as_bytes())
    };
    if ends_with("wmtscapabilities.xml") {
        "GetCapabilities"
    } else if ends_with("tilejson.json") {
        "TileJSON"
    } else if [".png", ".jpg", ".jpeg"].into_iter().any(ends_with)
        && (starts_with("/wmts/") || starts_with("/tiles/"))
    {
        "GetTile"
    } else {
        "none"
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn operations_are_named_from_a_bounded_set() {
        assert_eq!(
            operation("/ows", Some("service=WMS&request=GetMap")),
            "GetMap"
        );
        assert_eq!(
            operation("/ows", Some("SERVICE=WMS&REQUEST=getmap")),
            "GetMap"
        );
        assert_eq!(operation("/ows", Some("REQUEST=%47etTile")), "GetTile");
        assert_eq!(operation("/ows", Some("REQUEST=DropTables")), "other");
        assert_eq!(
            operation("/ows", Some(&"REQUEST=x".repeat(10_000))),
            "other"
        );
        assert_eq!(
            operation("/wmts/1.0.0/WMTSCapabilities.xml", None),
            "GetCapabilities"
        );
        assert_eq!(
            operation("/wmts/1.0.0/L/default/2020/WebMercatorQuad/1/0/0.png", None),
            "GetTile"
        );
        assert_eq!(
            operation("/tiles/L/WebMercatorQuad/1/0/0.jpg", None),
            "GetTile"
        );
        assert_eq!(
            operation("/tiles/L/WebMercatorQuad/tilejson.json", None),
            "TileJSON"
        );
        assert_eq!(operation("/ingest", None), "none");
        assert_eq!(operation("/evil.png", None), "none");
    }

    #[test]
    fn text_format_escapes_labels_and_writes_every_histogram_line() {
        let metrics = Metrics::new("test");
        let answering = metrics.request_started();
        metrics.request_finished("/ows", "GetMap", 200, Duration::from_millis(20));
        metrics.request_finished("/ows", "GetMap", 200, Duration::from_secs(30));
        metrics.request_finished("/o\"w\\s\n", "none", 404, Duration::from_micros(10));
        let text = futures::executor::block_on(metrics.render());
        assert!(text.contains("pvs_http_requests_in_flight 1\n"), "{text}");
        drop(answering);
        let text = futures::executor::block_on(metrics.render());
        assert!(
            text.contains("# TYPE pvs_http_requests_total counter\n"),
            "{text}"
        );
        assert!(text.contains(
            "pvs_http_requests_total{endpoint=\"/ows\",operation=\"GetMap\",status=\"200\"} 2\n"
        ));
        assert!(text.contains(
            "pvs_http_requests_total{endpoint=\"/o\\\"w\\\\s\\n\",operation=\"none\",status=\"404\"} 1\n"
        ), "{text}");
        assert!(text.contains(
            "pvs_http_request_duration_seconds_bucket{endpoint=\"/ows\",operation=\"GetMap\",le=\"0.025\"} 1\n"
        ));
        assert!(text.contains(
            "pvs_http_request_duration_seconds_bucket{endpoint=\"/ows\",operation=\"GetMap\",le=\"10\"} 1\n"
        ));
        assert!(text.contains(
            "pvs_http_request_duration_seconds_bucket{endpoint=\"/ows\",operation=\"GetMap\",le=\"+Inf\"} 2\n"
        ));
        assert!(text.contains(
            "pvs_http_request_duration_seconds_sum{endpoint=\"/ows\",operation=\"GetMap\"} 30.02\n"
        ), "{text}");
        assert!(text.contains(
            "pvs_http_request_duration_seconds_count{endpoint=\"/ows\",operation=\"GetMap\"} 2\n"
        ));
        assert!(text.contains("pvs_http_requests_in_flight 0\n"));
        assert!(text.contains("pvs_build_info{service=\"test\",version=\""));
    }

    #[test]
    fn collectors_are_asked_at_every_scrape() {
        let metrics = Metrics::new("test");
        let calls = Arc::new(AtomicU64::new(0));
        let seen = calls.clone();
        metrics.collect(move || {
            let n = seen.fetch_add(1, Ordering::Relaxed) + 1;
            async move {
                vec![
                    Family::new(
                        "pvs_test_calls",
                        "Calls.\nTwo lines \\ here.",
                        Kind::Counter,
                    )
                    .with(vec![("queue", "a".to_owned())], n as f64),
                ]
            }
        });
        let first = futures::executor::block_on(metrics.render());
        let second = futures::executor::block_on(metrics.render());
        assert!(first.contains("pvs_test_calls{queue=\"a\"} 1\n"), "{first}");
        assert!(second.contains("pvs_test_calls{queue=\"a\"} 2\n"));
        assert!(first.contains("# HELP pvs_test_calls Calls.\\nTwo lines \\\\ here.\n"));
    }

    #[test]
    fn numbers() {
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.5), "0.5");
        assert_eq!(number(f64::INFINITY), "+Inf");
        assert_eq!(number(f64::NAN), "NaN");
    }
}
