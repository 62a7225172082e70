//! Registration: a manifest's groups, parents, apps and schedules written through dc-runtime's merge; and the schema made ready (migrations, codebooks).
//!
//! This is the one module that calls `dc_runtime::Merge` (and Diesel), so a
//! change of the merge API touches only this file.

use diesel::connection::Connection;
use diesel::pg::PgConnection;
use diesel::RunQueryDsl;
use dc_runtime::db::DatabaseUrl;
use dc_runtime::table::{TableInfo, TableOf};
use dc_runtime::{Merge, Mode};
use dc_schema::models::{NewAppGroups, NewAppParents, NewAppSchedules, NewApps};

use crate::ids;
use crate::manifest::AppSpec;

/// What registration did, per table.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Registered {
    pub groups: (u64, u64),
    pub parents: (u64, u64),
    pub apps: (u64, u64),
    pub schedules: (u64, u64),
}

impl std::fmt::Display for Registered {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let part = |(new, changed): (u64, u64)| format!("{new} new, {changed} changed");
        write!(f, "groups: {}; parents: {}; apps: {}; schedules: {}", part(self.groups), part(self.parents), part(self.apps), part(self.schedules))
    }
}

fn connect(url: &DatabaseUrl) -> Result<PgConnection, String> {
    url.establish().map_err(|error| error.to_string())
}

/// Runs pending migrations and syncs the codebooks, one manager at a time
/// (an advisory lock: managers starting together must not race).
pub fn prepare_database(url: &DatabaseUrl) -> Result<(), String> {
    let mut conn = connect(url)?;
    let lock = "SELECT pg_advisory_lock(hashtext('dc_manager_prepare'))";
    diesel::sql_query(lock).execute(&mut conn).map_err(|e| url.redact(&e.to_string()))?;
    let result = dc_runtime::db::run_migrations(&mut conn, dc_schema::MIGRATIONS, url)
        .map_err(|e| e.to_string())
        .and_then(|_| dc_runtime::sync_codebooks(&mut conn, dc_schema::tables::ALL).map(|_| ()).map_err(|e| url.redact(&e.to_string())));
    let _ = diesel::sql_query("SELECT pg_advisory_unlock(hashtext('dc_manager_prepare'))").execute(&mut conn);
    result
}

pub async fn prepare_database_async(url: &DatabaseUrl) -> Result<(), String> {
    let url = url.clone();
    tokio::task::spawn_blocking(move || prepare_database(&url)).await.map_err(|e| format!("preparing the database: {e}"))?
}

/// Adds new apps and updates changed ones (keyed by group, parent and name);
/// apps missing from the manifest are left alone (disable them with dcctl).
/// Only configuration is written: an app's runtime state (run status, last
/// and next run, fatal state, pending command, progress) survives a
/// re-registration, whatever changed in the manifest.
pub fn register(url: &DatabaseUrl, apps: &[AppSpec]) -> Result<Registered, String> {
    let mut conn = connect(url)?;
    let redact = |e: &dyn std::fmt::Display| url.redact(&e.to_string());
    let mut groups: Vec<NewAppGroups> = apps.iter().map(|a| NewAppGroups { name: Some(a.group.clone()) }).collect();
    groups.dedup();
    groups.sort_by(|a, b| a.name.cmp(&b.name));
    groups.dedup();
    let mut parents: Vec<NewAppParents> =
        apps.iter().map(|a| NewAppParents { parent: Some(ids::parent_id(&a.group, &a.parent)), name: a.parent.clone(), group_name: a.group.clone() }).collect();
    parents.sort_by(|a, b| (&a.group_name, &a.name).cmp(&(&b.group_name, &b.name)));
    parents.dedup();
    let app_rows: Vec<AppRegistration> = apps
        .iter()
        .map(|a| AppRegistration {
            app: ids::app_id(&a.group, &a.parent, &a.name),
            app_name: a.name.clone(),
            disable: !a.enabled,
            group_name: a.group.clone(),
            parent_id: ids::parent_id(&a.group, &a.parent),
            parent_name: a.parent.clone(),
        })
        .collect();
    let schedules: Vec<NewAppSchedules> = apps
        .iter()
        .map(|a| NewAppSchedules {
            app_id: ids::app_id(&a.group, &a.parent, &a.name),
            command: a.command.clone(),
            working_dir: a.working_dir.clone(),
            schedule: a.schedule.clone(),
            time_zone: Some(a.time_zone.clone()),
            overlap: Some(a.overlap),
            missed_run: Some(a.missed_run),
            run_all_deadline_s: Some(a.run_all_deadline_s),
            failure_threshold: Some(a.failure_threshold),
            stop_timeout_s: Some(a.stop_timeout_s),
        })
        .collect();
    fn keyed<R>(table: TableOf<R>, key: &[&str]) -> Result<Merge<R>, String> {
        Merge::new(table).map_err(|e| e.to_string())?.mode(Mode::InsertOnly).compare_key(key).map_err(|e| e.to_string())
    }
    conn.transaction::<_, TransactionError, _>(|conn| {
        let counts = |r: dc_runtime::MergeReport| (r.inserted, r.updated);
        fn merged<R: serde::Serialize + Sync>(merge: Result<Merge<R>, String>, conn: &mut PgConnection, rows: &[R], redact: &dyn Fn(&dyn std::fmt::Display) -> String) -> Result<dc_runtime::MergeReport, TransactionError> {
            let merge = merge.map_err(|e| TransactionError::Message(redact(&e)))?;
            merge.run(conn, rows).map_err(|e| TransactionError::Message(redact(&e)))
        }
        let groups = merged(keyed(NewAppGroups::TABLE, &["name"]), conn, &groups, &redact)?;
        let parents = merged(keyed(NewAppParents::TABLE, &["name", "group_name"]), conn, &parents, &redact)?;
        let app_merge = registration_merge().and_then(|m| m.mode(Mode::InsertOnly).compare_key(&["group_name", "parent_name", "app_name"]).map_err(|e| e.to_string()));
        let apps = merged(app_merge, conn, &app_rows, &redact)?;
        let before = schedules_of(conn, &schedules)?;
        let schedules_report = merged(keyed(NewAppSchedules::TABLE, &["app_id"]), conn, &schedules, &redact)?;
        restart_changed_schedules(conn, &before, &schedules)?;
        let schedules = schedules_report;
        Ok(Registered { groups: counts(groups), parents: counts(parents), apps: counts(apps), schedules: counts(schedules) })
    })
    .map_err(|error| match error {
        TransactionError::Database(e) => redact(&e),
        TransactionError::Message(message) => message,
    })
}

/// The registration's view of an `apps` row: the columns a manifest sets
/// (the row hash's columns), fields sorted by column name as the hash reads
/// them. Merging this instead of the whole [`NewApps`] leaves the manager's
/// runtime columns (run_status, last_run, next_run, fatal state, commands,
/// progress) as they are when an app's registration changes.
#[derive(Debug, Clone, serde::Serialize)]
struct AppRegistration {
    app: String,
    app_name: String,
    disable: bool,
    group_name: String,
    parent_id: String,
    parent_name: String,
}

/// A merge of `apps` over [`AppRegistration`]: the table's facts narrowed to
/// the hashed columns (and the columns merge itself manages), so the row
/// hash is the one a full `NewApps` row gets and nothing else is written.
fn registration_merge() -> Result<Merge<AppRegistration>, String> {
    let mut info = TableInfo::parse(NewApps::TABLE_INFO).map_err(|e| e.to_string())?;
    info.columns.retain(|column| column.hashed || column.role.is_some() || column.identity);
    info.insert_struct = "AppRegistration".to_string();
    let fields: Vec<&str> = info.columns.iter().filter_map(|c| c.field.as_deref()).collect();
    // The struct above must name exactly these fields, in this order.
    if fields != ["app", "group_name", "parent_name", "app_name", "parent_id", "disable"] {
        return Err(format!("the apps table's hashed columns are {fields:?}; update AppRegistration in runtime/manager/src/register.rs to match"));
    }
    Merge::from_info(info).map_err(|e| e.to_string())
}

/// Each registered app's schedule and time zone as the database holds them before the merge.
fn schedules_of(conn: &mut PgConnection, rows: &[NewAppSchedules]) -> Result<Vec<ScheduleText>, TransactionError> {
    let ids: Vec<String> = rows.iter().map(|r| r.app_id.clone()).collect();
    Ok(diesel::sql_query("SELECT app_id, schedule, time_zone FROM app_schedules WHERE app_id = ANY($1)")
        .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(ids)
        .load::<ScheduleText>(conn)?)
}

#[derive(diesel::QueryableByName, Debug)]
struct ScheduleText {
    #[diesel(sql_type = diesel::sql_types::Text)]
    app_id: String,
    #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
    schedule: Option<String>,
    #[diesel(sql_type = diesel::sql_types::Text)]
    time_zone: String,
}

/// An app whose schedule or time zone changed gets its `next_run` cleared:
/// the next tick computes it from the new schedule, from now (otherwise
/// the old schedule's next occurrence would still be waited for).
fn restart_changed_schedules(conn: &mut PgConnection, before: &[ScheduleText], rows: &[NewAppSchedules]) -> Result<(), TransactionError> {
    let changed: Vec<String> = before
        .iter()
        .filter(|old| {
            rows.iter().any(|new| new.app_id == old.app_id && (new.schedule != old.schedule || new.time_zone.as_deref() != Some(old.time_zone.as_str())))
        })
        .map(|old| old.app_id.clone())
        .collect();
    if !changed.is_empty() {
        diesel::sql_query("UPDATE apps SET next_run = NULL WHERE app = ANY($1)")
            .bind::<diesel::sql_types::Array<diesel::sql_types::Text>, _>(changed)
            .execute(conn)?;
    }
    Ok(())
}

/// What can end the registration transaction (Diesel needs `From<diesel::result::Error>`).
#[derive(Debug)]
enum TransactionError {
    Database(diesel::result::Error),
    Message(String),
}

impl From<diesel::result::Error> for TransactionError {
    fn from(error: diesel::result::Error) -> Self {
        TransactionError::Database(error)
    }
}
