//! The optional export of the daemon's spans to an OpenTelemetry collector (`jitosd --otlp
//! URL`; docs/SERVICE.md): each process's span and its attempts' spans, their ids as
//! attributes, sent as OTLP/HTTP protobuf to `URL/v1/traces`.
//!
//! Spans leave through the SDK's batch processor: a span's end goes on a bounded queue
//! without waiting, and the processor's own thread sends batches, so a slow or absent
//! collector never holds up the daemon's threads. A batch the collector does not take is
//! dropped, and the log says so once until it takes one again. [`Otlp::shutdown`] sends
//! what is still queued when the daemon stops, waiting at most [`SHUTDOWN_WAIT`].

use std::{
    sync::atomic::{AtomicBool, AtomicU64, Ordering},
    time::Duration,
};

use opentelemetry::{trace::TracerProvider as _, KeyValue};
use opentelemetry_otlp::{ExporterBuildError, Protocol, WithExportConfig as _};
use opentelemetry_sdk::{
    error::OTelSdkResult,
    trace::{SdkTracerProvider, SpanData, SpanExporter},
    Resource,
};
use reqwest::Url;
use tracing::{subscriber::Interest, Level, Metadata, Subscriber};
use tracing_subscriber::{filter::DynFilterFn, layer::Context, registry::LookupSpan, Layer};

/// The spans sent, by name, with every span opened within one of them: a process's
/// (`processes::spans`) and an attempt's (`jobs::attempt_span`).
const TRACED: [&str; 2] = ["process", "attempt"];

/// Longest the daemon waits, as it stops, for the spans still queued to be sent.
pub const SHUTDOWN_WAIT: Duration = Duration::from_secs(5);

/// Longest one batch waits on the collector. Below [`SHUTDOWN_WAIT`], so a stopping
/// daemon's last batch has a chance; the daemon's stop is bounded by [`SHUTDOWN_WAIT`]
/// alone, whatever is still queued.
const EXPORT_TIMEOUT: Duration = Duration::from_secs(4);

/// Export could not be set up.
#[derive(Debug, thiserror::Error)]
#[error("cannot export spans to the OTLP collector at {collector}: {source}")]
pub struct OtlpError {
    // Its text, not the `Url`: an error is passed up by value, and a `Url` is large.
    collector: String,
    source: ExporterBuildError,
}

/// Why a collector's URL is refused.
#[derive(Debug, thiserror::Error)]
pub enum CollectorUrlError {
    /// It does not parse.
    #[error("not a URL: {0}")]
    NotAUrl(#[from] url::ParseError),
    /// It is not an `http` or `https` URL with a host.
    #[error("give the collector's http:// or https:// URL, e.g. http://127.0.0.1:4318")]
    NotHttp,
    /// It has a query or a fragment.
    #[error("give the collector's base URL, without a query or fragment")]
    NotABase,
    /// It names the traces endpoint, which the daemon adds itself.
    #[error("give the collector's base URL: the daemon adds /v1/traces itself")]
    TracesPath,
    /// It carries a user or password, which the log would show.
    #[error(
        "the URL carries credentials, which the log would show; \
         set OTEL_EXPORTER_OTLP_HEADERS (e.g. authorization=Bearer …) instead"
    )]
    Credentials,
}

/// The `--otlp` flag's value: the collector's OTLP/HTTP base URL, `http` or `https`.
pub fn parse_collector(text: &str) -> Result<Url, CollectorUrlError> {
    let url = Url::parse(text)?;
    if !matches!(url.scheme(), "http" | "https") || !url.has_host() {
        return Err(CollectorUrlError::NotHttp);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(CollectorUrlError::NotABase);
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(CollectorUrlError::Credentials);
    }
    if url.path().trim_end_matches('/').ends_with("/v1/traces") {
        return Err(CollectorUrlError::TracesPath);
    }
    Ok(url)
}

/// Where a collector whose base URL is `collector` takes traces: `v1/traces` under its
/// path, as OTLP/HTTP has it.
pub fn traces_endpoint(collector: &Url) -> Url {
    let mut endpoint = collector.clone();
    if let Ok(mut segments) = endpoint.path_segments_mut() {
        segments.pop_if_empty().extend(["v1", "traces"]);
    }
    endpoint
}

/// The export, running: its spans come from [`Otlp::layer`].
pub struct Otlp {
    provider: SdkTracerProvider,
}

impl Otlp {
    /// Starts the export to the collector at `collector`. Nothing is sent yet, so a
    /// collector that is not there is found only when a batch goes out. Call it outside
    /// an async runtime: the HTTP client it makes is a blocking one.
    pub fn start(collector: &Url) -> Result<Otlp, OtlpError> {
        let endpoint = traces_endpoint(collector);
        let exporter = opentelemetry_otlp::SpanExporter::builder()
            .with_http()
            .with_protocol(Protocol::HttpBinary)
            .with_endpoint(endpoint.as_str())
            .with_timeout(EXPORT_TIMEOUT)
            .build()
            .map_err(|source| OtlpError {
                collector: collector.to_string(),
                source,
            })?;
        let resource = Resource::builder()
            .with_service_name("jitosd")
            .with_attribute(KeyValue::new("service.version", env!("CARGO_PKG_VERSION")))
            .build();
        let provider = SdkTracerProvider::builder()
            .with_resource(resource)
            .with_batch_exporter(Watched::new(exporter, endpoint))
            .build();
        Ok(Otlp { provider })
    }

    /// The layer that turns the traced spans into OpenTelemetry spans, with the events
    /// logged in them at `info` and above.
    pub fn layer<S>(&self) -> impl Layer<S>
    where
        S: Subscriber + for<'span> LookupSpan<'span>,
    {
        tracing_opentelemetry::layer()
            .with_tracer(self.provider.tracer("jitosd"))
            .with_filter(DynFilterFn::new(traced::<S>).with_callsite_filter(may_be_traced))
    }

    /// Sends the spans still queued and stops the export, waiting at most
    /// [`SHUTDOWN_WAIT`]; call it outside an async runtime, once the traced spans have
    /// ended.
    pub fn shutdown(self) {
        if let Err(error) = self.provider.shutdown_with_timeout(SHUTDOWN_WAIT) {
            tracing::warn!(%error, "the spans still queued for the OTLP collector were not all sent");
        }
    }
}

/// Whether a callsite can ever be taken, asked once per callsite: events below `info`
/// never are, so they cost the layer nothing at run time.
fn may_be_traced(meta: &'static Metadata<'static>) -> Interest {
    if meta.is_span() || *meta.level() <= Level::INFO {
        Interest::sometimes()
    } else {
        Interest::never()
    }
}

/// Whether the OTLP layer takes `meta`: a span that is traced or opened within one, an
/// event at `info` or above logged within one.
fn traced<S>(meta: &Metadata<'_>, cx: &Context<'_, S>) -> bool
where
    S: Subscriber + for<'span> LookupSpan<'span>,
{
    // In a per-layer filter the current span is the innermost one this layer took.
    let within = cx.lookup_current().is_some();
    if meta.is_span() {
        within || (meta.target().starts_with("jitosd") && TRACED.contains(&meta.name()))
    } else {
        within && *meta.level() <= Level::INFO
    }
}

/// An exporter that says in the log when the collector stops taking batches, once, and
/// when it takes one again, with how many spans were dropped in between.
#[derive(Debug)]
struct Watched<E> {
    inner: E,
    endpoint: Url,
    failing: AtomicBool,
    dropped: AtomicU64,
}

impl<E> Watched<E> {
    fn new(inner: E, endpoint: Url) -> Watched<E> {
        Watched {
            inner,
            endpoint,
            failing: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
        }
    }
}

impl<E: SpanExporter> SpanExporter for Watched<E> {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        let spans = batch.len() as u64;
        let sent = self.inner.export(batch).await;
        match &sent {
            Err(error) => {
                self.dropped.fetch_add(spans, Ordering::Relaxed);
                if !self.failing.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        endpoint = %self.endpoint,
                        %error,
                        "the OTLP collector does not take spans; they are dropped until it does"
                    );
                }
            }
            Ok(()) => {
                if self.failing.swap(false, Ordering::Relaxed) {
                    tracing::info!(
                        endpoint = %self.endpoint,
                        dropped = self.dropped.swap(0, Ordering::Relaxed),
                        "the OTLP collector takes spans again"
                    );
                }
            }
        }
        sent
    }

    fn shutdown_with_timeout(&mut self, timeout: Duration) -> OTelSdkResult {
        self.inner.shutdown_with_timeout(timeout)
    }

    fn shutdown(&mut self) -> OTelSdkResult {
        self.inner.shutdown()
    }

    fn force_flush(&mut self) -> OTelSdkResult {
        self.inner.force_flush()
    }

    fn set_resource(&mut self, resource: &Resource) {
        self.inner.set_resource(resource);
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]

    use super::*;

    #[test]
    fn traces_go_to_v1_traces_under_the_collectors_path() {
        for (base, endpoint) in [
            ("http://127.0.0.1:4318", "http://127.0.0.1:4318/v1/traces"),
            ("http://127.0.0.1:4318/", "http://127.0.0.1:4318/v1/traces"),
            (
                "https://otel.example/otlp",
                "https://otel.example/otlp/v1/traces",
            ),
            (
                "https://otel.example/otlp/",
                "https://otel.example/otlp/v1/traces",
            ),
        ] {
            let url = parse_collector(base).unwrap();
            assert_eq!(traces_endpoint(&url).as_str(), endpoint, "{base}");
        }
    }

    #[test]
    fn a_collector_is_an_http_or_https_base_url() {
        for refused in [
            "127.0.0.1:4318",
            "grpc://127.0.0.1:4317",
            "file:///tmp/spans",
            "http://127.0.0.1:4318/?token=x",
            "http://user:secret@127.0.0.1:4318",
            "http://127.0.0.1:4318/v1/traces",
            "http://127.0.0.1:4318/otlp/v1/traces/",
        ] {
            assert!(parse_collector(refused).is_err(), "{refused} was taken");
        }
    }
}
