//! Shared Rhai modules for rules: `import "shared/xero_lines" as lines;` in
//! a rule loads `shared/xero_lines.rhai` from the project's rules folder,
//! the nearest folder named `rules` that holds the rule. Modules are
//! compiled when the project loads, once per rule set, and embedded in the
//! rules that import them, so running a rule never reads a file. Nothing
//! outside the rules folder can be imported, and a shared module cannot
//! import another.

use std::collections::{BTreeSet, HashMap};
use std::ffi::OsStr;
use std::path::{Component, Path, PathBuf};

use rhai::module_resolvers::StaticModuleResolver;
use rhai::{ASTNode, Engine, Expr, Module, Position, Scope, Stmt, AST};

use crate::diagnostic::{codes, ConfigError, Location, SourceFile};
use crate::script::{collect_properties, ScriptLimits};

/// The name of the folder rules import shared modules from.
const RULES_FOLDER: &str = "rules";

/// What an import must look like, for the help of every import diagnostic.
const IMPORT_HELP: &str = "a rule imports a module of its project's rules folder by its path there, without `.rhai`: `import \"shared/xero_lines\" as lines;`";

/// The shared modules rules have imported so far, by canonical path, and
/// the properties their functions read.
#[derive(Default)]
pub(super) struct SharedModules {
    loaded: HashMap<PathBuf, Module>,
    properties: BTreeSet<String>,
}

impl SharedModules {
    /// The files of the modules loaded so far.
    pub(super) fn files(&self) -> impl Iterator<Item = &Path> {
        self.loaded.keys().map(PathBuf::as_path)
    }

    /// Adds the properties the loaded modules read (`x.name`) to `into`.
    pub(super) fn collect_properties(&self, into: &mut BTreeSet<String>) {
        into.extend(self.properties.iter().cloned());
    }

    /// Compiles `rule` (whose text `file` holds) with every module it
    /// imports embedded, so the rule runs on an engine that cannot load files.
    pub(super) fn compile_rule(
        &mut self,
        rule: &Path,
        file: &SourceFile,
        scope: &Scope,
        limits: &ScriptLimits,
        syntax_error: impl Fn(&SourceFile, rhai::ParseError) -> ConfigError,
    ) -> Result<AST, ConfigError> {
        let mut engine = parser(limits);
        let ast = engine
            .compile_with_scope(scope, file.text.as_str())
            .map_err(|err| syntax_error(file, err))?;
        let imports = imports_of(&ast, file)?;
        if imports.is_empty() {
            return Ok(ast);
        }
        let mut resolver = StaticModuleResolver::new();
        for (name, pos) in imports {
            let at = location(file, pos);
            let module = self.load(rule, &name, at, limits, &syntax_error)?;
            resolver.insert(name, module);
        }
        engine.set_module_resolver(resolver);
        // Every import is in the resolver: this embeds them, reading nothing.
        engine
            .compile_into_self_contained(scope, file.text.as_str())
            .map_err(|err| {
                ConfigError::at(
                    codes::RULE_IMPORT,
                    format!("cannot embed the rule's imports: {err}"),
                    location(file, err.position()),
                )
            })
    }

    /// Loads the module `name` imports from `rule`'s rules folder; `at` is
    /// the import statement, where a diagnostic points.
    fn load(
        &mut self,
        rule: &Path,
        name: &str,
        at: Location,
        limits: &ScriptLimits,
        syntax_error: &impl Fn(&SourceFile, rhai::ParseError) -> ConfigError,
    ) -> Result<Module, ConfigError> {
        let refuse = |message: String| {
            ConfigError::at(codes::RULE_IMPORT, message, at.clone()).with_help(IMPORT_HELP)
        };
        let folder = rule
            .ancestors()
            .skip(1)
            .find(|dir| dir.file_name() == Some(OsStr::new(RULES_FOLDER)))
            .ok_or_else(|| {
                refuse(format!(
                    "`import \"{name}\"`: the rule is in no folder named `{RULES_FOLDER}`, where shared modules live"
                ))
            })?;
        let inside = Path::new(name)
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
        if !inside || name.is_empty() {
            return Err(refuse(format!(
                "`import \"{name}\"` must name a module inside the rules folder `{}`",
                folder.display()
            )));
        }
        let path = folder.join(format!("{name}.rhai"));
        let canonical = path.canonicalize().map_err(|_| {
            refuse(format!(
                "`import \"{name}\"`: `{}` does not exist",
                path.display()
            ))
        })?;
        let root = folder.canonicalize().map_err(|e| {
            refuse(format!(
                "cannot read the rules folder `{}`: {e}",
                folder.display()
            ))
        })?;
        if !canonical.starts_with(&root) {
            return Err(refuse(format!(
                "`import \"{name}\"`: `{}` leads outside the rules folder `{}`",
                path.display(),
                folder.display()
            )));
        }
        if let Some(module) = self.loaded.get(&canonical) {
            return Ok(module.clone());
        }
        let module_file = SourceFile::read(&path).map_err(|e| *e)?;
        let mut engine = parser(limits);
        engine.disable_symbol("import");
        let ast = engine.compile(module_file.text.as_str()).map_err(|err| {
            syntax_error(&module_file, err)
                .with_label(format!("in a module `{}` imports", at.file.path.display()))
        })?;
        collect_properties(&ast, &mut self.properties);
        let module = Module::eval_ast_as_new(Scope::new(), &ast, &engine).map_err(|err| {
            ConfigError::at(
                codes::RULE_IMPORT,
                format!("shared module `{name}` fails as it loads: {err}"),
                location(&module_file, err.position()),
            )
            .with_help("a shared module holds functions (and constants) for rules to call")
        })?;
        self.loaded.insert(canonical, module.clone());
        Ok(module)
    }
}

/// An engine that parses rules and shared modules as the rule runtime
/// (`script::build_engine`) does, `import` aside: keep the two in step. It
/// runs nothing but a shared module's top level, within the same limits.
fn parser(limits: &ScriptLimits) -> Engine {
    let mut engine = Engine::new_raw();
    engine.disable_symbol("eval");
    engine.set_max_expr_depths(64, 32);
    engine.set_max_operations(limits.max_operations);
    engine.set_max_call_levels(limits.max_call_levels);
    engine.set_max_string_size(limits.max_string_size);
    engine.set_max_array_size(limits.max_array_size);
    engine.set_max_map_size(limits.max_map_size);
    engine
}

/// The modules `ast` imports, with where each import stands; an import
/// whose path is not a plain string is refused.
fn imports_of(ast: &AST, file: &SourceFile) -> Result<Vec<(String, Position)>, ConfigError> {
    let mut found = Vec::new();
    let mut refused = None;
    ast.walk(&mut |path: &[ASTNode]| {
        if let Some(ASTNode::Stmt(Stmt::Import(import, pos))) = path.last() {
            match &import.0 {
                Expr::StringConstant(name, _) => found.push((name.to_string(), *pos)),
                _ => {
                    refused.get_or_insert(*pos);
                }
            }
        }
        true
    });
    if let Some(pos) = refused {
        return Err(ConfigError::at(
            codes::RULE_IMPORT,
            "an import names its module with a string, so it can be loaded before any record",
            location(file, pos),
        )
        .with_help(IMPORT_HELP));
    }
    Ok(found)
}

/// Where `pos` stands in `file` (its start when Rhai gives no position).
fn location(file: &SourceFile, pos: Position) -> Location {
    let offset = file.offset_of(pos.line().unwrap_or(1), pos.position().unwrap_or(1));
    Location {
        file: file.clone(),
        offset,
        len: 1,
    }
}
