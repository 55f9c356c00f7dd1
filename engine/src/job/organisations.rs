//! The organisations a module's connections reach, and what the state
//! store holds for that pair: a module's links, cursor and intents belong
//! to the pair, so the same project pointed at another organisation (Xero's
//! demo company, then the real one; a sandbox restarted) starts clean for
//! it, and says so.

use crate::connector::{Connections, ConnectorError, Organisation};
use crate::module::Module;
use crate::state::{OrgPair, StateError, StateStore};

use super::JobContext;

/// What binding a module to its organisations found.
#[derive(Debug, Clone, Default)]
pub struct Bound {
    /// What people should know (a new organisation, state adopted).
    pub notes: Vec<String>,
    /// Other organisation pairs the module's state holds links for.
    pub other_pairs: Vec<OrgPair>,
}

/// The organisations of one module's source and target.
#[derive(Debug, Clone, Default)]
pub struct ModuleOrganisations {
    /// The source's organisation (`zoho:...`), when it has one.
    pub source: Option<Organisation>,
    /// The target's organisation (`xero:...`), when it has one.
    pub target: Option<Organisation>,
}

impl ModuleOrganisations {
    /// Asks the module's connections which organisations they reach (a
    /// snapshot read instead of the source has none).
    pub async fn reach(ctx: &JobContext<'_>, module: &Module) -> Result<Self, ConnectorError> {
        Self::of(ctx.connections, module, ctx.input.is_some()).await
    }

    /// Asks `connections` which organisations the module's source (unless
    /// a `snapshot` is read instead) and target reach.
    pub async fn of(
        connections: &Connections<'_>,
        module: &Module,
        snapshot: bool,
    ) -> Result<Self, ConnectorError> {
        let source = match snapshot {
            true => None,
            false => {
                connections
                    .get(&module.source.connection)?
                    .organisation()
                    .await?
            }
        };
        let target = connections
            .get(&module.target.connection)?
            .organisation()
            .await?;
        Ok(Self { source, target })
    }

    /// The pair as the state store keys it.
    pub fn pair(&self) -> OrgPair {
        OrgPair {
            source: self
                .source
                .as_ref()
                .map(|o| o.id.clone())
                .unwrap_or_default(),
            target: self
                .target
                .as_ref()
                .map(|o| o.id.clone())
                .unwrap_or_default(),
        }
    }

    /// What names the target in a writer lock: its organisation, or the
    /// connection when it reaches none (a file).
    pub fn target_key(&self, module: &Module) -> String {
        match &self.target {
            Some(org) => org.id.clone(),
            None => format!("connection:{}", module.target.connection),
        }
    }

    /// Reads the module's state as this pair's: recorded for a run that
    /// loads, only looked at for a plan. Returns what people should know,
    /// and the other pairs the module's state holds links for.
    pub async fn bind(
        &self,
        store: &dyn StateStore,
        module: &Module,
        load: bool,
    ) -> Result<Bound, StateError> {
        let pair = self.pair();
        if pair.key().is_empty() {
            return Ok(Bound::default());
        }
        if !load {
            store.look_at(&module.name, &pair);
            return Ok(Bound::default());
        }
        let report = store.bind(&module.name, &pair).await?;
        let mut notes = Vec::new();
        let target = self.describe_target();
        if report.adopted > 0 {
            notes.push(format!(
                "{}: the {} links kept before organisations were recorded are taken as {target}'s",
                module.name, report.adopted
            ));
        }
        let elsewhere: u64 = report.other_pairs.iter().map(|(_, n)| n).sum();
        if report.new_pair && elsewhere > 0 {
            notes.push(format!(
                "{}: {target} is new to this project: its state starts clean (the state \
                 store keeps {elsewhere} links of this module for other organisations)",
                module.name
            ));
        }
        Ok(Bound {
            notes,
            other_pairs: report.other_pairs.into_iter().map(|(p, _)| p).collect(),
        })
    }

    /// The target organisation for people: `Xero organisation "Demo Company" (xero:...)`.
    fn describe_target(&self) -> String {
        match &self.target {
            Some(org) if !org.name.is_empty() => {
                format!("organisation \"{}\" ({})", org.name, org.id)
            }
            Some(org) => format!("organisation {}", org.id),
            None => "the target".into(),
        }
    }
}
