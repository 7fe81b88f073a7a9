//! Vigil's rule engine: Falco-compatible rules, compiled once, evaluated per
//! event, extended with sequences and rate limits.
//!
//! ```text
//! rule files ──yaml──▶ loader ──▶ compile ──▶ RuleSet ──▶ Engine::process(event) ──▶ Match
//!                      (items,     (macros,     (indexed     (conditions, sequences,
//!                       appends)    lists,       by evt.type)  rate limits, outputs)
//!                                   fields)
//! ```
//!
//! * Loading: [`Loader`], [`load_files`], [`load_str`] → [`RuleSet`] or
//!   [`LoadError`] (every error as `file:line:col: message`).
//! * Fields: [`fields`] — the catalogue, [`Field`], [`FieldRef`].
//! * Events: the host implements [`EventSource`] and returns [`Value`]s.
//! * Evaluation: [`Engine`] (stateful), [`Rule::matches`] (stateless).
//! * Introspection: [`Rule`], [`Condition`] (public compiled tree),
//!   [`EvtTypes`], [`RuleSet::file_interest`] → [`Interest`].
//! * Enforcement: a rule's `action` ([`Action`]) and its condition as kernel
//!   [`Policy`]s ([`policy::compile`]).

mod ast;
mod compile;
pub mod condition;
mod engine;
mod error;
mod eval;
mod event;
pub mod evttypes;
pub mod fields;
pub mod interest;
mod lexer;
mod loader;
mod matcher;
mod outcome;
mod output;
mod parser;
pub mod policy;
pub mod ratelimit;
mod ruleset;
pub mod sequence;
pub mod source;
mod yaml;

pub use condition::{Check, CheckRhs, Condition, Op, Operand, Transformer};
pub use engine::{Engine, EngineConfig, Match, RuleStats};
pub use error::{LoadError, Position, RuleError, Warning};
pub use eval::eval;
pub use event::{EventSource, ListValue, Value};
pub use evttypes::EvtTypes;
pub use fields::{Field, FieldArg, FieldDef, FieldRef, FieldType};
pub use interest::{Interest, PathInterest, PathPatterns};
pub use loader::parse_duration;
pub use output::OutputTemplate;
pub use policy::{Action, Policy};
pub use ratelimit::{RateLimit, RateLimitSetting, Scope};
pub use ruleset::{
    load_files, load_str, LoadOptions, LoadReport, Loader, Priority, Rule, RuleKind, RuleSet, SkippedRule,
};
pub use sequence::{Sequence, SequenceBy, StepMatch};
