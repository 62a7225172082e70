//! The runtime API for a running app: report task size, progress, solved, failed and ETA on the app's row, from the ids the manager put in the environment.
//!
//! ```no_run
//! # async fn example() -> Result<(), String> {
//! let run = dc_manager::app_api::AppRun::from_env().await?;
//! run.report(&dc_manager::store::Progress { task_size: Some(100), solved: Some(10), progress: Some(10), ..Default::default() }).await?;
//! # Ok(()) }
//! ```

use dc_runtime::db::DatabaseUrl;

use crate::process::{ENV_APP_ID, ENV_RUNTIME_ID};
use crate::store::{self, Progress};

/// The current run of an app, as the manager started it.
pub struct AppRun {
    client: tokio_postgres::Client,
    pub app_id: String,
    pub runtime_id: String,
}

impl AppRun {
    /// Connects with `DC_DB_MAIN_URL` and reads `DC_APP_ID` and `DC_RUNTIME_ID`.
    pub async fn from_env() -> Result<AppRun, String> {
        let variable = |name: &str| std::env::var(name).map_err(|_| format!("{name} is not set: this API is for apps started by dc-manager"));
        let app_id = variable(ENV_APP_ID)?;
        let runtime_id = variable(ENV_RUNTIME_ID)?;
        let url = DatabaseUrl::from_env().map_err(|e| e.to_string())?;
        let client = store::connect(&url).await?;
        Ok(AppRun { client, app_id, runtime_id })
    }

    /// Writes the given values (the others stay); false if this run is no longer the app's current one.
    pub async fn report(&self, progress: &Progress) -> Result<bool, String> {
        store::report_progress(&self.client, &self.app_id, &self.runtime_id, progress).await.map_err(|e| e.to_string())
    }
}
