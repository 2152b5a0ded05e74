//! `openai-mock --port N [--key K]`: runs the mock OpenAI-compatible server standalone.

use std::process::ExitCode;

fn main() -> ExitCode {
    let mut port: u16 = 0;
    let mut key = String::from("sk-mock");
    let mut args = std::env::args().skip(1);
    while let Some(a) = args.next() {
        match a.as_str() {
            "--port" => match args.next().and_then(|p| p.parse().ok()) {
                Some(p) => port = p,
                None => {
                    eprintln!("openai-mock: --port needs a number");
                    return ExitCode::from(2);
                }
            },
            "--key" => match args.next() {
                Some(k) => key = k,
                None => {
                    eprintln!("openai-mock: --key needs a value");
                    return ExitCode::from(2);
                }
            },
            "-h" | "--help" => {
                println!(
                    "usage: openai-mock [--port N] [--key KEY]\n\nServes an OpenAI-compatible API on 127.0.0.1 that scores from the prompt."
                );
                return ExitCode::SUCCESS;
            }
            other => {
                eprintln!("openai-mock: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    match openai_mock::MockServer::start_on(&key, port) {
        Ok(server) => {
            println!("listening on {}", server.base_url());
            server.wait();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("openai-mock: cannot listen on 127.0.0.1:{port}: {e}");
            ExitCode::from(2)
        }
    }
}
