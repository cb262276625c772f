//! The acting organisation of a request, for its log line: the log layer
//! (`router::log_request`) puts an empty slot in the request; the authentication
//! extractors fill it with the actor's organisation code.

/// The slot the log layer puts in each request.
#[derive(Clone, Default)]
pub struct LogOrg(std::sync::Arc<std::sync::OnceLock<String>>);

impl LogOrg {
    /// The code recorded, if an extractor recorded one.
    pub fn code(&self) -> Option<&str> {
        self.0.get().map(String::as_str)
    }
}

/// Records the acting organisation's code for the request's log line.
pub fn note_org(extensions: &axum::http::Extensions, code: &str) {
    if let Some(LogOrg(slot)) = extensions.get::<LogOrg>() {
        let _ = slot.set(code.to_owned());
    }
}
