//! `world`: the Worldline command line (see the library crate for the commands).

fn main() {
    std::process::exit(worldline_cli::main());
}
