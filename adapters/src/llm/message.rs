//! Chat messages as CAS blobs: how an input blob is read, and the bytes of the output and error
//! objects the adapter stores.

use serde_json::Value as Json;

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Role {
    /// Instructions (OpenAI: a `system` message; Anthropic: the top-level `system` field).
    System,
    /// The user.
    User,
    /// The model.
    Assistant,
}

impl Role {
    /// `system`, `user` or `assistant`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
        }
    }

    fn parse(text: &str) -> Option<Role> {
        match text {
            "system" => Some(Role::System),
            "user" => Some(Role::User),
            "assistant" => Some(Role::Assistant),
            _ => None,
        }
    }
}

/// One chat message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    /// Who speaks.
    pub role: Role,
    /// What is said.
    pub content: String,
}

impl Message {
    /// Reads a message blob: a JSON object with exactly the keys `role` (`system`, `user` or
    /// `assistant`) and `content` (a string) is that message; any other blob is a `user`
    /// message whose content is the whole blob decoded as UTF-8 (lossily).
    pub fn from_blob(bytes: &[u8]) -> Message {
        Message::from_json(bytes).unwrap_or_else(|| Message {
            role: Role::User,
            content: String::from_utf8_lossy(bytes).into_owned(),
        })
    }

    fn from_json(bytes: &[u8]) -> Option<Message> {
        let json: Json = serde_json::from_slice(bytes).ok()?;
        let object = json.as_object()?;
        if object.len() != 2 {
            return None;
        }
        let role = Role::parse(object.get("role")?.as_str()?)?;
        let content = object.get("content")?.as_str()?.to_owned();
        Some(Message { role, content })
    }

    /// The message's canonical blob: `{"role":…,"content":…}`, keys in that order, no
    /// whitespace, strings escaped as serde_json writes them. [`Message::from_blob`] reads it
    /// back unchanged.
    pub fn to_blob(&self) -> Vec<u8> {
        format!(
            "{{\"role\":{},\"content\":{}}}",
            json_string(self.role.as_str()),
            json_string(&self.content)
        )
        .into_bytes()
    }
}

/// The blob a failed generation stores as its output: `{"error":{"code":…,"message":…}}`.
pub fn error_blob(code: &str, message: &str) -> Vec<u8> {
    format!(
        "{{\"error\":{{\"code\":{},\"message\":{}}}}}",
        json_string(code),
        json_string(message)
    )
    .into_bytes()
}

fn json_string(text: &str) -> String {
    Json::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn role_json_round_trips_and_anything_else_is_a_user_message() {
        let message = Message {
            role: Role::Assistant,
            content: "a \"quoted\"\nline é".into(),
        };
        let blob = message.to_blob();
        assert_eq!(
            String::from_utf8_lossy(&blob),
            r#"{"role":"assistant","content":"a \"quoted\"\nline é"}"#
        );
        assert_eq!(Message::from_blob(&blob), message);
        for other in [
            &br#"{"role":"tool","content":"x"}"#[..],
            br#"{"role":"user","content":"x","name":"n"}"#,
            br#"{"role":"user","content":3}"#,
            b"plain text",
            b"\xff\xfe bytes",
        ] {
            let read = Message::from_blob(other);
            assert_eq!(read.role, Role::User);
            assert_eq!(read.content, String::from_utf8_lossy(other));
        }
    }

    #[test]
    fn error_blob_is_json() {
        let blob = error_blob("key_missing", "no \"key\"");
        let json: Json = serde_json::from_slice(&blob).unwrap_or_default();
        assert_eq!(json["error"]["code"], "key_missing");
        assert_eq!(json["error"]["message"], "no \"key\"");
    }
}
