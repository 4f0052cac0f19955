//! The tour's web page: a loopback HTTP server (one thread, `127.0.0.1`, a free port) that
//! answers every GET with the same short article, standing in for `https://example.com`.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use crate::failure::Failure;

/// What the page says.
pub const ARTICLE: &str = "Worldline keeps a hash-chained journal of everything an agent does: \
every input, every effect it asked for, who allowed it, and the signed receipt of what happened.";

/// Most header lines read from one request (the server is for the tour only).
const HEADER_LINES_MAX: usize = 100;

/// Starts the server; returns its base URL (`http://127.0.0.1:PORT`). It serves until the
/// process exits.
pub fn serve() -> Result<String, Failure> {
    let listener = TcpListener::bind("127.0.0.1:0")
        .map_err(|e| Failure::message(format!("demo page server: {e}")))?;
    let address = listener
        .local_addr()
        .map_err(|e| Failure::message(format!("demo page server: {e}")))?;
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let Ok(reader) = stream.try_clone() else {
                continue;
            };
            let mut reader = BufReader::new(reader);
            for _ in 0..HEADER_LINES_MAX {
                let mut line = String::new();
                if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
                    break;
                }
            }
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{ARTICLE}",
                ARTICLE.len()
            );
            let _ = stream.write_all(response.as_bytes());
        }
    });
    Ok(format!("http://{address}"))
}
