//! The canonical encoder's primitives: shortest heads, sorted maps.

use super::DuplicateKeyError;

/// Writes a CBOR head (major type and argument) in its shortest form.
pub fn write_head(out: &mut Vec<u8>, major: u8, argument: u64) {
    let major = major << 5;
    if argument < 24 {
        out.push(major | argument as u8);
    } else if argument <= u64::from(u8::MAX) {
        out.extend_from_slice(&[major | 24, argument as u8]);
    } else if argument <= u64::from(u16::MAX) {
        out.push(major | 25);
        out.extend_from_slice(&(argument as u16).to_be_bytes());
    } else if argument <= u64::from(u32::MAX) {
        out.push(major | 26);
        out.extend_from_slice(&(argument as u32).to_be_bytes());
    } else {
        out.push(major | 27);
        out.extend_from_slice(&argument.to_be_bytes());
    }
}

/// Writes an unsigned integer.
pub fn write_uint(out: &mut Vec<u8>, value: u64) {
    write_head(out, 0, value);
}

/// Writes a signed integer (negative values in major type 1).
pub fn write_int(out: &mut Vec<u8>, value: i64) {
    if value >= 0 {
        write_head(out, 0, value as u64);
    } else {
        // -1 - value is non-negative and fits u64 for every i64.
        write_head(out, 1, (-1 - i128::from(value)) as u64);
    }
}

/// Writes a text string.
pub fn write_text(out: &mut Vec<u8>, text: &str) {
    write_head(out, 3, text.len() as u64);
    out.extend_from_slice(text.as_bytes());
}

/// Writes a byte string.
pub fn write_bytes(out: &mut Vec<u8>, bytes: &[u8]) {
    write_head(out, 2, bytes.len() as u64);
    out.extend_from_slice(bytes);
}

/// Writes the head of a definite-length array.
pub fn write_array_head(out: &mut Vec<u8>, len: usize) {
    write_head(out, 4, len as u64);
}

/// Writes the head of a definite-length map.
pub fn write_map_head(out: &mut Vec<u8>, len: usize) {
    write_head(out, 5, len as u64);
}

/// Writes `true` or `false`.
pub fn write_bool(out: &mut Vec<u8>, value: bool) {
    out.push(if value { 0xf5 } else { 0xf4 });
}

/// Writes `null`.
pub fn write_null(out: &mut Vec<u8>) {
    out.push(0xf6);
}

/// Collects encoded map entries and writes them sorted by encoded key bytes.
#[derive(Default)]
pub struct MapWriter {
    entries: Vec<(Vec<u8>, Vec<u8>)>,
}

impl MapWriter {
    /// A writer with room for `capacity` entries.
    pub fn with_capacity(capacity: usize) -> MapWriter {
        MapWriter {
            entries: Vec::with_capacity(capacity),
        }
    }

    /// Adds one entry: the canonical bytes of its key and of its value.
    pub fn push(&mut self, key: Vec<u8>, value: Vec<u8>) {
        self.entries.push((key, value));
    }

    /// Adds an entry with a text key.
    pub fn push_text_key(&mut self, key: &str, value: Vec<u8>) {
        let mut key_bytes = Vec::with_capacity(key.len() + 2);
        write_text(&mut key_bytes, key);
        self.entries.push((key_bytes, value));
    }

    /// Sorts, checks for duplicate keys and appends the map to `out`.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), DuplicateKeyError> {
        self.entries.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        if self.entries.windows(2).any(|pair| pair[0].0 == pair[1].0) {
            return Err(DuplicateKeyError);
        }
        write_map_head(out, self.entries.len());
        for (key, value) in self.entries {
            out.extend_from_slice(&key);
            out.extend_from_slice(&value);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head(major: u8, argument: u64) -> Vec<u8> {
        let mut out = Vec::new();
        write_head(&mut out, major, argument);
        out
    }

    #[test]
    fn heads_are_shortest() {
        assert_eq!(head(0, 23), [0x17]);
        assert_eq!(head(0, 24), [0x18, 24]);
        assert_eq!(head(0, 255), [0x18, 0xff]);
        assert_eq!(head(0, 256), [0x19, 0x01, 0x00]);
        assert_eq!(head(0, 65_536), [0x1a, 0, 1, 0, 0]);
        assert_eq!(
            head(0, u64::MAX),
            [0x1b, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn negative_integers_use_major_type_one() {
        let mut out = Vec::new();
        write_int(&mut out, -1);
        write_int(&mut out, -500);
        write_int(&mut out, i64::MIN);
        assert_eq!(&out[..4], [0x20, 0x39, 0x01, 0xf3]);
        assert_eq!(
            &out[4..],
            [0x3b, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff]
        );
    }

    #[test]
    fn map_keys_sort_shorter_first_and_reject_duplicates() {
        let mut out = Vec::new();
        let mut map = MapWriter::default();
        map.push_text_key("bb", vec![0x01]);
        map.push_text_key("c", vec![0x02]);
        map.finish(&mut out).unwrap();
        assert_eq!(out, [0xa2, 0x61, b'c', 0x02, 0x62, b'b', b'b', 0x01]);

        let mut map = MapWriter::default();
        map.push_text_key("a", vec![0x01]);
        map.push_text_key("a", vec![0x02]);
        assert_eq!(map.finish(&mut Vec::new()), Err(DuplicateKeyError));
    }
}
