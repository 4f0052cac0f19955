//! What the `world` binary's tests share: the repository root and running the binary.

// Shared by several test binaries, each of which uses only part of it.
#![allow(dead_code)]

pub mod api;
pub mod browser;

use std::path::PathBuf;
use std::process::Command;

/// The repository root (the binary runs there, so `worlds/…` paths resolve).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// Runs `world ARGS` with `env` added to its environment; returns (exit code, stdout, stderr).
pub fn world_with_env(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    run_world(&repo(), args, env)
}

/// Runs `world ARGS` in `cwd`; returns (exit code, stdout, stderr).
pub fn world_in(cwd: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    run_world(cwd, args, &[])
}

fn run_world(cwd: &std::path::Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_world"))
        .args(args)
        .envs(env.iter().copied())
        .current_dir(cwd)
        .output()
        .unwrap();
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8(output.stdout).unwrap(),
        String::from_utf8(output.stderr).unwrap(),
    )
}

/// Runs `world ARGS`; returns (exit code, stdout, stderr).
pub fn world(args: &[&str]) -> (i32, String, String) {
    world_with_env(args, &[])
}

/// Runs `f` (insta assertions) with what varies between runs redacted: the scratch folder
/// `dir` as `[DIR]`, hashes, DIDs and times, then the test's own `extra` (regex, replacement)
/// filters in order.
pub fn redacted_with(dir: &std::path::Path, extra: &[(&str, &str)], f: impl FnOnce()) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(&regex_escape(&dir.display().to_string()), "[DIR]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[HASH]");
    settings.add_filter(r"did:key:z[1-9A-HJ-NP-Za-km-z]+", "did:key:[DID]");
    settings.add_filter(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", "[TIME]");
    for (pattern, replacement) in extra {
        settings.add_filter(pattern, *replacement);
    }
    settings.bind(f);
}

/// `text` with regex metacharacters escaped.
pub fn regex_escape(text: &str) -> String {
    text.chars()
        .flat_map(|c| {
            if "\\.+*?()|[]{}^$".contains(c) {
                vec!['\\', c]
            } else {
                vec![c]
            }
        })
        .collect()
}

/// Runs `world ARGS`, which must succeed; returns stdout.
pub fn ok(args: &[&str]) -> String {
    let (code, stdout, stderr) = world(args);
    assert_eq!(code, 0, "world {args:?}: {stderr}");
    stdout
}

/// Runs `world ARGS`, which must fail with exit 1 and one line on stderr (no panic, no
/// backtrace); returns that line.
pub fn fails(args: &[&str]) -> String {
    let (code, stdout, stderr) = world(args);
    assert_eq!(
        code, 1,
        "world {args:?} did not fail cleanly: {stdout}{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "world {args:?}: {stderr}");
    assert!(
        stderr.starts_with("error: ") && !stderr.contains("panicked"),
        "{stderr}"
    );
    stderr
}

/// Serves the files under `root` over HTTP on 127.0.0.1 (GET only; 404 for anything missing),
/// as `python3 -m http.server` would; returns `IP:PORT`.
pub fn serve_files(root: PathBuf) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap().to_string();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request = String::new();
            reader.read_line(&mut request).unwrap_or(0);
            loop {
                let mut header = String::new();
                if reader.read_line(&mut header).unwrap_or(0) == 0 || header == "\r\n" {
                    break;
                }
            }
            let path = request.split_whitespace().nth(1).unwrap_or("/");
            let file = root.join(path.trim_start_matches('/'));
            let response = match std::fs::read(&file) {
                Ok(body) => {
                    let head = format!(
                        "HTTP/1.1 200 OK\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                        body.len()
                    );
                    [head.into_bytes(), body].concat()
                }
                Err(_) => {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_vec()
                }
            };
            let _ = stream.write_all(&response);
        }
    });
    address
}
