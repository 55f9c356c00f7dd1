//! Opening one of the run's connections as a source or as a sink.

use syncwright_engine::connector::{Connections, ConnectorError, Sink, Source};

/// The run's connection `name` as a source.
pub(crate) fn open_source(
    connections: &Connections,
    name: &str,
) -> Result<Box<dyn Source>, ConnectorError> {
    connections.get(name)?.source()
}

/// The run's connection `name` as a sink.
pub(crate) fn open_sink(
    connections: &Connections,
    name: &str,
) -> Result<Box<dyn Sink>, ConnectorError> {
    connections.get(name)?.sink()
}
