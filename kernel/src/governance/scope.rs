//! A proposal's [`PatchScope`] in the governance snapshot entry:
//! `{defs: [[kind word, name]…], sections: [word…]}`, both in their sorted order.

use worldline_air::cbor::{Cbor, write_array_head, write_text};
use worldline_air::nodes::DefKind;
use worldline_air::patch::{
    PatchScope, SECTION_DEFAULTS, SECTION_MODULE_BINDINGS, SECTION_ROUTING, SECTION_SECRETS,
    SECTION_TRIGGERS,
};

use crate::error::{KernelError, Result};
use crate::record::codec::{MapBuilder, MapReader};

/// Every manifest section word a scope may hold.
const SECTIONS: [&str; 5] = [
    SECTION_DEFAULTS,
    SECTION_ROUTING,
    SECTION_TRIGGERS,
    SECTION_MODULE_BINDINGS,
    SECTION_SECRETS,
];

/// The canonical map of a scope.
pub fn encode(scope: &PatchScope) -> Vec<u8> {
    let mut defs = Vec::new();
    write_array_head(&mut defs, scope.defs.len());
    for (kind, name) in &scope.defs {
        write_array_head(&mut defs, 2);
        write_text(&mut defs, kind.word());
        write_text(&mut defs, name);
    }
    let mut sections = Vec::new();
    write_array_head(&mut sections, scope.sections.len());
    for section in &scope.sections {
        write_text(&mut sections, section);
    }
    let mut m = MapBuilder::new();
    m.raw("defs", defs);
    m.raw("sections", sections);
    m.finish()
}

fn corrupt(what: &str) -> KernelError {
    KernelError::Corrupt(format!("snapshot: a proposal's scope: {what}"))
}

/// Reads a scope back.
pub fn decode(item: &Cbor) -> Result<PatchScope> {
    let m = MapReader::new(item, "a proposal's scope")?;
    let mut scope = PatchScope::default();
    let (Some(Cbor::Array(defs)), Some(Cbor::Array(sections))) = (m.get("defs"), m.get("sections"))
    else {
        return Err(corrupt("`defs` and `sections` must be arrays"));
    };
    for def in defs {
        let Cbor::Array(pair) = def else {
            return Err(corrupt("a def is not a [kind, name] pair"));
        };
        let (Some(Cbor::Text(kind)), Some(Cbor::Text(name)), 2) =
            (pair.first(), pair.get(1), pair.len())
        else {
            return Err(corrupt("a def is not a [kind, name] pair"));
        };
        let kind = DefKind::from_word(kind).ok_or_else(|| corrupt(&format!("kind `{kind}`")))?;
        scope.defs.insert((kind, name.clone()));
    }
    for section in sections {
        let word = match section {
            Cbor::Text(text) => SECTIONS.iter().find(|s| **s == text.as_str()),
            _ => None,
        };
        let word = word.ok_or_else(|| corrupt("an unknown manifest section"))?;
        scope.sections.insert(word);
    }
    Ok(scope)
}
