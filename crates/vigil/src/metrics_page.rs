//! The agent's counters as a Prometheus page (`vigil run --metrics ADDR`): events by hook
//! and stage, alerts by rule and priority, each output's queue, sends and drops, hooks
//! attached. Rendered every second by the main loop.

use vigil_output::metrics::Exposition;
use vigil_output::OutputStats;
use vigil_rules::RuleSet;
use vigil_sensor::{KernelStats, Sensor};

use crate::pipeline::PipelineStats;

pub fn render(
    sensor: &Sensor,
    kernel: &KernelStats,
    user: &PipelineStats,
    outputs: &[OutputStats],
    rules: Option<&RuleSet>,
) -> String {
    let mut e = Exposition::default();
    for (hook, c) in &kernel.hooks {
        for (stage, n) in [
            ("seen", c.seen),
            ("filtered", c.filtered),
            ("deduped", c.deduped),
            ("sent", c.sent),
            ("lost", c.lost),
        ] {
            e.sample(
                "vigil_kernel_events_total",
                "counter",
                "Events per hook: seen by the hook, filtered or deduplicated in the kernel, sent to userspace, lost (ring buffer full).",
                &[("hook", hook), ("stage", stage)],
                n as f64,
            );
        }
    }
    e.sample(
        "vigil_kernel_lost_total",
        "counter",
        "Events lost in the kernel (ring buffer full), all hooks.",
        &[],
        kernel.lost() as f64,
    );
    for r in &user.rules {
        let priority = rules
            .and_then(|s| s.rule(&r.rule))
            .map_or("UNKNOWN", |x| x.priority.as_str());
        e.sample(
            "vigil_alerts_total",
            "counter",
            "Rule matches by rule and priority.",
            &[("rule", &r.rule), ("priority", priority)],
            r.matches as f64,
        );
    }
    e.sample(
        "vigil_alerts_suppressed_total",
        "counter",
        "Matches held back by rate limits (counted in the next alert).",
        &[],
        user.alerts_suppressed as f64,
    );
    for o in outputs {
        let l = [("output", o.name.as_str())];
        e.sample(
            "vigil_output_sent_total",
            "counter",
            "Alerts delivered per output.",
            &l,
            o.sent as f64,
        );
        e.sample(
            "vigil_output_dropped_total",
            "counter",
            "Alerts an output's queue had no room for.",
            &l,
            o.dropped as f64,
        );
        e.sample(
            "vigil_output_failures_total",
            "counter",
            "Failed deliveries (retried).",
            &l,
            o.failures as f64,
        );
        e.sample(
            "vigil_output_queue_depth",
            "gauge",
            "Alerts waiting per output.",
            &l,
            o.queue_depth as f64,
        );
    }
    e.sample(
        "vigil_hooks_attached",
        "gauge",
        "BPF programs attached.",
        &[],
        sensor.report.attached() as f64,
    );
    e.sample(
        "vigil_hooks_missing",
        "gauge",
        "Optional BPF programs the agent runs without.",
        &[],
        sensor.report.missing().count() as f64,
    );
    e.sample(
        "vigil_process_tree_size",
        "gauge",
        "Processes in the agent's tree.",
        &[],
        user.tree_size as f64,
    );
    e.sample(
        "vigil_events_held",
        "gauge",
        "Events waiting for their container's metadata.",
        &[],
        user.events_held as f64,
    );
    e.finish()
}
