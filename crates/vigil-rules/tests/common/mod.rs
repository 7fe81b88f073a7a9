//! A test event: fields by name, as a host would provide them.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::IpAddr;

use vigil_rules::{EventSource, FieldRef, Value};

#[derive(Clone, Debug)]
pub enum V {
    S(String),
    I(i64),
    U(u64),
    B(bool),
    Ip(IpAddr),
    L(Vec<String>),
}

#[derive(Clone, Debug, Default)]
pub struct Ev {
    pub ty: String,
    pub ts: u64,
    pub fields: HashMap<String, V>,
    pub lineage: Vec<u32>,
}

impl Ev {
    pub fn new(ty: &str) -> Ev {
        Ev {
            ty: ty.to_string(),
            lineage: vec![100, 1],
            ..Ev::default()
        }
    }
    pub fn at(mut self, ts_ns: u64) -> Ev {
        self.ts = ts_ns;
        self
    }
    pub fn pid(mut self, lineage: &[u32]) -> Ev {
        self.lineage = lineage.to_vec();
        self.fields.insert("proc.pid".into(), V::I(i64::from(lineage[0])));
        if let Some(p) = lineage.get(1) {
            self.fields.insert("proc.ppid".into(), V::I(i64::from(*p)));
        }
        self
    }
    pub fn s(mut self, k: &str, v: &str) -> Ev {
        self.fields.insert(k.into(), V::S(v.into()));
        self
    }
    pub fn i(mut self, k: &str, v: i64) -> Ev {
        self.fields.insert(k.into(), V::I(v));
        self
    }
    pub fn u(mut self, k: &str, v: u64) -> Ev {
        self.fields.insert(k.into(), V::U(v));
        self
    }
    pub fn b(mut self, k: &str, v: bool) -> Ev {
        self.fields.insert(k.into(), V::B(v));
        self
    }
    pub fn ip(mut self, k: &str, v: &str) -> Ev {
        self.fields.insert(k.into(), V::Ip(v.parse().unwrap()));
        self
    }
    pub fn l(mut self, k: &str, v: &[&str]) -> Ev {
        self.fields
            .insert(k.into(), V::L(v.iter().map(|s| s.to_string()).collect()));
        self
    }
}

impl EventSource for Ev {
    fn evt_type(&self) -> &str {
        &self.ty
    }
    fn ts_ns(&self) -> u64 {
        self.ts
    }
    fn field(&self, f: &FieldRef) -> Value<'_> {
        let v = self.fields.get(&f.to_string()).or_else(|| {
            self.fields
                .get(f.field.name())
                .filter(|_| f.arg == vigil_rules::FieldArg::None)
        });
        match v {
            None => Value::None,
            Some(V::S(s)) => Value::str(s),
            Some(V::I(i)) => Value::Int(*i),
            Some(V::U(u)) => Value::Uint(*u),
            Some(V::B(b)) => Value::Bool(*b),
            Some(V::Ip(ip)) => Value::Ip(*ip),
            Some(V::L(l)) => Value::List(l),
        }
    }
    fn lineage(&self) -> &[u32] {
        &self.lineage
    }
}

/// Loads rules or panics with the errors.
pub fn rules(yaml: &str) -> vigil_rules::RuleSet {
    match vigil_rules::load_str("test.yaml", yaml) {
        Ok(r) => r,
        Err(e) => panic!("load failed:\n{e}"),
    }
}

/// A rule file with one rule whose condition is `cond`.
pub fn one_rule(cond: &str) -> String {
    format!(
        "- rule: r\n  desc: d\n  condition: {}\n  output: out\n  priority: WARNING\n",
        serde_json::to_string(cond).unwrap()
    )
}

/// Whether the single rule `r` of `yaml` matches `ev`.
pub fn matches(yaml: &str, ev: &Ev) -> bool {
    let rs = rules(yaml);
    rs.rule("r").expect("rule r").matches(ev)
}

pub fn cond_matches(cond: &str, ev: &Ev) -> bool {
    matches(&one_rule(cond), ev)
}

/// The errors of a failed load, as `line:col: message` strings.
pub fn errors(yaml: &str) -> Vec<String> {
    match vigil_rules::load_str("test.yaml", yaml) {
        Ok(_) => panic!("expected load errors"),
        Err(e) => e
            .errors
            .iter()
            .map(|e| format!("{}:{}: {}", e.line, e.column, e.message))
            .collect(),
    }
}
