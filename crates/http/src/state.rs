//! Application state shared by every handler.

use renkei_service::Services;

#[derive(Clone)]
pub struct AppState {
    pub services: Services,
}
