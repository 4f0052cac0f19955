//! Commands that run a world's adapters: `world send` (to quiescence) and `world run`.

use std::path::Path;
use std::time::Duration;

use worldline_adapters::{AdapterError, Host, HostNote, HostOptions, Quiescence};
use worldline_kernel::World;

use crate::failure::Failure;
use crate::output::{errln, outln};
use crate::world_cmd::kernel;

/// The adapter flags `world send` and `world run` share.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct HostFlags {
    /// Send requests for ORIGIN to URL instead (e.g. https://example.com=http://127.0.0.1:8081),
    /// like a hosts file: grants judge the URL asked for; repeatable.
    #[arg(long = "http-map", value_name = "ORIGIN=URL")]
    pub http_map: Vec<String>,
    /// The base URL of an LLM provider (openai, anthropic), e.g.
    /// openai=http://127.0.0.1:8080/v1; repeatable.
    #[arg(long = "llm-url", value_name = "PROVIDER=URL")]
    pub llm_url: Vec<String>,
    /// Where this node reads a secret binding's value: BINDING_ID=env:NAME or
    /// BINDING_ID=file:PATH; repeatable. Secrets are resolved only through these.
    #[arg(long = "secret", value_name = "BINDING_ID=SOURCE")]
    pub secret: Vec<String>,
    /// The shortest silence since the last input, in ms, that the world journals as a gap
    /// (catch-up) when it starts taking inputs; default 60000. Lower it for demos and tests.
    #[arg(long = "gap-min-ms", value_name = "MS")]
    pub gap_min_ms: Option<u64>,
}

/// Reads the adapter flags into the host's settings.
pub fn host_options(flags: &HostFlags) -> Result<HostOptions, Failure> {
    let mut options = HostOptions::default();
    for spec in &flags.http_map {
        let (origin, target) = spec
            .split_once('=')
            .ok_or_else(|| Failure::message(format!("--http-map {spec}: expected ORIGIN=URL")))?;
        options.http.origin_map.insert(
            origin.trim_end_matches('/').to_owned(),
            target.trim_end_matches('/').to_owned(),
        );
    }
    for spec in &flags.llm_url {
        let (provider, url) = spec
            .split_once('=')
            .filter(|(p, u)| {
                !p.is_empty() && (u.starts_with("http://") || u.starts_with("https://"))
            })
            .ok_or_else(|| Failure::message(format!("--llm-url {spec}: expected PROVIDER=URL")))?;
        let url = url.trim_end_matches('/').to_owned();
        options.llm.base_urls.insert(provider.to_owned(), url);
    }
    for spec in &flags.secret {
        let (binding, source) = spec
            .split_once('=')
            .filter(|(b, s)| !b.is_empty() && (s.starts_with("env:") || s.starts_with("file:")))
            .ok_or_else(|| {
                Failure::message(format!(
                    "--secret {spec}: expected BINDING_ID=env:NAME or BINDING_ID=file:PATH"
                ))
            })?;
        let (binding, source) = (binding.to_owned(), source.to_owned());
        options.secrets.bindings.insert(binding, source);
    }
    options.gap_ns_min = gap_ns_min(flags)?;
    Ok(options)
}

/// `--gap-min-ms` in ns, if given.
pub fn gap_ns_min(flags: &HostFlags) -> Result<Option<u64>, Failure> {
    flags
        .gap_min_ms
        .map(|ms| {
            ms.checked_mul(1_000_000)
                .ok_or_else(|| Failure::message(format!("--gap-min-ms {ms}: too large")))
        })
        .transpose()
}

/// Adapter failures as one-line messages, naming the world.
pub fn adapter(dir: &Path) -> impl Fn(AdapterError) -> Failure + '_ {
    move |error| match error {
        AdapterError::Kernel(error) => kernel(dir)(error),
        other => Failure::message(format!("{}: {other}", dir.display())),
    }
}

/// Runs a world's open effects until none is left or `timeout` passes; returns the world.
pub fn settle(
    world: World,
    options: HostOptions,
    timeout: Duration,
) -> Result<(World, Quiescence), Failure> {
    let dir = world.dir().to_path_buf();
    let mut host = Host::start(world, options).map_err(adapter(&dir))?;
    host.dispatch();
    let quiescence = host.run_until_quiescent(timeout).map_err(adapter(&dir))?;
    Ok((host.into_world(), quiescence))
}

/// `world run`: adapters and timers until SIGINT/SIGTERM; with `api`, the control API too.
pub fn run(
    dir: &Path,
    flags: &HostFlags,
    stop_after_ms: Option<u64>,
    api: Option<&crate::api::ApiConfig>,
) -> Result<(), Failure> {
    let listener = api.map(crate::api::bind).transpose()?;
    let world = World::open(dir).map_err(kernel(dir))?;
    let options = host_options(flags)?;
    let mut host = Host::start(world, options).map_err(adapter(dir))?;
    let serving = crate::api::serve(&host, dir, listener.zip(api))?;
    let url_file = match serving.bound {
        Some(bound) => {
            let url = crate::api::client_url(bound);
            outln!("listening on {url}");
            Some(crate::api::write_url_file(dir, &url)?)
        }
        None => None,
    };
    match &serving.socket {
        Ok(socket) => outln!("control socket {}", socket.display()),
        Err(why) => errln!(
            "note: no control socket ({why}); other commands on this world fail while it runs"
        ),
    }
    let open = host.world().open_intents().len();
    outln!(
        "running {} (did {}, head seq {}, {open} open intents); Ctrl-C to stop",
        dir.display(),
        host.world().did(),
        host.world().head().seq
    );
    let mut show = |note: &HostNote| outln!("{}", note_line(note));
    let ran = host
        .run(stop_after_ms.map(Duration::from_millis), &mut show)
        .map_err(adapter(dir));
    if let Some(file) = url_file {
        let _ = std::fs::remove_file(file);
    }
    if let Ok(socket) = &serving.socket {
        let _ = std::fs::remove_file(socket);
    }
    ran?;
    let mut world = host.into_world();
    // A clean shutdown signs the head, so everything this run journaled is in the lineage.
    let checkpoint = world.checkpoint().map_err(kernel(dir))?;
    if let Some(seq) = checkpoint {
        outln!("{seq:>6} checkpoint (clean shutdown)");
    }
    outln!(
        "stopped: head seq {}, {} intents still open",
        world.head().seq,
        world.open_intents().len()
    );
    Ok(())
}

/// One line per host event.
pub fn note_line(note: &HostNote) -> String {
    match note {
        HostNote::Resumed {
            seq,
            from_ns,
            to_ns,
            caused,
        } => format!(
            "{seq:>6} gap: resumed after {} s down ({caused} records caused)",
            to_ns.saturating_sub(*from_ns) / 1_000_000_000
        ),
        HostNote::AdapterRegistered { adapter_id, seq } => {
            format!("{seq:>6} adapter_key {adapter_id}")
        }
        HostNote::Dispatched { seq, kind } => format!("{seq:>6} dispatched {kind}"),
        HostNote::Receipt {
            seq,
            kind,
            status,
            caused,
        } => format!("{seq:>6} receipt {kind} {status} ({caused} records caused)"),
        HostNote::Refused {
            intent_hash,
            reason,
        } => format!("       refused a receipt for {intent_hash}: {reason}"),
        HostNote::Governed {
            kind,
            gov_seq,
            receipt_seq,
            status,
            error,
            caused,
        } => {
            let done = match (gov_seq, error) {
                (Some(gov), _) => format!("record {gov}, "),
                (None, Some(error)) => format!("refused: {error}; "),
                (None, None) => String::new(),
            };
            format!("{receipt_seq:>6} receipt {kind} {status} ({done}{caused} records caused)")
        }
        HostNote::Unsupported { seq, kind } => {
            format!("{seq:>6} no adapter for {kind}: the intent stays open")
        }
    }
}
