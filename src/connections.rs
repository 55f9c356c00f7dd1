//! Opening one of the project's connections as a source or as a sink.

use syncwright_engine::connector::{
    ConnectorContext, ConnectorError, ConnectorFactory, ConnectorRegistry, Sink, Source,
};
use syncwright_engine::Project;

/// The connection `name` of `project` as a source.
pub(crate) fn open_source(
    project: &Project,
    registry: &ConnectorRegistry,
    name: &str,
) -> Result<Box<dyn Source>, ConnectorError> {
    let (factory, ctx, options) = resolve(project, registry, name)?;
    factory.source(&ctx, options)
}

/// The connection `name` of `project` as a sink.
pub(crate) fn open_sink(
    project: &Project,
    registry: &ConnectorRegistry,
    name: &str,
) -> Result<Box<dyn Sink>, ConnectorError> {
    let (factory, ctx, options) = resolve(project, registry, name)?;
    factory.sink(&ctx, options)
}

/// The connection's factory, context and options.
fn resolve<'a>(
    project: &'a Project,
    registry: &'a ConnectorRegistry,
    name: &str,
) -> Result<
    (
        &'a dyn ConnectorFactory,
        ConnectorContext,
        &'a serde_json::Value,
    ),
    ConnectorError,
> {
    let connection = project
        .connections
        .get(name)
        .ok_or_else(|| ConnectorError::Config(format!("no connection `{name}`")))?;
    let factory = registry.get(&connection.kind).ok_or_else(|| {
        ConnectorError::Config(format!("unknown connector kind `{}`", connection.kind))
    })?;
    let ctx = ConnectorContext {
        base_dir: project.base_dir.clone(),
        connection: name.to_string(),
    };
    Ok((factory, ctx, &connection.options))
}
