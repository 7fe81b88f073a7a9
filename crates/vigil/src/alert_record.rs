//! An alert for the outputs (`vigil-output`): Vigil's JSON line, and Falco's
//! `output_fields`: the fields the rule's output names plus the process, container and
//! pod context, under Falco's dotted names.

use std::collections::BTreeMap;

use serde_json::Value as Json;
use vigil_output::AlertRecord;
use vigil_rules::fields::{Field, FieldRef};
use vigil_rules::{EventSource, Match, Rule, Value};

/// Context every alert carries, whatever its rule's output names.
const CONTEXT: &[Field] = &[
    Field::EvtType,
    Field::ProcPid,
    Field::ProcName,
    Field::ProcExepath,
    Field::ProcCmdline,
    Field::ProcPname,
    Field::UserName,
    Field::UserUid,
    Field::ContainerId,
    Field::ContainerName,
    Field::ContainerImageRepository,
    Field::ContainerImageTag,
    Field::K8sPodName,
    Field::K8sNsName,
];

fn json_of(v: &Value<'_>) -> Json {
    match v {
        Value::None => Json::Null,
        Value::Str(s) => Json::String(s.to_string()),
        Value::Bytes(b) => Json::String(String::from_utf8_lossy(b).into_owned()),
        Value::Int(i) => Json::from(*i),
        Value::Uint(u) => Json::from(*u),
        Value::Bool(b) => Json::Bool(*b),
        Value::Ip(ip) => Json::String(ip.to_string()),
        Value::List(l) => Json::Array((0..l.value_count()).map(|i| json_of(&l.value_at(i))).collect()),
    }
}

/// Falco's `output_fields` of a match.
pub fn output_fields(rule: Option<&Rule>, view: &dyn EventSource) -> BTreeMap<String, Json> {
    let mut out = BTreeMap::new();
    let refs = rule
        .into_iter()
        .flat_map(|r| r.output.fields().cloned())
        .chain(CONTEXT.iter().map(|f| FieldRef::new(*f)));
    for f in refs {
        let name = f.to_string();
        if out.contains_key(&name) {
            continue;
        }
        out.insert(name, json_of(&view.field(&f)));
    }
    out
}

/// The record the outputs get, from a match, its fields and Vigil's JSON line.
pub fn record(m: &Match, fields: BTreeMap<String, Json>, time_ns: i64, hostname: &str, native: String) -> AlertRecord {
    AlertRecord {
        time_ns,
        rule: m.rule.clone(),
        priority: m.priority.as_str().to_string(),
        output: m.output.clone(),
        tags: m.tags.clone(),
        hostname: hostname.to_string(),
        output_fields: fields,
        native,
    }
}
