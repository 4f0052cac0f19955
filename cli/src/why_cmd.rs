//! `world why`: the chain of records that led to a record, or everything it caused, as a text
//! tree, JSON or Graphviz DOT.

use std::collections::BTreeSet;
use std::path::Path;
use std::str::FromStr;

use clap::ValueEnum;
use serde_json::{Value as Json, json};
use worldline_air::{ControlPlane, Hash};
use worldline_kernel::record::{Record, RecordBody};
use worldline_kernel::why::{
    self, Direction, Leaf, Limits, Resolved, Target, TargetKind, Via, WhyError, WhyGraph, WhyNode,
};
use worldline_kernel::world::event_hash;

use crate::failure::Failure;
use crate::render::{record_json, record_summary, time_text};
use crate::world_cmd::kernel;

/// How the answer is printed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// An indented tree, for people.
    Tree,
    /// One JSON document.
    Json,
    /// Graphviz DOT (`dot -Tsvg`).
    Dot,
}

/// Reads what the person named: a seq, or a hash (`sha256:` and 64 hex digits, or the 64 hex
/// digits alone).
pub fn parse_target(text: &str) -> Result<Target, Failure> {
    if !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()) {
        return text
            .parse()
            .map(Target::Seq)
            .map_err(|_| Failure::message(format!("seq `{text}` is too large")));
    }
    let full = if text.len() == 64 && text.bytes().all(|b| b.is_ascii_hexdigit()) {
        format!("sha256:{text}")
    } else {
        text.to_owned()
    };
    if full.starts_with("sha256:") {
        return Hash::from_str(&full).map(Target::Hash).map_err(|_| {
            Failure::message(format!(
                "malformed hash `{text}`: expected sha256: and 64 lowercase hex digits"
            ))
        });
    }
    Err(Failure::message(format!(
        "`{text}` is neither a seq nor an intent or event hash (sha256:…)"
    )))
}

/// Runs `world why`.
pub fn run(
    access: &mut crate::held::Access,
    dir: &Path,
    target: &str,
    forward: bool,
    depth: u32,
    format: Format,
) -> Result<(), Failure> {
    let target = parse_target(target)?;
    let world = access.open(dir)?;
    let direction = if forward {
        Direction::Forward
    } else {
        Direction::Back
    };
    if format == Format::Json {
        let doc =
            crate::query::why_json(&world, target, direction, depth).map_err(|e| match e {
                crate::query::QueryError::Kernel(error) => kernel(dir)(error),
                other => Failure::message(format!("{}: {other}", dir.display())),
            })?;
        crate::output::outln!("{}", serde_json::to_string_pretty(&doc)?);
        return Ok(());
    }
    let store = world.store();
    let failed = |error: WhyError| match error {
        WhyError::Kernel(error) => kernel(dir)(error),
        other => Failure::message(format!("{}: {other}", dir.display())),
    };
    let resolved = why::resolve(store, target).map_err(failed)?;
    let limits = Limits {
        depth,
        ..Limits::default()
    };
    let graph = why::walk(store, &resolved.roots, direction, limits).map_err(failed)?;
    let text = match format {
        Format::Tree | Format::Json => tree(world.plane(), &resolved, &graph),
        Format::Dot => dot(world.plane(), &graph),
    };
    crate::output::out!("{text}");
    Ok(())
}

fn direction_word(direction: Direction) -> &'static str {
    match direction {
        Direction::Back => "back",
        Direction::Forward => "forward",
    }
}

fn kind_word(kind: TargetKind) -> &'static str {
    match kind {
        TargetKind::Seq => "seq",
        TargetKind::Intent => "intent",
        TargetKind::Event => "event",
    }
}

/// How a cause led to an effect, in words.
pub fn via_text(via: &Via) -> String {
    match via {
        Via::Step { reducer } => format!("reducer step {reducer}"),
        Via::Trigger { plan } => format!("trigger of {plan}"),
        Via::Plan { plan, instance } => format!("plan step {plan} #{instance}"),
        Via::Instance { plan } => format!("instance of {plan}"),
        Via::Decision => "admission decision".to_owned(),
        Via::Receipt => "receipt".to_owned(),
        Via::Kernel => "kernel".to_owned(),
    }
}

fn via_json(via: &Via) -> Json {
    match via {
        Via::Step { reducer } => json!({"kind": "step", "reducer": reducer.to_string()}),
        Via::Trigger { plan } => json!({"kind": "trigger", "plan": plan.to_string()}),
        Via::Plan { plan, instance } => {
            json!({"kind": "plan", "plan": plan.to_string(), "instance": instance})
        }
        Via::Instance { plan } => json!({"kind": "instance", "plan": plan.to_string()}),
        Via::Decision => json!({"kind": "decision"}),
        Via::Receipt => json!({"kind": "receipt"}),
        Via::Kernel => json!({"kind": "kernel"}),
    }
}

fn leaf_word(leaf: Leaf) -> &'static str {
    match leaf {
        Leaf::Genesis => "genesis",
        Leaf::External => "external input",
    }
}

/// The node's one-line description: seq, kind and what it says.
fn node_line(plane: &ControlPlane, node: &WhyNode) -> String {
    let record = &node.record;
    let mut line = format!(
        "#{} {} {}",
        record.seq,
        record.body.kind(),
        record_summary(plane, record)
    );
    if let Some(plan) = &node.plan
        && matches!(
            record.body,
            RecordBody::PlanResult { .. } | RecordBody::PlanEnded { .. }
        )
    {
        line.push_str(&format!(" of {plan}"));
    }
    if let Some(leaf) = node.leaf {
        line.push_str(&format!(" — {}", leaf_word(leaf)));
    }
    line
}

/// When and under which manifest.
fn in_force_line(node: &WhyNode) -> Option<String> {
    node.in_force.as_ref().map(|f| {
        let input = if f.input == node.record.seq {
            "ingress".to_owned()
        } else {
            format!("input #{}", f.input)
        };
        format!(
            "{input} {} · manifest {}",
            time_text(f.now_ns),
            f.manifest_hash
        )
    })
}

/// `allowed`, or `denied CODE` (`allowed CODE` for an unusual code that still admits).
fn verdict(d: &why::Decision) -> String {
    match (d.allowed, d.code.as_str()) {
        (true, "allowed") => "allowed".to_owned(),
        (true, code) => format!("allowed {code}"),
        (false, code) => format!("denied {code}"),
    }
}

fn decision_line(d: &why::Decision) -> String {
    let detail = if d.detail.is_empty() {
        String::new()
    } else {
        format!(" ({})", d.detail)
    };
    format!("decision #{} {}: {}{detail}", d.seq, d.stage, verdict(d))
}

/// The text tree: each root, then (indented) the records it came from (or led to), each with
/// the edge's meaning; a record met again is named, not repeated.
fn tree(plane: &ControlPlane, resolved: &Resolved, graph: &WhyGraph) -> String {
    let mut out = format!(
        "why {} {} {}: {} records (depth ≤ {}, ≤ {} records)\n",
        kind_word(resolved.kind),
        graph
            .roots
            .iter()
            .map(|s| format!("#{s}"))
            .collect::<Vec<_>>()
            .join(", "),
        match graph.direction {
            Direction::Back => "backwards",
            Direction::Forward => "forwards",
        },
        graph.nodes.len(),
        graph.limits.depth,
        graph.limits.nodes,
    );
    out.push_str(match graph.direction {
        Direction::Back => "(under each record, the records that led to it; [how])\n",
        Direction::Forward => "(under each record, the records it led to; [how])\n",
    });
    let mut printed = BTreeSet::new();
    for &root in &graph.roots {
        print_node(plane, graph, root, None, "", "", &mut printed, &mut out);
    }
    if resolved.cut {
        out.push_str(&format!(
            "note: more than {} events have this hash; the first {} are shown\n",
            why::ROOTS_MAX,
            why::ROOTS_MAX
        ));
    }
    if graph.cut_by_depth {
        out.push_str(&format!(
            "note: cut by the depth limit ({}); --depth goes further\n",
            graph.limits.depth
        ));
    }
    if graph.cut_by_nodes {
        out.push_str(&format!(
            "note: cut by the node limit ({} records)\n",
            graph.limits.nodes
        ));
    }
    out
}

/// The edges leaving `seq` in the tree's direction: (next, via).
fn next_in_tree(graph: &WhyGraph, seq: u64) -> Vec<(u64, &Via)> {
    let mut next: Vec<(u64, &Via)> = graph
        .edges
        .iter()
        .filter_map(|e| match graph.direction {
            Direction::Back if e.effect == seq => Some((e.cause, &e.via)),
            Direction::Forward if e.cause == seq => Some((e.effect, &e.via)),
            _ => None,
        })
        .collect();
    next.sort_by_key(|(s, _)| *s);
    next
}

#[allow(clippy::too_many_arguments)]
fn print_node(
    plane: &ControlPlane,
    graph: &WhyGraph,
    seq: u64,
    via: Option<&Via>,
    first: &str,
    rest: &str,
    printed: &mut BTreeSet<u64>,
    out: &mut String,
) {
    let Some(node) = graph.node(seq) else {
        return;
    };
    let label = via
        .map(|v| format!("[{}] ", via_text(v)))
        .unwrap_or_default();
    if !printed.insert(seq) {
        out.push_str(&format!(
            "{first}{label}#{seq} {} (shown above)\n",
            node.record.body.kind()
        ));
        return;
    }
    out.push_str(&format!("{first}{label}{}\n", node_line(plane, node)));
    let next = next_in_tree(graph, seq);
    let bar = if next.is_empty() { "   " } else { "│  " };
    if let Some(line) = in_force_line(node) {
        out.push_str(&format!("{rest}{bar}{line}\n"));
    }
    for d in &node.decisions {
        out.push_str(&format!("{rest}{bar}{}\n", decision_line(d)));
    }
    for (i, (child, via)) in next.iter().enumerate() {
        let last = i + 1 == next.len();
        let (f, r) = if last {
            ("└─ ", "   ")
        } else {
            ("├─ ", "│  ")
        };
        print_node(
            plane,
            graph,
            *child,
            Some(via),
            &format!("{rest}{f}"),
            &format!("{rest}{r}"),
            printed,
            out,
        );
    }
}

fn node_json(plane: &ControlPlane, node: &WhyNode, hash: &Hash) -> Json {
    let record: &Record = &node.record;
    let mut out = json!({
        "seq": record.seq,
        "kind": record.body.kind(),
        "depth": node.depth,
        "summary": record_summary(plane, record),
        "plan": node.plan.as_ref().map(|p| p.to_string()),
        "leaf": node.leaf.map(leaf_word),
        "in_force": node.in_force.as_ref().map(|f| json!({
            "input": f.input, "now_ns": f.now_ns, "now": time_text(f.now_ns),
            "manifest_hash": f.manifest_hash.to_string(),
        })),
        "decisions": node.decisions.iter().map(|d| json!({
            "seq": d.seq, "stage": d.stage, "allowed": d.allowed, "code": d.code, "detail": d.detail,
        })).collect::<Vec<_>>(),
        "record": record_json(plane, record, hash),
    });
    if let RecordBody::DomainEvent { value, .. } = &record.body {
        out["event_hash"] = json!(event_hash(value).to_string());
    }
    out
}

/// The JSON document (stable: fields are only ever added).
pub(crate) fn to_json(
    plane: &ControlPlane,
    resolved: &Resolved,
    graph: &WhyGraph,
    hashes: &[Hash],
) -> Json {
    json!({
        "target": kind_word(resolved.kind),
        "roots": graph.roots,
        "roots_cut": resolved.cut,
        "direction": direction_word(graph.direction),
        "depth_max": graph.limits.depth,
        "nodes_max": graph.limits.nodes,
        "cut_by_depth": graph.cut_by_depth,
        "cut_by_nodes": graph.cut_by_nodes,
        "nodes": graph.nodes.iter().zip(hashes).map(|(n, h)| node_json(plane, n, h)).collect::<Vec<_>>(),
        "edges": graph.edges.iter().map(|e| json!({
            "cause": e.cause, "effect": e.effect, "via": via_json(&e.via),
        })).collect::<Vec<_>>(),
    })
}

/// A DOT string literal.
fn dot_quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// Hex digits of a hash kept in a DOT label.
const DOT_HASH_HEX_CHARS: usize = 12;

/// `text` with every `sha256:` and 64 hex digits shortened to its first
/// [`DOT_HASH_HEX_CHARS`] digits and `…`, so labels stay small.
fn short_hashes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("sha256:") {
        let (before, from) = rest.split_at(at);
        out.push_str(before);
        let hex_len = from["sha256:".len()..]
            .bytes()
            .take_while(u8::is_ascii_hexdigit)
            .count();
        if hex_len == 64 {
            let keep = "sha256:".len() + DOT_HASH_HEX_CHARS;
            out.push_str(&from[..keep]);
            out.push('…');
            rest = &from["sha256:".len() + 64..];
        } else {
            out.push_str("sha256:");
            rest = &from["sha256:".len()..];
        }
    }
    out.push_str(rest);
    out
}

/// Longest summary line in a DOT label.
const DOT_SUMMARY_CHARS_MAX: usize = 60;

/// Graphviz DOT: causes above their effects, edges labelled with how.
fn dot(plane: &ControlPlane, graph: &WhyGraph) -> String {
    let mut out = String::from(
        "digraph why {\n  rankdir=TB;\n  node [shape=box, fontname=\"monospace\", fontsize=10];\n  edge [fontname=\"monospace\", fontsize=9];\n",
    );
    for node in &graph.nodes {
        let record = &node.record;
        let summary: String = short_hashes(&record_summary(plane, record))
            .chars()
            .take(DOT_SUMMARY_CHARS_MAX)
            .collect();
        let mut label = format!("#{} {}\n{summary}", record.seq, record.body.kind());
        if let Some(f) = &node.in_force {
            label.push_str(&format!("\n{}", time_text(f.now_ns)));
        }
        for d in &node.decisions {
            label.push_str(&format!("\n{}: {}", d.stage, verdict(d)));
        }
        let style = if graph.roots.contains(&record.seq) {
            ", style=bold"
        } else if node.leaf.is_some() {
            ", style=rounded"
        } else {
            ""
        };
        out.push_str(&format!(
            "  n{} [label={}{style}];\n",
            record.seq,
            dot_quote(&label)
        ));
    }
    for edge in &graph.edges {
        out.push_str(&format!(
            "  n{} -> n{} [label={}];\n",
            edge.cause,
            edge.effect,
            dot_quote(&via_text(&edge.via))
        ));
    }
    out.push_str("}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse_or_name_the_problem() {
        assert!(matches!(parse_target("12"), Ok(Target::Seq(12))));
        let hex = "ab".repeat(32);
        assert!(matches!(parse_target(&hex), Ok(Target::Hash(_))));
        assert!(matches!(
            parse_target(&format!("sha256:{hex}")),
            Ok(Target::Hash(_))
        ));
        for bad in ["sha256:abc", "x", "", "99999999999999999999999"] {
            assert!(parse_target(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn dot_labels_shorten_hashes() {
        let hash = format!("sha256:{}", "ab".repeat(32));
        assert_eq!(
            short_hashes(&format!("x {hash} y sha256:zz")),
            "x sha256:abababababab… y sha256:zz"
        );
    }

    #[test]
    fn dot_labels_are_quoted() {
        assert_eq!(dot_quote("a\"b\\c\nd"), "\"a\\\"b\\\\c\\nd\"");
    }
}
