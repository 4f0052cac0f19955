//! The price feed's JSON, read by hand: the wasm reducer stays free of a JSON library, and
//! the server's format is flat.

/// One price quote of the feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Quote {
    /// When, ns since the epoch.
    pub at_ns: u64,
    /// The price, in cents.
    pub price_cents: u64,
}

/// Reads the feed's quotes from its JSON: one `{"at_ns": N, "price_cents": N}` or a list of
/// them (the price server's format; other fields and whitespace are allowed). An object
/// missing either field, or a number that is not a whole `u64`, is an error.
pub fn parse_quotes(text: &str) -> Result<Vec<Quote>, String> {
    let mut quotes = Vec::new();
    let mut rest = text;
    while let Some(open) = rest.find('{') {
        let close = rest[open..]
            .find('}')
            .map(|c| open + c)
            .ok_or("an object is not closed")?;
        let object = &rest[open + 1..close];
        quotes.push(Quote {
            at_ns: field(object, "at_ns")?,
            price_cents: field(object, "price_cents")?,
        });
        rest = &rest[close + 1..];
    }
    Ok(quotes)
}

/// The whole number after `"name":` in one flat JSON object's text.
fn field(object: &str, name: &str) -> Result<u64, String> {
    let key = format!("\"{name}\"");
    let at = object.find(&key).ok_or_else(|| format!("missing {name}"))?;
    let after = object[at + key.len()..].trim_start();
    let after = after
        .strip_prefix(':')
        .ok_or_else(|| format!("{name}: no value"))?
        .trim_start();
    let digits: &str = &after[..after
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(after.len())];
    digits
        .parse()
        .map_err(|_| format!("{name}: not a whole number"))
}
