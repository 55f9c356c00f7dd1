//! The connector contract: sources that extract records, sinks that load
//! payloads, connections made once from a connector's typed options, and
//! the registry where every connector kind is declared once.

use std::collections::BTreeMap;
use std::marker::PhantomData;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use serde_json::Value;

use crate::outcome::LoadResult;
use crate::project::Project;
use crate::state::StateStore;

/// An error from a connector, with the reason in words.
#[derive(Debug, thiserror::Error)]
pub enum ConnectorError {
    /// The connection's options are wrong.
    #[error("{0}")]
    Config(String),
    /// Reading or writing failed.
    #[error("{0}")]
    Io(String),
    /// The remote system refused or failed; a write may or may not have
    /// reached it.
    #[error("{0}")]
    Remote(String),
    /// The request never left (a daily limit reached, a token refused, a
    /// lookup it needed failed): the remote system wrote nothing.
    #[error("{0}")]
    NotSent(String),
}

/// One item read from a source: a record, or input that could not be read as one.
#[derive(Debug, Clone)]
pub enum SourceItem {
    /// A record as the source gave it.
    Record(Value),
    /// Input that is not a record (bad JSON line), with where and why.
    Unreadable {
        /// Where it was (line number, offset).
        position: String,
        /// Why it could not be read.
        reason: String,
    },
}

/// What to extract.
#[derive(Debug, Clone, Default)]
pub struct ExtractRequest {
    /// The source module's API name (`Invoices`).
    pub module: String,
    /// Only these record ids (single-record sync), when not empty.
    pub ids: Vec<String>,
    /// Only records modified after this time (ISO-8601), when set.
    pub modified_since: Option<String>,
    /// The top-level fields the module reads (a source may return more).
    pub fields: Vec<String>,
}

/// A system records are read from.
#[async_trait]
pub trait Source: Send {
    /// Starts reading `request.module`.
    async fn open(&mut self, request: &ExtractRequest) -> Result<(), ConnectorError>;
    /// The next batch of items; `None` at the end.
    async fn next_batch(&mut self) -> Result<Option<Vec<SourceItem>>, ConnectorError>;
    /// Related records of `module` with these ids (missing ids are simply
    /// absent), with at least `fields` (top-level field names).
    async fn fetch_related(
        &mut self,
        module: &str,
        ids: &[String],
        fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError>;
    /// Related records of `module` whose field `key` (dotted, such as
    /// `Account_Name.id`) equals one of `values`, with at least `fields`.
    async fn fetch_related_by(
        &mut self,
        module: &str,
        key: &str,
        values: &[String],
        fields: &[String],
    ) -> Result<Vec<Value>, ConnectorError> {
        let _ = (values, fields);
        Err(ConnectorError::Config(format!(
            "{} cannot look up {module} by {key}",
            self.describe()
        )))
    }
    /// How many records the opened read will give, when the source can tell
    /// cheaply (for a progress bar); `None` when it cannot.
    async fn total_hint(&mut self) -> Option<u64> {
        None
    }
    /// True when [`Source::write_back`] can write into this source.
    fn supports_write_back(&self) -> bool {
        false
    }
    /// Writes fields into source records (the load's outcome); one result
    /// per update, in order.
    async fn write_back(
        &mut self,
        module: &str,
        updates: &[(String, serde_json::Map<String, Value>)],
    ) -> Result<Vec<Result<(), String>>, ConnectorError> {
        let _ = updates;
        Err(ConnectorError::Config(format!(
            "{} cannot write back to {module}",
            self.describe()
        )))
    }
    /// A short description for reports (`file crm.json`).
    fn describe(&self) -> String;
    /// API calls made so far (0 for sources that make none).
    fn api_calls(&self) -> u64 {
        0
    }
}

/// One payload to load, with the source record it came from.
#[derive(Debug, Clone)]
pub struct LoadItem {
    /// The source record's id.
    pub source_id: String,
    /// The target payload.
    pub payload: Value,
    /// The linked target record, when this is an update (Xero `InvoiceID`).
    pub target_id: Option<String>,
}

/// A system payloads are written to.
#[async_trait]
pub trait Sink: Send {
    /// Most items one `load` call takes.
    fn max_batch(&self) -> usize;
    /// Loads a batch into `resource`; one result per item, in order. The
    /// request carries `idempotency_key`: the same key with the same items
    /// must never create twice.
    async fn load(
        &mut self,
        resource: &str,
        items: Vec<LoadItem>,
        idempotency_key: &str,
    ) -> Result<Vec<LoadResult>, ConnectorError>;
    /// Checks a payload against the target's reference data before anything
    /// is sent (Xero: TaxTypes, AccountCodes and ItemCodes that exist in the
    /// organisation); one problem per entry, as `(field, message)`.
    async fn check_references(
        &mut self,
        resource: &str,
        payload: &Value,
    ) -> Result<Vec<(String, String)>, ConnectorError> {
        let _ = (resource, payload);
        Ok(Vec::new())
    }
    /// Looks for records the target already holds: one entry per item,
    /// `Some` when it holds one (a failed result when the match is ambiguous
    /// or is another document), `None` inside when it holds none. `None` for
    /// the whole when this sink cannot tell.
    async fn find_existing(
        &mut self,
        resource: &str,
        items: &[LoadItem],
        purpose: FindPurpose,
    ) -> Result<Option<Vec<Option<LoadResult>>>, ConnectorError> {
        let _ = (resource, items, purpose);
        Ok(None)
    }
    /// Deletes record `id` of `resource` (a two-way pair's deletion,
    /// propagated); a sink that cannot delete says so.
    async fn delete(&mut self, resource: &str, id: &str) -> Result<(), ConnectorError> {
        let _ = id;
        Err(ConnectorError::Config(format!(
            "{} cannot delete {resource} records",
            self.describe()
        )))
    }
    /// Flushes and closes.
    async fn finish(&mut self) -> Result<(), ConnectorError>;
    /// A short description for reports.
    fn describe(&self) -> String;
    /// API calls made so far (0 for sinks that make none).
    fn api_calls(&self) -> u64 {
        0
    }
}

/// Why existing target records are looked up, which sets how closely a
/// found record must match.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindPurpose {
    /// Settling a create a dead run sent: the record found must be the very
    /// document sent (same number, contact, date and lines).
    Resume,
    /// `syncwright link`: adopting records another tool made from the same
    /// CRM records; the number and the contact must match, the content may
    /// have drifted (the first sync updates it).
    Adopt,
}

/// What a connector is given besides its options.
#[derive(Clone)]
pub struct ConnectorContext {
    /// Directory of the project file; relative paths in options are relative to it.
    pub base_dir: PathBuf,
    /// The connection's name in the project file.
    pub connection: String,
    /// The project's state store, where what processes share lives (an
    /// access token a system grants only a few of); `None` for a plan
    /// with no store.
    pub store: Option<Arc<dyn StateStore>>,
}

impl std::fmt::Debug for ConnectorContext {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConnectorContext")
            .field("base_dir", &self.base_dir)
            .field("connection", &self.connection)
            .field("store", &self.store.as_ref().map(|s| s.location()))
            .finish()
    }
}

/// One connection, made from its options once they are parsed and checked:
/// every source and sink of the connection is built from it, so what was
/// checked is what runs, and what it holds (a token, a pacer) is shared by
/// every module reading or writing through the connection.
#[async_trait]
pub trait Connector: Send + Sync {
    /// Builds a source reading through this connection, or says it cannot be one.
    fn source(&self) -> Result<Box<dyn Source>, ConnectorError>;
    /// Builds a sink writing through this connection, or says it cannot be one.
    fn sink(&self) -> Result<Box<dyn Sink>, ConnectorError>;
    /// The organisation this connection reaches, as the system names it
    /// (`zoho:<org id>`, `xero:<tenant id>`): state is kept per
    /// organisation, so pointing a project at another one starts clean.
    /// `None` for connections that reach no organisation (files).
    async fn organisation(&self) -> Result<Option<Organisation>, ConnectorError> {
        Ok(None)
    }
    /// The files on this machine it reads as a source and writes as a
    /// sink, so that a project whose output would write over one of its
    /// inputs is refused before it runs. None by default.
    fn files(&self) -> ConnectionFiles {
        ConnectionFiles::default()
    }
}

/// The files on this machine a connection reads and writes, each with the
/// option that names it (`path`).
#[derive(Debug, Clone, Default)]
pub struct ConnectionFiles {
    /// Read when the connection is a module's source.
    pub read_as_source: Vec<(String, PathBuf)>,
    /// Written when the connection is a module's target.
    pub written_as_target: Vec<(String, PathBuf)>,
}

/// An organisation a connection reaches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Organisation {
    /// Stable id, prefixed with the system (`xero:7c2c...`).
    pub id: String,
    /// Its name, for people (`Demo Company (AU)`).
    pub name: String,
}

/// A connector kind's options as a typed struct: the one place its `kind`,
/// its description, its schema (derived from the struct and its doc
/// comments) and its checks are declared. Registered with
/// [`ConnectorRegistry::register`].
pub trait ConnectorConfig:
    serde::de::DeserializeOwned + schemars::JsonSchema + Send + Sync + 'static
{
    /// The `kind` value that selects it.
    const KIND: &'static str;
    /// One line for people.
    const DESCRIPTION: &'static str;
    /// Checks what the types cannot say (an option another one needs); the
    /// error names the option. Reads no file and connects to nothing.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
    /// The connection these (checked) options describe. Reads no file and
    /// connects to nothing: that waits for its first source or sink.
    fn connect(self, ctx: &ConnectorContext) -> Arc<dyn Connector>;
}

/// A connector kind as the registry holds it: its options' schema, and how
/// options become a [`Connector`].
pub trait ConnectorFactory: Send + Sync {
    /// The `kind` value that selects it.
    fn kind(&self) -> &'static str;
    /// One line for people.
    fn description(&self) -> &'static str;
    /// JSON Schema of its options.
    fn schema(&self) -> schemars::Schema;
    /// Parses and checks a connection's options into the connection; the
    /// error names the bad option. Reads no file and connects to nothing.
    fn configure(
        &self,
        ctx: &ConnectorContext,
        options: &Value,
    ) -> Result<Arc<dyn Connector>, ConnectorError>;
}

/// The factory of a [`ConnectorConfig`]: everything it says comes from the config type.
struct ConfigFactory<C>(PhantomData<fn() -> C>);

impl<C: ConnectorConfig> ConnectorFactory for ConfigFactory<C> {
    fn kind(&self) -> &'static str {
        C::KIND
    }

    fn description(&self) -> &'static str {
        C::DESCRIPTION
    }

    fn schema(&self) -> schemars::Schema {
        schemars::schema_for!(C)
    }

    fn configure(
        &self,
        ctx: &ConnectorContext,
        options: &Value,
    ) -> Result<Arc<dyn Connector>, ConnectorError> {
        let config = <C as serde::Deserialize>::deserialize(options)
            .map_err(|e| ConnectorError::Config(without_values(&e.to_string())))?;
        config.validate().map_err(ConnectorError::Config)?;
        Ok(config.connect(ctx))
    }
}

/// serde's words about a bad option, without the text it was given: a
/// secret put in the wrong option (`batch_size: ${XERO_CLIENT_SECRET}`)
/// must not reach a message.
fn without_values(message: &str) -> String {
    if let (Some(start), Some(end)) = (message.find("string \""), message.rfind("\", expected")) {
        if start < end {
            return format!("{}a string{}", &message[..start], &message[end + 1..]);
        }
    }
    if let Some(rest) = message.strip_prefix("unknown variant `") {
        if let Some(end) = rest.find("`, expected") {
            return format!("unknown value{}", &rest[end + 1..]);
        }
    }
    message.to_string()
}

/// Every connector kind the binary knows, by `kind`.
#[derive(Default)]
pub struct ConnectorRegistry {
    kinds: BTreeMap<&'static str, Box<dyn ConnectorFactory>>,
}

impl ConnectorRegistry {
    /// Adds the connector kind whose options are `C`.
    pub fn register<C: ConnectorConfig>(&mut self) {
        self.kinds
            .insert(C::KIND, Box::new(ConfigFactory::<C>(PhantomData)));
    }

    /// The factory for `kind`.
    pub fn get(&self, kind: &str) -> Option<&dyn ConnectorFactory> {
        self.kinds.get(kind).map(|f| f.as_ref())
    }

    /// Known kinds, sorted.
    pub fn kinds(&self) -> Vec<&'static str> {
        self.kinds.keys().copied().collect()
    }

    /// Every factory, sorted by kind.
    pub fn factories(&self) -> impl Iterator<Item = &dyn ConnectorFactory> {
        self.kinds.values().map(|f| f.as_ref())
    }
}

/// The connections of one run: each made from the project's options on
/// first use, then shared by every module that reads or writes through it
/// (one token and one pacer per Xero organisation, one Zoho token).
pub struct Connections<'p> {
    registry: ConnectorRegistry,
    project: ProjectRef<'p>,
    store: Option<Arc<dyn StateStore>>,
    made: Mutex<BTreeMap<String, Arc<dyn Connector>>>,
}

/// The project connections are made for: borrowed for one run, or shared
/// with a service that lives as long as the connections do.
enum ProjectRef<'p> {
    Borrowed(&'p Project),
    Shared(Arc<Project>),
}

impl Connections<'static> {
    /// The connections of a project shared with whoever else holds it (a
    /// service, which starts and stops projects while the process lives).
    pub fn shared(registry: ConnectorRegistry, project: Arc<Project>) -> Self {
        Self::with_project(registry, ProjectRef::Shared(project))
    }
}

impl<'p> Connections<'p> {
    /// The connections of `project`, made by the kinds `registry` knows.
    pub fn new(registry: ConnectorRegistry, project: &'p Project) -> Self {
        Self::with_project(registry, ProjectRef::Borrowed(project))
    }

    fn with_project(registry: ConnectorRegistry, project: ProjectRef<'p>) -> Self {
        Self {
            registry,
            project,
            store: None,
            made: Mutex::new(BTreeMap::new()),
        }
    }

    /// Connections that keep what processes share (access tokens) in `store`.
    pub fn with_store(mut self, store: Option<Arc<dyn StateStore>>) -> Self {
        self.store = store;
        self
    }

    /// The project whose connections these are.
    pub fn project(&self) -> &Project {
        match &self.project {
            ProjectRef::Borrowed(project) => project,
            ProjectRef::Shared(project) => project,
        }
    }

    /// The connection `name`, made on first use.
    pub fn get(&self, name: &str) -> Result<Arc<dyn Connector>, ConnectorError> {
        let mut made = self.made.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(connector) = made.get(name) {
            return Ok(connector.clone());
        }
        let project = self.project();
        let connection = project
            .connections
            .get(name)
            .ok_or_else(|| ConnectorError::Config(format!("no connection `{name}`")))?;
        let factory = self.registry.get(&connection.kind).ok_or_else(|| {
            ConnectorError::Config(format!("unknown connector kind `{}`", connection.kind))
        })?;
        let ctx = ConnectorContext {
            base_dir: project.base_dir.clone(),
            connection: name.to_string(),
            store: self.store.clone(),
        };
        let connector = factory.configure(&ctx, &connection.options)?;
        made.insert(name.to_string(), connector.clone());
        Ok(connector)
    }
}

#[cfg(test)]
mod tests {
    use super::without_values;

    #[test]
    fn option_errors_keep_the_option_and_drop_the_value() {
        assert_eq!(
            without_values("invalid type: string \"s3cr3t\", expected usize"),
            "invalid type: a string, expected usize"
        );
        assert_eq!(
            without_values(
                "unknown variant `s3cr3t`, expected `client_credentials` or `refresh_token`"
            ),
            "unknown value, expected `client_credentials` or `refresh_token`"
        );
        assert_eq!(
            without_values("missing field `client_id`"),
            "missing field `client_id`"
        );
    }
}
