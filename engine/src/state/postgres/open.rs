//! Connecting the PostgreSQL store: the connection pool, the schema brought
//! up to date, a handle per project with its bindings loaded; and the
//! database's errors as state errors, on one line.

use std::sync::Arc;
use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::NoTls;

use super::url::Target;
use super::{schema, PostgresStore};
use crate::state::codec::BoundPairs;
use crate::state::StateError;

/// Connections one pool opens at most.
const POOL_SIZE: usize = 8;

/// How long a call waits for a free connection.
const POOL_WAIT: Duration = Duration::from_secs(30);

impl PostgresStore {
    /// Connects to the database `url` names (`postgres://` or
    /// `postgresql://`), brings its schema up to date (refusing one that is
    /// newer) and gives a handle on `project`'s state. Errors name the URL
    /// without credentials.
    pub async fn connect(url: &str, project: &str) -> Result<PostgresStore, StateError> {
        let target = Arc::new(Target::parse(url)?);
        let manager = Manager::from_config(
            target.config.clone(),
            NoTls,
            ManagerConfig {
                recycling_method: RecyclingMethod::Fast,
            },
        );
        let pool = Pool::builder(manager)
            .max_size(POOL_SIZE)
            .runtime(Runtime::Tokio1)
            .wait_timeout(Some(POOL_WAIT))
            .build()
            .map_err(|e| target.error(e))?;
        let mut client = pool.get().await.map_err(|e| target.error(describe(&e)))?;
        schema::migrate(&mut client, &target).await?;
        drop(client);
        Self::on_pool(pool, target, project).await
    }

    /// A handle on another project's state in the same database, sharing
    /// this handle's connections.
    pub async fn for_project(&self, project: &str) -> Result<PostgresStore, StateError> {
        Self::on_pool(self.pool.clone(), self.target.clone(), project).await
    }

    /// A handle on `project`'s state over `pool`, its bindings loaded.
    async fn on_pool(
        pool: Pool,
        target: Arc<Target>,
        project: &str,
    ) -> Result<PostgresStore, StateError> {
        if project.trim().is_empty() {
            return Err(
                target.error("a PostgreSQL store needs the project's name to keep its state apart")
            );
        }
        let mut store = PostgresStore {
            pool,
            target,
            project: project.to_string(),
            bindings: BoundPairs::default(),
        };
        let client = store.client().await?;
        let rows = client
            .query(
                "SELECT module, orgs FROM syncwright_bindings WHERE project = $1",
                &[&store.project],
            )
            .await?;
        let loaded = rows
            .iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, tokio_postgres::Error>>()?;
        drop(client);
        store.bindings = BoundPairs::new(loaded);
        Ok(store)
    }
}

/// An error with the errors that caused it, as one line.
pub(super) fn describe(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text.replace('\n', " ")
}

impl From<tokio_postgres::Error> for StateError {
    fn from(e: tokio_postgres::Error) -> Self {
        StateError::Storage(describe(&e))
    }
}

impl From<deadpool_postgres::PoolError> for StateError {
    fn from(e: deadpool_postgres::PoolError) -> Self {
        StateError::Storage(describe(&e))
    }
}
